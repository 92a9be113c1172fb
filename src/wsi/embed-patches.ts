// Patch features for one slide: batches from the reader workers → the image tower → a sink (the
// features file). The model is passed in as an `embedImages` function with its preprocessing, so
// this layer needs nothing from src/embed and tests can use a small fake.
import { availableParallelism } from 'node:os';
import type { PreprocessConfig } from '../data/preprocess.ts';
import type { Progress } from '../util/progress.ts';
import { type PatchReaderPool, readPatchBatches } from './patch-reader.ts';

export interface PatchEmbedder {
  readonly preprocess: PreprocessConfig;
  readonly embedDim: number;
  /** NCHW float32 `count` images → [count, embedDim]. */
  embedImages(pixels: Float32Array, count: number): Promise<Float32Array>;
}

export interface EmbedPatchesOptions {
  slidePath: string;
  /** Row-major [N, 2] level-0 top-left corners. */
  coords: Int32Array;
  /** Level the patches are read at, their side there, and their side at the target magnification. */
  level: number;
  readSize: number;
  patchSize: number;
  embedder: PatchEmbedder;
  /** Receives the features in patch order, one batch at a time. */
  sink: (coords: Int32Array, features: Float32Array) => void;
  batchSize?: number;
  /** Reader worker threads (default: defaultReaderWorkers()), started for this slide alone. */
  workers?: number;
  /** A pool shared with other slides (a batch run); `workers` is then ignored. */
  pool?: PatchReaderPool;
  progress?: Progress;
}

export interface EmbedStats {
  patches: number;
  seconds: number;
  /** Summed over batches, in the workers (overlapping each other and inference). */
  readMs: number;
  resizeMs: number;
  normaliseMs: number;
  /** Image tower time on the main thread. */
  inferenceMs: number;
  /** Until the first batch arrived: worker start-up, opening the slide, the first batch's reads. */
  startupMs: number;
  /** Main-thread time spent waiting for later batches: where the reader holds inference back. */
  waitMs: number;
}

/** Leaves one core to ONNX Runtime; more than four readers rarely help (storage becomes the limit). */
export function defaultReaderWorkers(): number {
  return Math.max(1, Math.min(4, availableParallelism() - 1));
}

export async function embedSlidePatches(o: EmbedPatchesOptions): Promise<EmbedStats> {
  const stats: EmbedStats = {
    patches: 0,
    seconds: 0,
    readMs: 0,
    resizeMs: 0,
    normaliseMs: 0,
    inferenceMs: 0,
    startupMs: 0,
    waitMs: 0,
  };
  const started = performance.now();
  const dim = o.embedder.embedDim;
  const spec = {
    level: o.level,
    readSize: o.readSize,
    patchSize: o.patchSize,
    preprocess: o.embedder.preprocess,
  };
  const batchSize = o.batchSize ?? 32;
  const batches = o.pool
    ? o.pool.batches(o.slidePath, o.coords, spec, { batchSize })
    : readPatchBatches(o.slidePath, o.coords, spec, {
        workers: o.workers ?? defaultReaderWorkers(),
        batchSize,
      });
  let waitFrom = performance.now();
  for await (const batch of batches) {
    if (stats.patches === 0) stats.startupMs = performance.now() - waitFrom;
    else stats.waitMs += performance.now() - waitFrom;
    stats.readMs += batch.timings.readMs;
    stats.resizeMs += batch.timings.resizeMs;
    stats.normaliseMs += batch.timings.normaliseMs;
    const t = performance.now();
    const features = await o.embedder.embedImages(batch.pixels, batch.count);
    stats.inferenceMs += performance.now() - t;
    if (features.length !== batch.count * dim)
      throw new Error(
        `the model returned ${features.length} values for ${batch.count} patches of width ${dim}`,
      );
    o.sink(batch.coords, features);
    stats.patches += batch.count;
    o.progress?.increment(batch.count);
    waitFrom = performance.now();
  }
  stats.seconds = (performance.now() - started) / 1000;
  return stats;
}
