// Image decoding with sharp (libvips). Only decoding: resampling is PIL's, in resample.ts.
// Decoded pixels follow what the PyTorch pipelines see after PIL's `Image.open(p).convert("RGB")`:
// no EXIF auto-rotation, no colour management (embedded ICC profiles are ignored), alpha dropped
// (not composited), grey replicated to three channels.
import sharp, { type OutputInfo } from 'sharp';

/** 8-bit RGB, interleaved (HWC), rows top to bottom. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

export interface LoadOptions {
  /**
   * Apply the EXIF Orientation tag (default false: PIL's Image.open, and so every torchvision
   * pipeline, ignores it; the pretrained models saw unrotated pixels).
   */
  autoOrient?: boolean;
  /** Multi-page TIFF/GIF page to read (default 0, as PIL's first frame). */
  page?: number;
  /** Refuse images with more pixels than this (default 268,402,689, libvips' own guard). */
  maxPixels?: number;
}

export class ImageDecodeError extends Error {
  constructor(
    readonly source: string,
    reason: string,
  ) {
    super(`cannot read image ${source}: ${reason}`);
    this.name = 'ImageDecodeError';
  }
}

function describe(input: string | Uint8Array): string {
  return typeof input === 'string' ? input : `<buffer of ${input.byteLength} bytes>`;
}

/** Decodes JPEG, PNG, TIFF (8- or 16-bit; 16-bit is scaled to 8-bit), WebP, GIF into RGB. */
export async function loadImage(input: string | Uint8Array, opts: LoadOptions = {}): Promise<RgbImage> {
  const source = describe(input);
  let raw: { data: Buffer; info: OutputInfo };
  try {
    raw = await sharp(input, {
      autoOrient: opts.autoOrient ?? false,
      ignoreIcc: true,
      // Truncated or corrupt pixel data is an error, not a silently grey image.
      failOn: 'error',
      page: opts.page ?? 0,
      limitInputPixels: opts.maxPixels ?? true,
    })
      // Converts CMYK and 16-bit inputs to 8-bit sRGB; 8-bit RGB and grey pass through unchanged.
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    const reason = err instanceof Error ? err.message.trim().split('\n')[0] : String(err);
    throw new ImageDecodeError(source, reason ?? 'unknown error');
  }
  const { width, height, channels } = raw.info;
  // After the sRGB conversion: 3 channels, or 4 with alpha (1 or 2 are handled defensively).
  if (raw.data.byteLength !== width * height * channels)
    throw new ImageDecodeError(
      source,
      `unexpected ${raw.data.byteLength}-byte decode of ${width}×${height}×${channels}`,
    );
  return {
    width,
    height,
    data: toRgb(
      new Uint8Array(raw.data.buffer, raw.data.byteOffset, raw.data.byteLength),
      width * height,
      channels,
      source,
    ),
  };
}

function toRgb(src: Uint8Array, pixels: number, channels: number, source: string): Uint8Array {
  if (channels === 3) return src;
  const out = new Uint8Array(pixels * 3);
  if (channels === 1 || channels === 2) {
    for (let i = 0, p = 0; i < pixels; i++, p += channels) {
      const v = src[p]!;
      out[i * 3] = v;
      out[i * 3 + 1] = v;
      out[i * 3 + 2] = v;
    }
  } else if (channels === 4) {
    for (let i = 0; i < pixels; i++) {
      out[i * 3] = src[i * 4]!;
      out[i * 3 + 1] = src[i * 4 + 1]!;
      out[i * 3 + 2] = src[i * 4 + 2]!;
    }
  } else {
    throw new ImageDecodeError(source, `unsupported channel count ${channels}`);
  }
  return out;
}
