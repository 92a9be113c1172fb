// S2's data stage: image–caption batches in a seeded order per epoch (a resumed run restarts its
// epoch at the right batch), the first one loadable ahead of time, and each batch tokenised and cut
// into micro-batches as ONNX Runtime feeds.
import { ort } from '../engine/runtime.ts';
import { type ImageLoader, type LoadedBatch, shuffledOrder } from '../data/image-loader.ts';
import type { PairSet } from '../data/pairs.ts';
import { INPUT_IDS, INPUT_MASK, INPUT_PIXELS } from '../models/factory.ts';
import type { BertTokenizer } from '../text/wordpiece.ts';

export class EpochBatches {
  private epochIter: { epoch: number; next: number; it: AsyncGenerator<LoadedBatch> } | undefined;
  private prefetched: { step: number; batch: LoadedBatch } | undefined;

  constructor(
    private readonly pairs: PairSet,
    readonly loader: ImageLoader,
    private readonly batch: number,
    private readonly seed: number,
    readonly stepsPerEpoch: number,
  ) {}

  async load(step: number): Promise<LoadedBatch> {
    if (this.prefetched?.step === step) {
      const { batch } = this.prefetched;
      this.prefetched = undefined;
      return batch;
    }
    const epoch = Math.floor(step / this.stepsPerEpoch);
    const index = step % this.stepsPerEpoch;
    if (!this.epochIter || this.epochIter.epoch !== epoch || this.epochIter.next !== index) {
      await this.epochIter?.it.return(undefined);
      const order = shuffledOrder(this.pairs.size, this.seed, epoch).subarray(
        index * this.batch,
        this.stepsPerEpoch * this.batch,
      );
      this.epochIter = { epoch, next: index, it: this.loader.batches({ epoch, order }) };
    }
    const r = await this.epochIter.it.next();
    this.epochIter.next++;
    if (r.done) throw new Error(`no batch for step ${step}`);
    return r.value;
  }

  /** Loads a step's batch now (so a data set whose every image is unusable fails early). */
  async prefetch(step: number): Promise<void> {
    this.prefetched = { step, batch: await this.load(step) };
  }

  async close(): Promise<void> {
    await this.epochIter?.it.return(undefined);
    await this.loader.close();
  }
}

export interface BatchPart {
  feeds: Record<string, ort.Tensor>;
  /** The rows of the whole batch this part holds. */
  rows: [number, number];
}

function rowsOf(data: Float32Array, rowSize: number, start: number, end: number): Float32Array {
  return data.subarray(start * rowSize, end * rowSize);
}

/** A loaded batch tokenised and cut into parts of `micro` rows (one part without micro-batching). */
export function batchParts(
  batch: LoadedBatch,
  pairs: PairSet,
  tokenizer: BertTokenizer,
  opts: { size: number; maxLength: number; micro: number },
): BatchPart[] {
  const n = batch.count;
  const tok = tokenizer.encodeBatch(
    batch.indices.map((i) => pairs.caption(i)),
    { maxLength: opts.maxLength, padding: 'longest', truncation: true },
  );
  const seq = tok.shape[1];
  const { size } = opts;
  const parts: BatchPart[] = [];
  for (let start = 0; start < n; start += opts.micro) {
    const end = Math.min(n, start + opts.micro);
    parts.push({
      feeds: {
        [INPUT_PIXELS]: new ort.Tensor('float32', rowsOf(batch.pixels, 3 * size * size, start, end), [
          end - start,
          3,
          size,
          size,
        ]),
        [INPUT_IDS]: new ort.Tensor('int64', tok.ids.subarray(start * seq, end * seq), [end - start, seq]),
        [INPUT_MASK]: new ort.Tensor('int64', tok.mask.subarray(start * seq, end * seq), [end - start, seq]),
      },
      rows: [start, end],
    });
  }
  return parts;
}

export { rowsOf };
