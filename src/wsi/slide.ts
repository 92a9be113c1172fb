// The whole-slide reader interface: one `Slide` per open file, whatever the format behind it, and
// the helpers every reader shares. The readers (./openslide.ts, ./image-slide.ts) implement it;
// `openSlide`, which picks one, lives apart in ./open-slide.ts (as TRIDENT keeps its reader
// factory apart from the readers), so no reader imports the module that imports it.
import type { RgbImage } from '../data/image.ts';
import { SlideError } from './slide-error.ts';

export { SlideError, type SlideErrorKind } from './slide-error.ts';
export type { RgbImage } from '../data/image.ts';

/** 8-bit RGBA, straight (not premultiplied) alpha, interleaved, rows top to bottom. */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8Array;
}

export interface SlideLevel {
  readonly width: number;
  readonly height: number;
  /** Level-0 pixels per pixel of this level (OpenSlide's level_downsamples; not always an integer). */
  readonly downsample: number;
}

export type SlideReaderName = 'openslide' | 'image';

export interface Slide {
  readonly path: string;
  readonly reader: SlideReaderName;
  /** OpenSlide's vendor ('aperio', 'hamamatsu', 'mirax', 'generic-tiff', …) or the image format. */
  readonly vendor: string;
  /** Level 0 size. */
  readonly width: number;
  readonly height: number;
  /** Level 0 first; at least one. */
  readonly levels: readonly SlideLevel[];
  /** Microns per level-0 pixel (openslide.mpp-x / mpp-y), when the file states it. */
  readonly mpp: { readonly x: number; readonly y: number } | undefined;
  /** Scanning objective magnification (openslide.objective-power), when the file states it. */
  readonly objectivePower: number | undefined;
  /** Every property the reader reports (OpenSlide's property map; a few fields for plain images). */
  readonly properties: Readonly<Record<string, string>>;
  /** Names of the associated images (label, macro, thumbnail, …). */
  readonly associatedImages: readonly string[];
  /**
   * Reads a region as OpenSlide's Python `read_region` does: (x, y) is the top-left corner in
   * level-0 coordinates, (width, height) the size at `level`. Pixels outside the slide, and those
   * the scanner left empty, are transparent (alpha 0, and RGB 0 as OpenSlide returns them); partly
   * transparent pixels are un-premultiplied exactly as openslide-python does (255·c/a, truncated).
   * `into` (width·height·4 bytes, 4-byte aligned) is filled and returned instead of a new buffer.
   */
  readRegion(
    x: number,
    y: number,
    level: number,
    width: number,
    height: number,
    into?: Uint8Array,
  ): Promise<RgbaImage>;
  /** An associated image (RGBA, same conventions as readRegion). */
  readAssociatedImage(name: string): Promise<RgbaImage>;
  /** The level to read for a wanted downsample: the largest level whose downsample is ≤ it (OpenSlide's rule). */
  bestLevelForDownsample(downsample: number): number;
  /** Releases the file; reads still in flight finish first. Further calls throw a 'closed' SlideError. */
  close(): void;
}

/** The slide property under which a reader's note to the user travels (e.g. a sniffed format). */
export const NOTE_PROPERTY = 'kep.note';

/** A positive number from a property string (e.g. openslide.mpp-x), else undefined. */
export function parsePositive(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const v = Number(value);
  return Number.isFinite(v) && v > 0 ? v : undefined;
}

/** OpenSlide's openslide_get_best_level_for_downsample, for any list of levels. */
export function bestLevelForDownsample(levels: readonly SlideLevel[], downsample: number): number {
  if (!(downsample >= levels[0]!.downsample)) return 0;
  for (let i = 1; i < levels.length; i++) if (downsample < levels[i]!.downsample) return i - 1;
  return levels.length - 1;
}

/** Checks a region request (integers, non-negative size, level in range, bounded memory). */
export function checkRegionRequest(
  slide: Pick<Slide, 'path' | 'levels'>,
  x: number,
  y: number,
  level: number,
  width: number,
  height: number,
): void {
  const fail = (reason: string): never => {
    throw new SlideError(slide.path, 'bad-request', reason);
  };
  for (const [name, v] of [
    ['x', x],
    ['y', y],
    ['level', level],
    ['width', width],
    ['height', height],
  ] as const)
    if (!Number.isSafeInteger(v)) fail(`region ${name} must be an integer, got ${v}`);
  if (level < 0 || level >= slide.levels.length)
    fail(`level ${level} out of range (the slide has ${slide.levels.length})`);
  if (width < 0 || height < 0) fail(`negative region size ${width}×${height}`);
  if (width * height > MAX_REGION_PIXELS)
    fail(`region ${width}×${height} exceeds ${MAX_REGION_PIXELS} pixels; read it in tiles`);
}

/** 2²⁸ pixels = 1 GiB of RGBA: a region bigger than that is a mistake, not a patch. */
export const MAX_REGION_PIXELS = 2 ** 28;

/** A buffer for a width×height RGBA region: `into` when given (checked), else a new one. */
export function regionBuffer(path: string, width: number, height: number, into?: Uint8Array): Uint8Array {
  const bytes = width * height * 4;
  if (into === undefined) return new Uint8Array(bytes);
  if (into.byteLength !== bytes || into.byteOffset % 4 !== 0)
    throw new SlideError(
      path,
      'bad-request',
      `region buffer must be ${bytes} bytes at a 4-byte-aligned offset (got ${into.byteLength} at ${into.byteOffset})`,
    );
  return into;
}

/** What a model sees from a region: RGB; alpha is dropped as PIL's convert('RGB') does (CLAM, TRIDENT). */
export function rgbaToRgb(img: RgbaImage, background?: readonly [number, number, number]): RgbImage {
  const n = img.width * img.height;
  const out = new Uint8Array(n * 3);
  const src = img.data;
  if (background === undefined) {
    for (let i = 0, j = 0; i < n * 4; i += 4, j += 3) {
      out[j] = src[i]!;
      out[j + 1] = src[i + 1]!;
      out[j + 2] = src[i + 2]!;
    }
  } else {
    // PIL's paste of an RGBA tile onto a solid colour (openslide-python's get_thumbnail):
    // out = (c·a + bg·(255 − a)) / 255, rounded as PIL's blend does.
    const [br, bg, bb] = background;
    for (let i = 0, j = 0; i < n * 4; i += 4, j += 3) {
      const a = src[i + 3]!;
      if (a === 255) {
        out[j] = src[i]!;
        out[j + 1] = src[i + 1]!;
        out[j + 2] = src[i + 2]!;
      } else {
        out[j] = blend(src[i]!, br, a);
        out[j + 1] = blend(src[i + 1]!, bg, a);
        out[j + 2] = blend(src[i + 2]!, bb, a);
      }
    }
  }
  return { width: img.width, height: img.height, data: out };
}

function blend(c: number, bg: number, a: number): number {
  // PIL's paste with a mask: tmp = c·a + bg·(255 − a) + 128; out = (tmp + (tmp >> 8)) >> 8.
  const tmp = c * a + bg * (255 - a) + 128;
  return (tmp + (tmp >> 8)) >> 8;
}

/** Reads a region and drops alpha (see rgbaToRgb). */
export async function readRegionRgb(
  slide: Slide,
  x: number,
  y: number,
  level: number,
  width: number,
  height: number,
): Promise<RgbImage> {
  return rgbaToRgb(await slide.readRegion(x, y, level, width, height));
}
