// Batches of model-ready patches from a slide, in order, with the next batches being prepared while
// the caller works on the current one (reading, decoding, resizing and normalising in worker threads,
// so the thread that runs ONNX Runtime never waits for pixels while there are cores to make them).
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type BatchTimings, prepareBatch, type PatchReadSpec } from './patch-batch.ts';
import type { BatchRequest, WorkerInit, WorkerReply } from './patch-worker.ts';
import { openSlide, SlideError, type SlideErrorKind } from './slide.ts';

export interface PatchReaderOptions {
  /** Worker threads; 0 prepares batches on the calling thread (still overlapped with the caller's awaits). */
  workers: number;
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

type Prepare = (id: number, coords: Int32Array) => Promise<Omit<PatchBatch, 'start' | 'coords'>>;

interface Backend {
  prepare: Prepare;
  close(): Promise<void>;
}

/** The worker entry beside this file: .ts from a source checkout, .js from the built package. */
function workerUrl(): URL {
  const ext = extname(fileURLToPath(import.meta.url));
  return new URL(`./patch-worker${ext}`, import.meta.url);
}

function spawn(init: WorkerInit): Worker {
  const url = workerUrl();
  if (!url.pathname.endsWith('.ts')) return new Worker(url, { workerData: init });
  // TypeScript sources need tsx inside the worker too, and neither `node --import tsx` (Node 20 does
  // not apply its hooks to workers) nor bin/kep.js's in-process register() reaches it: the worker
  // registers this package's own tsx first, whatever the current directory.
  const api = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); });`;
  return new Worker(boot, { eval: true, workerData: init });
}

function replyError(reply: Extract<WorkerReply, { type: 'error' }>): Error {
  if (reply.kind !== undefined && reply.path !== undefined && reply.reason !== undefined)
    return new SlideError(reply.path, reply.kind as SlideErrorKind, reply.reason);
  return new Error(reply.message);
}

function workerBackend(slidePath: string, spec: PatchReadSpec, count: number): Backend {
  const pending = new Map<
    number,
    { resolve: (r: Extract<WorkerReply, { type: 'batch' }>) => void; reject: (e: Error) => void }
  >();
  let failure: Error | undefined;
  const failAll = (err: Error): void => {
    failure ??= err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  const workers = Array.from({ length: count }, () => {
    const w = spawn({ slidePath, spec });
    w.on('message', (reply: WorkerReply) => {
      const p = pending.get(reply.id);
      if (!p) return;
      pending.delete(reply.id);
      if (reply.type === 'batch') p.resolve(reply);
      else p.reject(replyError(reply));
    });
    w.on('error', (err) => failAll(err instanceof Error ? err : new Error(String(err))));
    w.on('exit', (code) => {
      if (pending.size > 0)
        failAll(new Error(`patch reader worker exited (code ${code}) with batches outstanding`));
    });
    return w;
  });
  return {
    prepare(id, coords) {
      if (failure) return Promise.reject(failure);
      return new Promise((resolve, reject) => {
        pending.set(id, {
          resolve: (r) => resolve({ count: r.count, pixels: r.pixels, timings: r.timings }),
          reject,
        });
        const req: BatchRequest = { id, coords };
        workers[id % workers.length]!.postMessage(req);
      });
    },
    async close() {
      // Each worker closes its slide and exits; one that does not within a second is stopped.
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
    },
  };
}

async function inProcessBackend(slidePath: string, spec: PatchReadSpec): Promise<Backend> {
  const slide = await openSlide(slidePath);
  return {
    prepare: (_id, coords) => prepareBatch(slide, coords, spec),
    async close() {
      slide.close();
    },
  };
}

/**
 * Yields the patches at `coords` (row-major [N, 2], level 0) as batches in order. Stopping early
 * (break, or an error from the consumer) shuts the workers down.
 */
export async function* readPatchBatches(
  slidePath: string,
  coords: Int32Array,
  spec: PatchReadSpec,
  options: PatchReaderOptions,
): AsyncGenerator<PatchBatch> {
  if (coords.length % 2 !== 0) throw new RangeError('coords must hold x, y pairs');
  if (!Number.isInteger(options.batchSize) || options.batchSize < 1)
    throw new RangeError(`batch size must be a positive integer, got ${options.batchSize}`);
  const n = coords.length / 2;
  const batches = Math.ceil(n / options.batchSize);
  if (batches === 0) return;
  const workers = Math.max(0, Math.min(options.workers, batches));
  const prefetch = Math.max(1, options.prefetch ?? Math.max(2, 2 * workers));
  const backend =
    workers > 0 ? workerBackend(slidePath, spec, workers) : await inProcessBackend(slidePath, spec);
  const inFlight = new Map<number, Promise<Omit<PatchBatch, 'start' | 'coords'>>>();
  const slice = (b: number): Int32Array =>
    coords.slice(b * options.batchSize * 2, Math.min(n, (b + 1) * options.batchSize) * 2);
  let dispatched = 0;
  try {
    for (let b = 0; b < batches; b++) {
      while (dispatched < batches && dispatched <= b + prefetch) {
        const p = backend.prepare(dispatched, slice(dispatched));
        // A batch that fails while earlier ones are still being consumed is reported when reached.
        p.catch(() => {});
        inFlight.set(dispatched, p);
        dispatched++;
      }
      const ready = await inFlight.get(b)!;
      inFlight.delete(b);
      yield { start: b * options.batchSize, coords: slice(b), ...ready };
    }
  } finally {
    await backend.close();
  }
}
