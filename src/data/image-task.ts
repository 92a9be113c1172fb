// One unit of the image loader's work — decode, transform and normalise a run of images into one
// packed NCHW buffer — shared by the worker threads and the in-process mode (workers: 0), so both
// give the same pixels. Augmentation draws from a generator keyed by (seed, epoch, dataset index):
// which worker gets an image, and in what order, never changes what it becomes.
import { Rng } from '../engine/init.ts';
import { loadImage } from './image.ts';
import { type PreprocessConfig, normalise, transformImage } from './preprocess.ts';

export interface ImageTask {
  id: number;
  epoch: number;
  /** Dataset indices, in batch order. */
  indices: number[];
  paths: string[];
}

export interface ImageTaskResult {
  id: number;
  /** Images that decoded, packed in order: ok.length × 3 × size × size floats. */
  pixels: Float32Array;
  /** Positions (into the task's indices) of the images in `pixels`. */
  ok: number[];
  failures: { position: number; reason: string }[];
}

export interface ImageTaskConfig {
  preprocess: PreprocessConfig;
  seed: number;
}

export function augmentationRng(seed: number, epoch: number, index: number): Rng {
  return new Rng(seed, `image-aug:${epoch}:${index}`);
}

export async function runImageTask(task: ImageTask, cfg: ImageTaskConfig): Promise<ImageTaskResult> {
  const { preprocess: pre } = cfg;
  const per = 3 * pre.size * pre.size;
  const pixels = new Float32Array(task.paths.length * per);
  const ok: number[] = [];
  const failures: ImageTaskResult['failures'] = [];
  for (let k = 0; k < task.paths.length; k++) {
    try {
      const image = await loadImage(task.paths[k]!);
      const rng = pre.crop === 'random' ? augmentationRng(cfg.seed, task.epoch, task.indices[k]!) : undefined;
      normalise(transformImage(image, pre, rng), pre.mean, pre.std, pixels, ok.length * per);
      ok.push(k);
    } catch (err) {
      failures.push({ position: k, reason: err instanceof Error ? err.message : String(err) });
    }
  }
  return {
    id: task.id,
    pixels: ok.length === task.paths.length ? pixels : pixels.slice(0, ok.length * per),
    ok,
    failures,
  };
}
