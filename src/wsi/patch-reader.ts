// Batches of model-ready patches from a slide, in order, with the next batches being prepared while
// the caller works on the current one (reading, decoding, resizing and normalising in worker threads,
// so the thread that runs ONNX Runtime never waits for pixels while there are cores to make them).
// A pool outlives one slide: a batch run starts its workers once, not once per slide.
import { availableParallelism } from 'node:os';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../util/worker.ts';
import { type BatchTimings, prepareBatch, type PatchReadSpec } from './patch-batch.ts';
import type { BatchRequest, WorkerReply } from './patch-worker.ts';
import { openSlide } from './open-slide.ts';
import { SlideError, type SlideErrorKind } from './slide.ts';

export interface PatchReaderOptions {
  batchSize: number;
  /** Batches prepared ahead of the one being consumed (default: 2 per worker, at least 2). */
  prefetch?: number;
}

export interface PatchBatch {
  /** Index of the batch's first patch. */
  start: number;
  count: number;
  /** Row-major [count, 2] level-0 coordinates of these patches. */
  coords: Int32Array;
  /** NCHW float32, count × 3 × size × size. */
  pixels: Float32Array;
  timings: BatchTimings;
}

type Prepared = Omit<PatchBatch, 'start' | 'coords'>;

/** The worker entry beside this file: .ts from a source checkout, .js from the built package. */
function workerUrl(): URL {
  const ext = extname(fileURLToPath(import.meta.url));
  return new URL(`./patch-worker${ext}`, import.meta.url);
}

function spawn(): Worker {
  return startWorker(workerUrl());
}

function replyError(reply: Extract<WorkerReply, { type: 'error' }>): Error {
  if (reply.kind !== undefined && reply.path !== undefined && reply.reason !== undefined)
    return new SlideError(reply.path, reply.kind as SlideErrorKind, reply.reason);
  return new Error(reply.message);
}

interface Pending {
  resolve: (r: Prepared) => void;
  reject: (e: Error) => void;
}

/**
 * Reader threads shared by every slide of a run. With 0 workers batches are prepared on the calling
 * thread (their reads still overlap the caller's awaits). Workers start on first use.
 */
export class PatchReaderPool {
  private workers: Worker[] | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private broken: Error | undefined;
  private inProcess: { path: string; slide: ReturnType<typeof openSlide> } | undefined;

  readonly size: number;

  /** `size` reader threads, at most one per core (more only add memory and switching). */
  constructor(size: number) {
    if (!Number.isInteger(size) || size < 0) throw new RangeError(`worker count must be ≥ 0, got ${size}`);
    this.size = Math.min(size, availableParallelism());
  }

  private failAll(err: Error): void {
    this.broken ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  private start(): Worker[] {
    if (this.workers) return this.workers;
    this.workers = Array.from({ length: this.size }, () => {
      const w = spawn();
      w.on('message', (reply: WorkerReply) => {
        const p = this.pending.get(reply.id);
        if (!p) return;
        this.pending.delete(reply.id);
        if (reply.type === 'batch')
          p.resolve({ count: reply.count, pixels: reply.pixels, timings: reply.timings });
        else p.reject(replyError(reply));
      });
      w.on('error', (err) => this.failAll(err instanceof Error ? err : new Error(String(err))));
      w.on('exit', (code) => {
        if (this.pending.size > 0)
          this.failAll(new Error(`patch reader worker exited (code ${code}) with batches outstanding`));
      });
      return w;
    });
    return this.workers;
  }

  private prepare(slidePath: string, spec: PatchReadSpec, coords: Int32Array): Promise<Prepared> {
    if (this.size === 0) {
      if (this.inProcess?.path !== slidePath) {
        void this.inProcess?.slide.then((s) => s.close()).catch(() => {});
        this.inProcess = { path: slidePath, slide: openSlide(slidePath) };
      }
      return this.inProcess.slide.then((s) => prepareBatch(s, coords, spec));
    }
    if (this.broken) return Promise.reject(this.broken);
    const workers = this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const req: BatchRequest = { id, slidePath, spec, coords };
      workers[id % workers.length]!.postMessage(req);
    });
  }

  /**
   * Yields the patches at `coords` (row-major [N, 2], level 0) as batches in order. Stopping early
   * (break, or an error from the consumer) leaves the pool usable; batches already requested are
   * prepared and dropped.
   */
  async *batches(
    slidePath: string,
    coords: Int32Array,
    spec: PatchReadSpec,
    options: PatchReaderOptions,
  ): AsyncGenerator<PatchBatch> {
    if (coords.length % 2 !== 0) throw new RangeError('coords must hold x, y pairs');
    const { batchSize } = options;
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new RangeError(`batch size must be a positive integer, got ${batchSize}`);
    const n = coords.length / 2;
    const count = Math.ceil(n / batchSize);
    const prefetch = Math.max(1, options.prefetch ?? Math.max(2, 2 * this.size));
    const slice = (b: number): Int32Array =>
      coords.slice(b * batchSize * 2, Math.min(n, (b + 1) * batchSize) * 2);
    const inFlight = new Map<number, Promise<Prepared>>();
    let dispatched = 0;
    for (let b = 0; b < count; b++) {
      while (dispatched < count && dispatched <= b + prefetch) {
        const p = this.prepare(slidePath, spec, slice(dispatched));
        // A batch that fails while earlier ones are still being consumed is reported when reached.
        p.catch(() => {});
        inFlight.set(dispatched, p);
        dispatched++;
      }
      const ready = await inFlight.get(b)!;
      inFlight.delete(b);
      yield { start: b * batchSize, coords: slice(b), ...ready };
    }
  }

  /** Closes the slides and stops the workers (one that does not exit within a second is terminated). */
  async close(): Promise<void> {
    const slide = this.inProcess?.slide;
    this.inProcess = undefined;
    await slide?.then((s) => s.close()).catch(() => {});
    const workers = this.workers ?? [];
    this.workers = undefined;
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => void w.terminate().then(() => resolve()), 1000);
            w.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            w.postMessage('close');
          }),
      ),
    );
  }
}

/** One slide's batches through a pool of its own (started and stopped around it). */
export async function* readPatchBatches(
  slidePath: string,
  coords: Int32Array,
  spec: PatchReadSpec,
  options: PatchReaderOptions & { workers: number },
): AsyncGenerator<PatchBatch> {
  const batches = Math.ceil(coords.length / 2 / options.batchSize);
  const pool = new PatchReaderPool(Math.max(0, Math.min(options.workers, batches)));
  try {
    yield* pool.batches(slidePath, coords, spec, options);
  } finally {
    await pool.close();
  }
}
