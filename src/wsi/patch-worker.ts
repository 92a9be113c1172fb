// A patch-reader worker thread: opens the slide once, then turns batches of coordinates into model
// input tensors (patch-batch.ts) and hands them back as transferred buffers, so the main thread
// only feeds ONNX Runtime.
import { parentPort, workerData } from 'node:worker_threads';
import { prepareBatch, type PatchReadSpec } from './patch-batch.ts';
import { openSlide, SlideError, type Slide } from './slide.ts';

export interface WorkerInit {
  slidePath: string;
  spec: PatchReadSpec;
}

export interface BatchRequest {
  id: number;
  coords: Int32Array;
}

export type WorkerReply =
  | {
      type: 'batch';
      id: number;
      count: number;
      pixels: Float32Array;
      timings: import('./patch-batch.ts').BatchTimings;
    }
  | { type: 'error'; id: number; message: string; kind?: string; path?: string; reason?: string };

function errorReply(id: number, err: unknown): WorkerReply {
  if (err instanceof SlideError)
    return { type: 'error', id, message: err.message, kind: err.kind, path: err.path, reason: err.reason };
  return { type: 'error', id, message: err instanceof Error ? err.message : String(err) };
}

const port = parentPort;
if (!port) throw new Error('patch-worker.ts runs as a worker thread');
const init = workerData as WorkerInit;
let slide: Promise<Slide> | undefined;

port.on('message', (msg: BatchRequest | 'close') => {
  if (msg === 'close') {
    void (slide ?? Promise.resolve(undefined)).then((s) => s?.close()).finally(() => port.close());
    return;
  }
  slide ??= openSlide(init.slidePath);
  slide
    .then((s) => prepareBatch(s, msg.coords, init.spec))
    .then(
      (b) => {
        const reply: WorkerReply = {
          type: 'batch',
          id: msg.id,
          count: b.count,
          pixels: b.pixels,
          timings: b.timings,
        };
        port.postMessage(reply, [b.pixels.buffer as ArrayBuffer]);
      },
      (err: unknown) => port.postMessage(errorReply(msg.id, err)),
    );
});
