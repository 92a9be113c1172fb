// A patch-reader worker thread: turns batches of coordinates into model input tensors
// (patch-batch.ts) and hands them back as transferred buffers, so the main thread only feeds ONNX
// Runtime. It keeps the slide it last read open, so a pool serves a whole batch run of slides.
import { parentPort } from 'node:worker_threads';
import { type BatchTimings, prepareBatch, type PatchReadSpec } from './patch-batch.ts';
import { openSlide } from './open-slide.ts';
import { SlideError, type Slide } from './slide.ts';

export interface BatchRequest {
  id: number;
  slidePath: string;
  spec: PatchReadSpec;
  coords: Int32Array;
}

export type WorkerReply =
  | { type: 'batch'; id: number; count: number; pixels: Float32Array; timings: BatchTimings }
  | { type: 'error'; id: number; message: string; kind?: string; path?: string; reason?: string };

function errorReply(id: number, err: unknown): WorkerReply {
  if (err instanceof SlideError)
    return { type: 'error', id, message: err.message, kind: err.kind, path: err.path, reason: err.reason };
  return { type: 'error', id, message: err instanceof Error ? err.message : String(err) };
}

const port = parentPort;
if (!port) throw new Error('patch-worker.ts runs as a worker thread');
let current: { path: string; slide: Promise<Slide> } | undefined;

function slideFor(path: string): Promise<Slide> {
  if (current?.path !== path) {
    const previous = current;
    // The previous slide closes once its reads in flight are done (Slide.close waits for them).
    void previous?.slide.then((s) => s.close()).catch(() => {});
    current = { path, slide: openSlide(path) };
  }
  return current.slide;
}

port.on('message', (msg: BatchRequest | 'close') => {
  if (msg === 'close') {
    void (current?.slide ?? Promise.resolve(undefined))
      .then((s) => s?.close())
      .catch(() => {})
      .finally(() => port.close());
    return;
  }
  slideFor(msg.slidePath)
    .then((s) => prepareBatch(s, msg.coords, msg.spec))
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
