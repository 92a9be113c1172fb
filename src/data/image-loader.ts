// Batches of preprocessed images for training and evaluation, decoded and transformed in worker
// threads so that the engine (ONNX Runtime, on the main thread's calls) is not kept waiting.
//
//   - Order: batches come out in the order asked for (dataset order, a seeded shuffle per epoch, or
//     the caller's own order), each `{ pixels (NCHW float32), count, indices }`.
//   - Prefetch: up to `prefetch` batches are loading while the consumer works on the current one.
//   - Augmentation: a random crop draws from a generator keyed by (seed, epoch, dataset index), so a
//     run is reproducible whatever the number of workers (see image-task.ts).
//   - Unreadable images (missing, truncated, not an image, too small to crop) are left out of their
//     batch, which then comes out smaller; `indices` says which images it holds. Topping the batch
//     up from later images would shift every later batch and make a run depend on which files
//     failed, so it is not done. Each unreadable image is recorded once (path + reason) and the
//     epoch goes on; a batch in which nothing was readable is not yielded at all.
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../util/worker.ts';
import { Rng } from '../engine/init.ts';
import type { PreprocessConfig } from './preprocess.ts';
import { type ImageTask, type ImageTaskConfig, type ImageTaskResult, runImageTask } from './image-task.ts';

/** Anything with indexed image paths: a PairSet, a labelled set adapter, a plain list. */
export interface ImageSource {
  readonly size: number;
  imagePath(i: number): string;
}

export interface UnreadableImage {
  index: number;
  path: string;
  reason: string;
}

export interface LoadedBatch {
  /** count × 3 × size × size floats. */
  pixels: Float32Array;
  count: number;
  /** Dataset index of each image in `pixels`. */
  indices: number[];
  /** How many images the batch asked for (count + the unreadable ones). */
  requested: number;
}

export interface ImageLoaderOptions {
  /** crop 'random' for training (needs pre-resized images at least `size` wide), 'center' for evaluation. */
  preprocess: PreprocessConfig;
  batchSize: number;
  /** Worker threads; 0 decodes on the main thread (debugging, tiny sets). Default min(cores, 4). */
  workers?: number;
  /** Batches loading ahead of the consumer (default 2). */
  prefetch?: number;
  /** Seed of the shuffles and of the augmentation. */
  seed?: number;
  /** Leave out a last batch smaller than batchSize (before unreadable images are removed). */
  dropLast?: boolean;
  /** Called once per unreadable image, when it is first met. */
  onUnreadable?: (u: UnreadableImage) => void;
}

export interface EpochOptions {
  epoch?: number;
  /** Dataset indices in the order to load them (default 0..size-1, or a shuffle). */
  order?: ArrayLike<number>;
  /** Shuffle 0..size-1 with a generator keyed by (seed, epoch). Ignored when `order` is given. */
  shuffle?: boolean;
}

export function defaultWorkerCount(): number {
  return Math.max(1, Math.min(availableParallelism(), 4));
}

/** Fisher–Yates with the loader's seeded generator. */
export function shuffledOrder(size: number, seed: number, epoch: number): Uint32Array {
  const order = new Uint32Array(size);
  for (let i = 0; i < size; i++) order[i] = i;
  const rng = new Rng(seed, `image-shuffle:${epoch}`);
  for (let i = size - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}

type Job = {
  task: ImageTask;
  iteration: number;
  resolve: (r: ImageTaskResult) => void;
  reject: (e: Error) => void;
};

class Cancelled extends Error {}

function spawnWorker(cfg: ImageTaskConfig): Worker {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return startWorker(new URL(`./image-loader.worker${ext}`, import.meta.url), {
    workerData: { imageLoader: cfg },
  });
}

class WorkerPool {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly running = new Map<Worker, Job>();
  private readonly queue: Job[] = [];
  private failure: Error | undefined;

  constructor(count: number, cfg: ImageTaskConfig) {
    for (let i = 0; i < count; i++) {
      const w = spawnWorker(cfg);
      w.on('message', (m: ImageTaskResult | { id: number; fatal: string }) => this.done(w, m));
      w.on('error', (e) => this.fail(new Error(`image loader worker failed: ${e.message}`)));
      w.on('exit', (code) => {
        if (code !== 0) this.fail(new Error(`image loader worker exited with code ${code}`));
      });
      w.unref();
      this.workers.push(w);
      this.idle.push(w);
    }
  }

  run(task: ImageTask, iteration: number): Promise<ImageTaskResult> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.queue.push({ task, iteration, resolve, reject });
      this.pump();
    });
  }

  /** Drops the queued (not yet started) jobs of one iteration, e.g. when its consumer stopped early. */
  cancel(iteration: number): void {
    for (let i = this.queue.length - 1; i >= 0; i--) {
      if (this.queue[i]!.iteration === iteration) this.queue.splice(i, 1)[0]!.reject(new Cancelled());
    }
  }

  private pump(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const w = this.idle.pop()!;
      const job = this.queue.shift()!;
      this.running.set(w, job);
      // A busy worker keeps the process alive; an idle one must not (a forgotten close() would hang).
      w.ref();
      w.postMessage(job.task);
    }
  }

  private done(w: Worker, m: ImageTaskResult | { id: number; fatal: string }): void {
    const job = this.running.get(w);
    this.running.delete(w);
    w.unref();
    this.idle.push(w);
    if (job) {
      if ('fatal' in m) job.reject(new Error(`image loader worker: ${m.fatal}`));
      else job.resolve(m);
    }
    this.pump();
  }

  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    for (const job of [...this.running.values(), ...this.queue.splice(0)]) job.reject(e);
    this.running.clear();
  }

  async close(): Promise<void> {
    for (const job of this.queue.splice(0)) job.reject(new Cancelled());
    this.failure ??= new Error('image loader closed');
    // terminate() settles on the workers' exit, and unref'd workers do not hold the event loop
    // open for it: a caller awaiting close() with nothing else pending saw the process end under
    // it (seen in `kep train vlp`). A ref'd timer keeps the process alive until the exits arrive.
    const alive = setInterval(() => {}, 1000);
    try {
      await Promise.all(this.workers.map((w) => w.terminate()));
    } finally {
      clearInterval(alive);
    }
  }
}

export class ImageLoader {
  private readonly source: ImageSource;
  private readonly opts: Required<Omit<ImageLoaderOptions, 'onUnreadable'>> &
    Pick<ImageLoaderOptions, 'onUnreadable'>;
  private pool: WorkerPool | undefined;
  private readonly bad = new Map<number, UnreadableImage>();
  private iterations = 0;
  private closed = false;

  constructor(source: ImageSource | readonly string[], opts: ImageLoaderOptions) {
    this.source = isSource(source) ? source : { size: source.length, imagePath: (i) => source[i]! };
    if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1)
      throw new RangeError(`batchSize must be a positive integer, got ${opts.batchSize}`);
    const workers = opts.workers ?? defaultWorkerCount();
    if (!Number.isInteger(workers) || workers < 0)
      throw new RangeError(`workers must be ≥ 0, got ${workers}`);
    const prefetch = opts.prefetch ?? 2;
    if (!Number.isInteger(prefetch) || prefetch < 1)
      throw new RangeError(`prefetch must be ≥ 1, got ${prefetch}`);
    this.opts = {
      preprocess: opts.preprocess,
      batchSize: opts.batchSize,
      // Never more threads than cores or than images: each worker holds its own decode buffers.
      workers: Math.min(workers, availableParallelism(), Math.max(1, this.source.size)),
      prefetch,
      seed: opts.seed ?? 0,
      dropLast: opts.dropLast ?? false,
      onUnreadable: opts.onUnreadable,
    };
  }

  get size(): number {
    return this.source.size;
  }

  /** Unreadable images met so far, by dataset index. */
  get unreadable(): UnreadableImage[] {
    return [...this.bad.values()].sort((a, b) => a.index - b.index);
  }

  /** The unreadable images as TSV (index, path, reason), for a report file. */
  unreadableReport(): string {
    const clean = (s: string): string => s.replace(/[\t\n\r]+/g, ' ');
    return [
      'index\tpath\treason\n',
      ...this.unreadable.map((u) => `${u.index}\t${clean(u.path)}\t${clean(u.reason)}\n`),
    ].join('');
  }

  /** Number of batches an epoch asks for (before empty ones are skipped). */
  batchCount(length = this.source.size): number {
    return this.opts.dropLast
      ? Math.floor(length / this.opts.batchSize)
      : Math.ceil(length / this.opts.batchSize);
  }

  async *batches(epochOpts: EpochOptions = {}): AsyncGenerator<LoadedBatch> {
    if (this.closed) throw new Error('image loader closed');
    const epoch = epochOpts.epoch ?? 0;
    const order =
      epochOpts.order ??
      (epochOpts.shuffle
        ? shuffledOrder(this.source.size, this.opts.seed, epoch)
        : identity(this.source.size));
    for (let i = 0; i < order.length; i++) {
      const v = order[i]!;
      if (!Number.isInteger(v) || v < 0 || v >= this.source.size)
        throw new RangeError(`order[${i}] = ${v} is not an index of this ${this.source.size}-image set`);
    }
    const iteration = ++this.iterations;
    const total = this.batchCount(order.length);
    const pending: Promise<LoadedBatch & { failed: UnreadableImage[] }>[] = [];
    let next = 0;
    const launch = (): void => {
      while (next < total && pending.length < this.opts.prefetch) {
        const p = this.load(order, next++, epoch, iteration);
        // Rejections are observed when the batch is awaited; this keeps a batch that fails while
        // an earlier one is still being consumed from counting as unhandled.
        p.catch(() => {});
        pending.push(p);
      }
    };
    try {
      launch();
      while (pending.length > 0) {
        const { failed, ...batch } = await pending.shift()!;
        launch();
        // Recorded here rather than when the batch finished loading, so that reports come in order.
        for (const u of failed) this.record(u);
        if (batch.count > 0) yield batch;
      }
    } finally {
      this.pool?.cancel(iteration);
    }
  }

  private async load(
    order: ArrayLike<number>,
    b: number,
    epoch: number,
    iteration: number,
  ): Promise<LoadedBatch & { failed: UnreadableImage[] }> {
    const { batchSize, workers, preprocess } = this.opts;
    const start = b * batchSize;
    const end = Math.min(order.length, start + batchSize);
    const indices: number[] = [];
    for (let i = start; i < end; i++) indices.push(order[i]!);
    const paths = indices.map((i) => this.source.imagePath(i));
    // Split across the workers so that one batch is not left to a single thread.
    const chunk = Math.max(1, Math.ceil(indices.length / Math.max(1, workers)));
    const tasks: ImageTask[] = [];
    for (let k = 0; k < indices.length; k += chunk)
      tasks.push({
        id: b * 1_000_000 + k,
        epoch,
        indices: indices.slice(k, k + chunk),
        paths: paths.slice(k, k + chunk),
      });
    const cfg: ImageTaskConfig = { preprocess, seed: this.opts.seed };
    const results =
      workers === 0
        ? await Promise.all(tasks.map((t) => runImageTask(t, cfg)))
        : await Promise.all(tasks.map((t) => this.workerPool().run(t, iteration)));
    const per = 3 * preprocess.size * preprocess.size;
    const count = results.reduce((n, r) => n + r.ok.length, 0);
    const pixels =
      results.length === 1 && results[0]!.ok.length === indices.length
        ? results[0]!.pixels
        : new Float32Array(count * per);
    const kept: number[] = [];
    const failed: UnreadableImage[] = [];
    results.forEach((r, t) => {
      const task = tasks[t]!;
      if (pixels !== r.pixels) pixels.set(r.pixels, kept.length * per);
      for (const k of r.ok) kept.push(task.indices[k]!);
      for (const f of r.failures)
        failed.push({ index: task.indices[f.position]!, path: task.paths[f.position]!, reason: f.reason });
    });
    return { pixels, count, indices: kept, requested: indices.length, failed };
  }

  private record(u: UnreadableImage): void {
    if (this.bad.has(u.index)) return;
    this.bad.set(u.index, u);
    this.opts.onUnreadable?.(u);
  }

  private workerPool(): WorkerPool {
    this.pool ??= new WorkerPool(this.opts.workers, {
      preprocess: this.opts.preprocess,
      seed: this.opts.seed,
    });
    return this.pool;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.pool?.close();
    this.pool = undefined;
  }
}

function isSource(s: ImageSource | readonly string[]): s is ImageSource {
  return !Array.isArray(s);
}

function identity(n: number): Uint32Array {
  const a = new Uint32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  return a;
}
