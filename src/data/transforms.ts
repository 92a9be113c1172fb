// torchvision's geometric transforms on PIL images (0.14 semantics), on 8-bit RGB images. The size
// and offset rules are torchvision's to the pixel: they decide which pixels a model sees.
import type { Rng } from '../engine/init.ts';
import type { RgbImage } from './image.ts';
import { type Interpolation, resample } from './resample.ts';

/** torchvision `Resize(size)` with an int: the shorter side becomes `size`, the other keeps the aspect. */
export function shortestSideSize(width: number, height: number, size: number): [number, number] {
  // torchvision: int(size * long / short), a truncation of a float division.
  if (width <= height) return [size, Math.trunc((size * height) / width)];
  return [Math.trunc((size * width) / height), size];
}

export function resize(img: RgbImage, width: number, height: number, interpolation: Interpolation): RgbImage {
  const out = resample({ ...img, channels: 3 }, width, height, interpolation);
  return { width: out.width, height: out.height, data: out.data };
}

/** Python's round(): halves go to the even neighbour. torchvision rounds crop offsets with it. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Crops a window that may reach outside the image; outside pixels are 0 (torchvision's padding). */
export function crop(img: RgbImage, top: number, left: number, height: number, width: number): RgbImage {
  const out = new Uint8Array(width * height * 3);
  const x0 = Math.max(0, -left);
  const x1 = Math.min(width, img.width - left);
  for (let y = 0; y < height; y++) {
    const sy = top + y;
    if (sy < 0 || sy >= img.height || x1 <= x0) continue;
    const src = (sy * img.width + left + x0) * 3;
    out.set(img.data.subarray(src, src + (x1 - x0) * 3), (y * width + x0) * 3);
  }
  return { width, height, data: out };
}

/** torchvision `CenterCrop(size)`, including its zero padding when the image is smaller. */
export function centerCrop(img: RgbImage, size: number): RgbImage {
  if (img.width === size && img.height === size) return img;
  let { width: w, height: h } = img;
  let padLeft = 0;
  let padTop = 0;
  if (size > w || size > h) {
    // torchvision pads first (floor of half the deficit on the left/top), then crops the padded image.
    if (size > w) [padLeft, w] = [Math.floor((size - w) / 2), Math.max(w, size)];
    if (size > h) [padTop, h] = [Math.floor((size - h) / 2), Math.max(h, size)];
  }
  const top = roundHalfEven((h - size) / 2) - padTop;
  const left = roundHalfEven((w - size) / 2) - padLeft;
  return crop(img, top, left, size, size);
}

/** torchvision `RandomCrop(size)` (no padding): top then left, uniform, from a seeded generator. */
export function randomCrop(img: RgbImage, size: number, rng: Rng): RgbImage {
  if (img.width < size || img.height < size)
    throw new RangeError(`random crop ${size}×${size} is larger than the image (${img.width}×${img.height})`);
  if (img.width === size && img.height === size) return img;
  const top = rng.int(img.height - size + 1);
  const left = rng.int(img.width - size + 1);
  return crop(img, top, left, size, size);
}
