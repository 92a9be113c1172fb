// Plain images (PNG, JPEG, WebP, GIF, and TIFFs OpenSlide does not take) as single-level slides.
// The image is decoded once by sharp, with the same conventions as src/data/image.ts (no EXIF
// rotation, ICC profiles ignored, failOn 'error' so truncated files are errors), and kept in memory
// as RGBA: regions are then row copies, as cheap as a patch read can be.
import sharp, { type Metadata, type OutputInfo } from 'sharp';
import {
  bestLevelForDownsample,
  checkRegionRequest,
  regionBuffer,
  type RgbaImage,
  type Slide,
  type SlideLevel,
} from './slide.ts';
import { SlideError } from './slide-error.ts';

/** `extra` properties (e.g. a note that the format was sniffed) join the image's own. */
export async function openImageSlide(path: string, extra: Record<string, string> = {}): Promise<Slide> {
  let decoded: { data: Buffer; info: OutputInfo };
  let meta: Metadata;
  try {
    const image = sharp(path, {
      autoOrient: false,
      ignoreIcc: true,
      failOn: 'error',
      limitInputPixels: true,
    });
    meta = await image.metadata();
    decoded = await image.toColourspace('srgb').ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  } catch (err) {
    const reason = err instanceof Error ? (err.message.trim().split('\n')[0] ?? '') : String(err);
    const kind = /unsupported image format|Input file contains unsupported/i.test(reason)
      ? 'unsupported'
      : 'corrupt';
    throw new SlideError(path, kind, `cannot decode the image: ${reason}`);
  }
  const { width, height, channels } = decoded.info;
  if (channels !== 4 || decoded.data.byteLength !== width * height * 4)
    throw new SlideError(path, 'corrupt', `unexpected decode: ${width}×${height}×${channels}`);
  const properties: Record<string, string> = {
    'kep.image.format': meta.format ?? 'unknown',
    'kep.image.width': String(width),
    'kep.image.height': String(height),
    ...extra,
  };
  // OpenSlide's rule for generic TIFF: a resolution is a pixel size only when its unit is the
  // centimetre (inch-based densities are usually the 72 dpi default of whatever wrote the file).
  let mpp: { x: number; y: number } | undefined;
  if (
    meta.format === 'tiff' &&
    meta.resolutionUnit === 'cm' &&
    meta.density !== undefined &&
    meta.density > 0
  ) {
    const micronsPerPixel = 25400 / meta.density;
    mpp = { x: micronsPerPixel, y: micronsPerPixel };
    properties['openslide.mpp-x'] = String(micronsPerPixel);
    properties['openslide.mpp-y'] = String(micronsPerPixel);
  }
  const pixels = new Uint8Array(decoded.data.buffer, decoded.data.byteOffset, decoded.data.byteLength);
  return new ImageSlide(path, meta.format ?? 'image', width, height, pixels, mpp, properties);
}

class ImageSlide implements Slide {
  readonly reader = 'image' as const;
  readonly levels: readonly SlideLevel[];
  readonly objectivePower = undefined;
  readonly associatedImages: readonly string[] = [];
  readonly properties: Readonly<Record<string, string>>;
  private closed = false;

  constructor(
    readonly path: string,
    readonly vendor: string,
    readonly width: number,
    readonly height: number,
    private pixels: Uint8Array,
    readonly mpp: { readonly x: number; readonly y: number } | undefined,
    properties: Record<string, string>,
  ) {
    this.levels = [{ width, height, downsample: 1 }];
    this.properties = Object.freeze(properties);
  }

  bestLevelForDownsample(downsample: number): number {
    return bestLevelForDownsample(this.levels, downsample);
  }

  async readRegion(
    x: number,
    y: number,
    level: number,
    width: number,
    height: number,
    into?: Uint8Array,
  ): Promise<RgbaImage> {
    if (this.closed) throw new SlideError(this.path, 'closed', 'the slide was closed');
    checkRegionRequest(this, x, y, level, width, height);
    const data = regionBuffer(this.path, width, height, into);
    // Outside the image is transparent black, as OpenSlide returns it.
    const x0 = Math.max(0, x);
    const x1 = Math.min(this.width, x + width);
    const y0 = Math.max(0, y);
    const y1 = Math.min(this.height, y + height);
    if (x0 >= x1 || y0 >= y1) {
      data.fill(0);
      return { width, height, data };
    }
    if (x0 > x || x1 < x + width || y0 > y || y1 < y + height) data.fill(0);
    const rowBytes = (x1 - x0) * 4;
    for (let sy = y0; sy < y1; sy++) {
      const src = (sy * this.width + x0) * 4;
      data.set(this.pixels.subarray(src, src + rowBytes), ((sy - y) * width + (x0 - x)) * 4);
    }
    return { width, height, data };
  }

  async readAssociatedImage(name: string): Promise<RgbaImage> {
    throw new SlideError(this.path, 'bad-request', `no associated image '${name}' (plain images have none)`);
  }

  close(): void {
    this.closed = true;
    this.pixels = new Uint8Array(0);
  }
}
