// The whole-slide reader interface: one `Slide` per open file, whatever the format behind it.
// `openSlide` picks the reader (as TRIDENT does): OpenSlide for the formats it knows (Aperio SVS,
// Hamamatsu NDPI/VMS, MIRAX, Leica SCN, Ventana BIF, Philips TIFF, generic tiled TIFF, …), sharp for
// plain PNG/JPEG/TIFF images, which become single-level slides.
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import type { RgbImage } from '../data/image.ts';
import { openImageSlide } from './image-slide.ts';
import { detectOpenSlideVendor, openOpenSlide } from './openslide.ts';
import { SlideError } from './slide-error.ts';
import { tiffStructureProblem } from './tiff-check.ts';

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

export interface OpenSlideOptions {
  /** Force a reader instead of detecting one. */
  reader?: SlideReaderName;
}

/** Extensions read as plain images without asking OpenSlide (it does not read them). */
const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.webp', '.gif']);
/** TIFFs that OpenSlide does not recognise (untiled, no pyramid) are read as plain images. */
const TIFF_EXTENSIONS = new Set(['.tif', '.tiff']);

/** The slide property under which a reader's note to the user travels (e.g. a sniffed format). */
export const NOTE_PROPERTY = 'kep.note';

/** Plain-image formats known by their first bytes, whatever the file is called. */
export function sniffImageFormat(head: Uint8Array): 'png' | 'jpeg' | 'gif' | 'webp' | undefined {
  const ascii = (a: number, b: number): string => String.fromCharCode(...head.subarray(a, b));
  if (head.length >= 8 && head[0] === 0x89 && ascii(1, 4) === 'PNG' && head[4] === 0x0d) return 'png';
  if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'jpeg';
  if (head.length >= 6 && (ascii(0, 6) === 'GIF87a' || ascii(0, 6) === 'GIF89a')) return 'gif';
  if (head.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'webp';
  return undefined;
}

function fileHead(path: string, n: number): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const head = new Uint8Array(n);
    return head.subarray(0, readSync(fd, head, 0, n, 0));
  } finally {
    closeSync(fd);
  }
}

export async function openSlide(path: string, options: OpenSlideOptions = {}): Promise<Slide> {
  if (!existsSync(path)) throw new SlideError(path, 'not-found', 'no such file');
  if (!statSync(path).isFile()) throw new SlideError(path, 'not-found', 'not a regular file');
  const ext = extname(path).toLowerCase();
  const reader = options.reader ?? (IMAGE_EXTENSIONS.has(ext) ? 'image' : undefined);
  if (reader === 'image') return openImageSlide(path);
  if (reader === 'openslide') return openOpenSlide(path);
  // The content decides, not the name: a PNG or JPEG renamed .svs is read as what it is, and said so.
  let head: Uint8Array;
  try {
    head = fileHead(path, 16);
  } catch (err) {
    throw new SlideError(path, 'not-found', `cannot read: ${(err as Error).message}`);
  }
  const sniffed = sniffImageFormat(head);
  if (sniffed)
    return openImageSlide(path, {
      [NOTE_PROPERTY]: `the file is a ${sniffed.toUpperCase()} image despite its ${ext || 'missing'} extension; read as ${sniffed.toUpperCase()}`,
    });
  if (detectOpenSlideVendor(path) !== null) return openOpenSlide(path);
  const problem = tiffStructureProblem(path);
  if (problem !== undefined) throw new SlideError(path, 'corrupt', problem);
  if (TIFF_EXTENSIONS.has(ext)) return openImageSlide(path);
  throw new SlideError(
    path,
    'unsupported',
    'not a slide format OpenSlide recognises (Aperio .svs/.tif, Hamamatsu .ndpi/.vms/.vmu, MIRAX .mrxs, ' +
      'Leica .scn, Ventana .bif/.tif, Philips .tiff, Sakura .svslide, generic tiled TIFF) nor a plain ' +
      'PNG/JPEG/TIFF image',
  );
}

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
