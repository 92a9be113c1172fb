// One batch of patches from a slide to the model's input tensor: read each region, drop alpha,
// bring it to the target magnification's patch size, then the model's own preprocessing. Run inside
// the reader workers (patch-worker.ts), or in-process when no workers are wanted.
//
// MI-Zero / CLAM order: a patch is read as `readSize` pixels at `level` (e.g. 512 px at 40× level 0
// for a 256-px patch at 20× when the slide has no 20× level), resized to `patchSize` (bicubic, PIL's
// default for Image.resize), and only then given to the model's transform (256 → 224 for ViT-B/16).
import { normalise, transformImage, type PreprocessConfig } from '../data/preprocess.ts';
import { resize } from '../data/transforms.ts';
import { rgbaToRgb, type Slide } from './slide.ts';

export interface PatchReadSpec {
  /** Pyramid level the regions are read at. */
  level: number;
  /** Region side in pixels at `level`. */
  readSize: number;
  /** Side after resizing: the patch at the target magnification (what CLAM stores). */
  patchSize: number;
  /** The model's evaluation transform. */
  preprocess: PreprocessConfig;
}

export interface BatchTimings {
  /** Region reads, decoding included (OpenSlide decodes tiles inside its read call). */
  readMs: number;
  /** Alpha drop, resize to the patch size, the model's resize/crop. */
  resizeMs: number;
  /** ToTensor + Normalize into the batch buffer. */
  normaliseMs: number;
}

export interface PreparedBatch {
  count: number;
  /** NCHW float32, `count` × 3 × size × size. */
  pixels: Float32Array;
  timings: BatchTimings;
}

export async function prepareBatch(
  slide: Slide,
  coords: ArrayLike<number>,
  spec: PatchReadSpec,
): Promise<PreparedBatch> {
  if (coords.length % 2 !== 0) throw new RangeError('coords must hold x, y pairs');
  const count = coords.length / 2;
  const size = spec.preprocess.size;
  const per = 3 * size * size;
  const pixels = new Float32Array(count * per);
  const t0 = performance.now();
  const regions = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      slide.readRegion(coords[2 * i]!, coords[2 * i + 1]!, spec.level, spec.readSize, spec.readSize),
    ),
  );
  const t1 = performance.now();
  let resizeMs = 0;
  let normaliseMs = 0;
  for (let i = 0; i < count; i++) {
    const a = performance.now();
    let img = rgbaToRgb(regions[i]!);
    if (spec.readSize !== spec.patchSize) img = resize(img, spec.patchSize, spec.patchSize, 'bicubic');
    img = transformImage(img, spec.preprocess);
    const b = performance.now();
    normalise(img, spec.preprocess.mean, spec.preprocess.std, pixels, i * per);
    normaliseMs += performance.now() - b;
    resizeMs += b - a;
  }
  return { count, pixels, timings: { readMs: t1 - t0, resizeMs, normaliseMs } };
}
