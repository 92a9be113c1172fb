// P×K identity sampling for the knowledge encoder (kep-method.md §2): a batch holds P diseases × K
// texts, one contiguous group of K per disease, which is what AdaSP and the batch-hard triplet loss
// expect (positives are the texts of the same group, negatives every other group).
//
// Every batch is a pure function of (seed, epoch, batch index): the epoch's order of identities comes
// from a stream keyed by the epoch, and each group's texts from a stream keyed by (epoch, label). A
// run resumed from a checkpoint that stored {epoch, batch} therefore sees exactly the batches it
// would have seen, without replaying the ones before, and a group's content does not depend on which
// batch the identity landed in.
import { Rng } from '../engine/init.ts';
import type { Identity } from './samples.ts';

export interface PKOptions {
  /** Identities per batch (default 32). */
  p?: number;
  /** Texts per identity (default 8). */
  k?: number;
  seed: number;
  /** What happens to the identities left over at the end of an epoch (fewer than P):
   * 'drop' (default) leaves them out of this epoch — the next epoch's order is a different
   * permutation, so no identity is systematically skipped; 'fill' makes one more batch of them,
   * topped up with the first identities of the same epoch's order, which are distinct from them, so
   * no identity appears twice in a batch (a second group of the same disease would be a false
   * negative). */
  last?: 'drop' | 'fill';
}

export interface PKPosition {
  epoch: number;
  batch: number;
}

export interface PKBatch extends PKPosition {
  /** P·K texts; group g is texts[g·K .. g·K+K), its name (when the disease has one) at g·K. */
  texts: string[];
  /** The P identities' labels, in group order. */
  labels: string[];
}

export class PKSampler {
  readonly p: number;
  readonly k: number;
  readonly seed: number;
  readonly last: 'drop' | 'fill';
  private readonly identities: readonly Identity[];
  private cachedEpoch = -1;
  private cachedOrder: number[] = [];

  constructor(identities: readonly Identity[], options: PKOptions) {
    this.p = options.p ?? 32;
    this.k = options.k ?? 8;
    this.seed = options.seed;
    this.last = options.last ?? 'drop';
    if (!Number.isInteger(this.p) || this.p < 1)
      throw new RangeError(`P must be a positive integer, got ${this.p}`);
    if (!Number.isInteger(this.k) || this.k < 2)
      throw new RangeError(`K must be an integer ≥ 2, got ${this.k}`);
    if (identities.length < this.p)
      throw new RangeError(
        `P×K sampling needs at least P = ${this.p} identities (diseases), got ${identities.length}`,
      );
    for (const id of identities)
      if (id.name === undefined && id.texts.length === 0)
        throw new RangeError(`identity ${id.label} has no text`);
    this.identities = identities;
  }

  get batchesPerEpoch(): number {
    const n = this.identities.length;
    return this.last === 'drop' ? Math.floor(n / this.p) : Math.ceil(n / this.p);
  }

  /** The position after `position`, rolling over to the next epoch. */
  next(position: PKPosition): PKPosition {
    return position.batch + 1 < this.batchesPerEpoch
      ? { epoch: position.epoch, batch: position.batch + 1 }
      : { epoch: position.epoch + 1, batch: 0 };
  }

  /** The identities' order in an epoch (indices into the constructor's list). */
  order(epoch: number): readonly number[] {
    if (epoch !== this.cachedEpoch) {
      const order = Array.from({ length: this.identities.length }, (_, i) => i);
      this.cachedOrder = new Rng(this.seed, `pk-epoch:${epoch}`).shuffle(order);
      this.cachedEpoch = epoch;
    }
    return this.cachedOrder;
  }

  batch(epoch: number, index: number): PKBatch {
    if (!Number.isInteger(epoch) || epoch < 0) throw new RangeError(`epoch must be ≥ 0, got ${epoch}`);
    if (!Number.isInteger(index) || index < 0 || index >= this.batchesPerEpoch)
      throw new RangeError(`batch index must be in [0, ${this.batchesPerEpoch}), got ${index}`);
    const order = this.order(epoch);
    const picked = order.slice(index * this.p, index * this.p + this.p);
    for (let i = 0; picked.length < this.p; i++) picked.push(order[i]!);
    const texts: string[] = [];
    const labels: string[] = [];
    for (const i of picked) {
      const id = this.identities[i]!;
      labels.push(id.label);
      texts.push(...this.group(id, epoch));
    }
    return { epoch, batch: index, texts, labels };
  }

  /** Batches from `from` on, endlessly; the caller stops (by steps, epochs or time). */
  *batches(from: PKPosition = { epoch: 0, batch: 0 }): Generator<PKBatch> {
    for (let pos = from; ; pos = this.next(pos)) yield this.batch(pos.epoch, pos.batch);
  }

  /** K texts of one identity: its name first, then K−1 of its other texts. With at least K−1 they
   * are a shuffled sample without replacement; with fewer, all of them shuffled and topped up by
   * draws with replacement; with none, the name K times. Without a name, K texts by the same rule. */
  group(id: Identity, epoch: number): string[] {
    const rng = new Rng(this.seed, `pk-group:${epoch}:${id.label}`);
    const head = id.name === undefined ? [] : [id.name];
    const want = this.k - head.length;
    if (id.texts.length === 0) return Array.from({ length: this.k }, () => id.name!);
    const pool = rng.shuffle([...id.texts]);
    const picked = pool.slice(0, want);
    while (picked.length < want) picked.push(pool[rng.int(pool.length)]!);
    return [...head, ...picked];
  }
}
