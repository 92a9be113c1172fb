// Data-driven image preprocessing (the role of open_clip's / transformers.js' preprocessor configs):
// resize → crop → ToTensor → Normalize, producing CHW float32 planes ready for ort.Tensor.
import { z } from 'zod';
import type { Rng } from '../engine/init.ts';
import type { RgbImage } from './image.ts';
import { centerCrop, randomCrop, resize, shortestSideSize } from './transforms.ts';

const triple = z.tuple([z.number(), z.number(), z.number()]);

/**
 * The largest square side kep feeds a model. A batch holds 3·size²·4 bytes per image and a ViT's
 * attention grows with size⁴: 1024 px (a 64×64 token grid at patch 16) is far above every published
 * pathology model (224–448) and still fits a workstation; 100 000 px would ask for terabytes.
 */
export const MAX_IMAGE_SIZE = 1024;

export const preprocessConfigSchema = z
  .object({
    /** Output side in pixels (square). */
    size: z
      .number()
      .int()
      .positive()
      .max(MAX_IMAGE_SIZE, `at most ${MAX_IMAGE_SIZE} px (memory grows with the square of the side)`),
    /** 'shortest': torchvision Resize(size); 'exact': Resize((size, size)); 'none': keep. */
    resize: z.enum(['shortest', 'exact', 'none']),
    interpolation: z.enum(['bicubic', 'bilinear']),
    /** 'random' needs a generator (training); 'none' requires the resized image to be size × size. */
    crop: z.enum(['center', 'random', 'none']),
    mean: triple,
    std: triple.refine((s) => s.every((v) => v > 0), 'std must be positive'),
  })
  .strict();

export type PreprocessConfig = z.infer<typeof preprocessConfigSchema>;

/** OpenAI CLIP's statistics (CLIP ViT-B/32, BiomedCLIP, KEP's image towers). */
export const openaiClip: Readonly<PreprocessConfig> = Object.freeze<PreprocessConfig>({
  size: 224,
  resize: 'shortest',
  interpolation: 'bicubic',
  crop: 'center',
  mean: [0.48145466, 0.4578275, 0.40821073],
  std: [0.26862954, 0.26130258, 0.27577711],
});

/** ImageNet statistics (CTransPath at inference). */
export const imagenet: Readonly<PreprocessConfig> = Object.freeze<PreprocessConfig>({
  size: 224,
  resize: 'shortest',
  interpolation: 'bicubic',
  crop: 'center',
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
});

export const presets = { openaiClip, imagenet } as const;
export type PresetName = keyof typeof presets;

/** Validates a config (for example one read from a pretrained-weight config file). */
export function parsePreprocessConfig(value: unknown): PreprocessConfig {
  return preprocessConfigSchema.parse(value);
}

/** Resize and crop only: the exact uint8 pixels the model will see (before normalisation). */
export function transformImage(image: RgbImage, cfg: PreprocessConfig, rng?: Rng): RgbImage {
  let img = image;
  if (cfg.resize === 'shortest') {
    const [w, h] = shortestSideSize(img.width, img.height, cfg.size);
    img = resize(img, w, h, cfg.interpolation);
  } else if (cfg.resize === 'exact') {
    img = resize(img, cfg.size, cfg.size, cfg.interpolation);
  }
  if (cfg.crop === 'center') return centerCrop(img, cfg.size);
  if (cfg.crop === 'random') {
    if (!rng) throw new Error("crop 'random' needs a seeded generator (preprocess(image, cfg, rng))");
    return randomCrop(img, cfg.size, rng);
  }
  if (img.width !== cfg.size || img.height !== cfg.size)
    throw new RangeError(
      `crop 'none' needs a ${cfg.size}×${cfg.size} image after resizing, got ${img.width}×${img.height}`,
    );
  return img;
}

// ToTensor + Normalize in float32, as torch computes them (x/255, then (x - mean) / std, each step
// rounded to float32), tabulated: an 8-bit channel has only 256 possible outputs.
const tables = new Map<string, Float32Array>();
function normaliseTable(mean: readonly number[], std: readonly number[]): Float32Array {
  const key = `${mean.join(',')}/${std.join(',')}`;
  let t = tables.get(key);
  if (!t) {
    t = new Float32Array(3 * 256);
    for (let c = 0; c < 3; c++) {
      const m = Math.fround(mean[c]!);
      const s = Math.fround(std[c]!);
      for (let v = 0; v < 256; v++) t[c * 256 + v] = Math.fround(Math.fround(v / 255) - m) / s;
    }
    tables.set(key, t);
  }
  return t;
}

/** HWC uint8 → CHW float32 normalised, written into `out` at `offset` (floats). */
export function normalise(
  img: RgbImage,
  mean: readonly number[],
  std: readonly number[],
  out = new Float32Array(3 * img.width * img.height),
  offset = 0,
): Float32Array {
  const table = normaliseTable(mean, std);
  const plane = img.width * img.height;
  if (out.length < offset + 3 * plane) throw new RangeError('output buffer too small');
  const src = img.data;
  for (let c = 0; c < 3; c++) {
    const base = offset + c * plane;
    const tc = c * 256;
    for (let i = 0; i < plane; i++) out[base + i] = table[tc + src[i * 3 + c]!]!;
  }
  return out;
}

/** One image → CHW float32 (3 × size × size). */
export function preprocess(image: RgbImage, cfg: PreprocessConfig, rng?: Rng): Float32Array {
  return normalise(transformImage(image, cfg, rng), cfg.mean, cfg.std);
}

export interface ImageBatch {
  /** NCHW, ready for `new ort.Tensor('float32', data, shape)`. */
  data: Float32Array;
  shape: [number, 3, number, number];
}

/** Preprocesses images into one NCHW buffer (one allocation; images are processed one at a time). */
export function batchImages(items: readonly RgbImage[], cfg: PreprocessConfig, rng?: Rng): ImageBatch {
  const per = 3 * cfg.size * cfg.size;
  const data = new Float32Array(items.length * per);
  items.forEach((item, i) => normalise(transformImage(item, cfg, rng), cfg.mean, cfg.std, data, i * per));
  return { data, shape: [items.length, 3, cfg.size, cfg.size] };
}
