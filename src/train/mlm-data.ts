// Data of masked-language-model pre-training: tokenised paragraphs packed into full-length
// sequences, and BERT's whole-word masking, drawn afresh for every step (dynamic masking) from a
// seed and the step, so a resumed run masks exactly as the interrupted one would have.
import { Rng } from '../engine/init.ts';
import { ort } from '../engine/runtime.ts';

export interface TokenRoles {
  cls: number;
  sep: number;
  pad: number;
  mask: number;
  /** Ids never masked nor drawn as random replacements ([CLS], [SEP], [PAD], [UNK], [MASK]…). */
  special: ReadonlySet<number>;
  /** 1 where the token continues a word ("##" pieces). */
  continuation: Uint8Array;
  vocabSize: number;
}

export interface PackedSequences {
  /** Row-major [count, length], padded with [PAD]: the last row, and a row whose remaining slots
   * were fewer than the next word's pieces. */
  tokens: Int32Array;
  count: number;
  length: number;
  /** Tokens that are not [PAD], special tokens included. */
  used: number;
}

/**
 * Packs paragraphs into sequences `[CLS] p1 [SEP] p2 [SEP] …` of exactly `length` tokens, in order
 * (RoBERTa's "full sentences"): a paragraph that does not fit is cut at a word start, ends this
 * sequence with [SEP] and continues in the next, so no padding is wasted and no word is split
 * across two sequences (whole-word masking needs whole words). A single word longer than a
 * sequence is cut where it must be.
 */
export function packSequences(
  paragraphs: Iterable<ArrayLike<number>>,
  length: number,
  roles: Pick<TokenRoles, 'cls' | 'sep' | 'pad' | 'continuation'>,
): PackedSequences {
  if (!Number.isInteger(length) || length < 4) throw new RangeError(`sequence length ${length} is below 4`);
  const rows: Int32Array[] = [];
  let cur: number[] = [roles.cls];
  let used = 0;
  const flush = (): void => {
    const row = new Int32Array(length).fill(roles.pad);
    row.set(cur);
    used += cur.length;
    rows.push(row);
    cur = [roles.cls];
  };
  for (const para of paragraphs) {
    let rest = Array.from(para);
    while (rest.length > 0) {
      const room = length - cur.length - 1; // one slot kept for the closing [SEP]
      if (rest.length <= room) {
        cur.push(...rest, roles.sep);
        rest = [];
        if (cur.length >= length - 1) flush();
        continue;
      }
      let cut = room;
      while (cut > 0 && roles.continuation[rest[cut]!]) cut--;
      if (cut === 0 && cur.length > 1) {
        flush(); // the next word does not fit here; start it in a fresh sequence
        continue;
      }
      if (cut === 0) cut = room;
      cur.push(...rest.slice(0, cut), roles.sep);
      rest = rest.slice(cut);
      flush();
    }
  }
  if (cur.length > 1) flush();
  const tokens = new Int32Array(rows.length * length);
  rows.forEach((r, i) => tokens.set(r, i * length));
  return { tokens, count: rows.length, length, used };
}

export interface MaskingOptions {
  /** Share of a sequence's (non-special) tokens to predict (BERT: 0.15). */
  probability: number;
  /** At most this many predictions per sequence (BERT: 20 at length 128). */
  maxPredictions: number;
}

export interface MaskedSequence {
  ids: Int32Array;
  /** Positions to predict, ascending. */
  positions: number[];
  /** The original tokens at those positions. */
  labels: number[];
}

/** Words of a sequence as lists of positions: a word is a token and the "##" pieces after it. */
export function wordsOf(
  tokens: ArrayLike<number>,
  roles: Pick<TokenRoles, 'special' | 'continuation'>,
): number[][] {
  const words: number[][] = [];
  let last: number[] | undefined;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (roles.special.has(t)) {
      last = undefined;
      continue;
    }
    if (roles.continuation[t] && last) last.push(i);
    else words.push((last = [i]));
  }
  return words;
}

/**
 * Whole-word masking as Google's BERT (create_pretraining_data.py): n = round(p·tokens) predictions
 * (at least 1, at most maxPredictions); words are taken in random order, each whole or not at all;
 * each chosen token becomes [MASK] (80 %), a random non-special token (10 %) or stays (10 %).
 */
export function maskWholeWords(
  tokens: ArrayLike<number>,
  roles: TokenRoles,
  opts: MaskingOptions,
  rng: Rng,
  replacements: Int32Array,
): MaskedSequence {
  const ids = Int32Array.from(tokens);
  const words = wordsOf(tokens, roles);
  const count = words.reduce((s, w) => s + w.length, 0);
  if (count === 0) return { ids, positions: [], labels: [] };
  const target = Math.min(opts.maxPredictions, Math.max(1, Math.round(count * opts.probability)));
  for (let i = words.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [words[i], words[j]] = [words[j]!, words[i]!];
  }
  const chosen: number[] = [];
  for (const w of words) {
    if (chosen.length >= target) break;
    if (chosen.length + w.length > target) continue;
    chosen.push(...w);
  }
  chosen.sort((a, b) => a - b);
  const labels = chosen.map((p) => ids[p]!);
  for (const p of chosen) {
    if (rng.next() < 0.8) ids[p] = roles.mask;
    else if (rng.next() >= 0.5) ids[p] = replacements[rng.int(replacements.length)]!;
  }
  return { ids, positions: chosen, labels };
}

/** Token ids a random replacement may take: every id that is not special. */
export function replacementIds(roles: Pick<TokenRoles, 'special' | 'vocabSize'>): Int32Array {
  const out: number[] = [];
  for (let i = 0; i < roles.vocabSize; i++) if (!roles.special.has(i)) out.push(i);
  return Int32Array.from(out);
}

export interface MlmBatch {
  feeds: { ids: ort.Tensor; mask: ort.Tensor; positions: ort.Tensor; labels: ort.Tensor };
  /** Masked positions in the batch. */
  predictions: number;
}

/** Rows `rows` of `packed`, masked with the random stream `rng`, as feeds of the MLM graph. */
export function mlmBatch(
  packed: PackedSequences,
  rows: readonly number[],
  roles: TokenRoles,
  opts: MaskingOptions,
  rng: Rng,
  replacements: Int32Array,
): MlmBatch {
  const L = packed.length;
  const ids = new BigInt64Array(rows.length * L);
  const mask = new BigInt64Array(rows.length * L);
  const positions: bigint[] = [];
  const labels: bigint[] = [];
  rows.forEach((r, b) => {
    const row = packed.tokens.subarray(r * L, (r + 1) * L);
    const m = maskWholeWords(row, roles, opts, rng, replacements);
    for (let i = 0; i < L; i++) {
      ids[b * L + i] = BigInt(m.ids[i]!);
      mask[b * L + i] = row[i] === roles.pad ? 0n : 1n;
    }
    m.positions.forEach((p, k) => {
      positions.push(BigInt(b * L + p));
      labels.push(BigInt(m.labels[k]!));
    });
  });
  const shape = [rows.length, L];
  return {
    feeds: {
      ids: new ort.Tensor('int64', ids, shape),
      mask: new ort.Tensor('int64', mask, shape),
      positions: new ort.Tensor('int64', BigInt64Array.from(positions), [positions.length]),
      labels: new ort.Tensor('int64', BigInt64Array.from(labels), [labels.length]),
    },
    predictions: positions.length,
  };
}

/** The sequences of step `step`: a fresh seeded permutation per epoch, batches taken in order. */
export class SequenceOrder {
  private epoch = -1;
  private perm = new Int32Array(0);
  constructor(
    readonly count: number,
    readonly batchSize: number,
    readonly seed: number,
  ) {
    if (count < 1) throw new RangeError('no training sequences');
  }

  get stepsPerEpoch(): number {
    return Math.max(1, Math.floor(this.count / this.batchSize));
  }

  rows(step: number): number[] {
    const epoch = Math.floor(step / this.stepsPerEpoch);
    if (epoch !== this.epoch) {
      const rng = new Rng(this.seed, `mlm-order-${epoch}`);
      this.perm = Int32Array.from({ length: this.count }, (_, i) => i);
      for (let i = this.count - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [this.perm[i], this.perm[j]] = [this.perm[j]!, this.perm[i]!];
      }
      this.epoch = epoch;
    }
    const start = (step % this.stepsPerEpoch) * this.batchSize;
    return Array.from({ length: this.batchSize }, (_, k) => this.perm[(start + k) % this.count]!);
  }
}
