// The image loader's worker thread: receives tasks, answers with packed pixels (transferred, not
// copied). The configuration arrives once, as workerData.
import { parentPort, workerData } from 'node:worker_threads';
import { type ImageTask, type ImageTaskConfig, runImageTask } from './image-task.ts';

const port = parentPort;
if (!port) throw new Error('image-loader.worker.ts runs only as a worker thread');
const cfg = (workerData as { imageLoader: ImageTaskConfig }).imageLoader;

port.on('message', (task: ImageTask) => {
  runImageTask(task, cfg).then(
    (result) => port.postMessage(result, [result.pixels.buffer as ArrayBuffer]),
    // runImageTask catches per-image errors itself; anything here is a fault of the worker.
    (err: unknown) =>
      port.postMessage({ id: task.id, fatal: err instanceof Error ? err.message : String(err) }),
  );
});
