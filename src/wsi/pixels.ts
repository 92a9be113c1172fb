// OpenSlide hands out premultiplied ARGB as native-endian uint32s; everything downstream wants
// straight RGBA bytes. The conversion is openslide-python's (_convert.c argb2rgba), so pixels read
// here are byte-identical to Python's read_region.

/**
 * Converts premultiplied ARGB uint32s to straight RGBA bytes in place. Opaque pixels are
 * reordered; partly transparent ones un-premultiplied with C's truncating 255·c/a, stored to a
 * uint8 (so out-of-range values wrap as they do in C); fully transparent ones are left untouched,
 * as openslide-python leaves them (OpenSlide writes them as 0, so they read as RGBA 0,0,0,0).
 */
export function premultipliedArgbToRgba(bytes: Uint8Array): void {
  if (bytes.byteOffset % 4 !== 0 || bytes.byteLength % 4 !== 0)
    throw new Error('ARGB buffer must be 4-byte aligned and a whole number of pixels');
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  for (let i = 0, o = 0; i < words.length; i++, o += 4) {
    const v = words[i]!;
    const a = v >>> 24;
    if (a === 0) continue;
    let r = (v >>> 16) & 0xff;
    let g = (v >>> 8) & 0xff;
    let b = v & 0xff;
    if (a !== 255) {
      r = Math.floor((255 * r) / a) & 0xff;
      g = Math.floor((255 * g) / a) & 0xff;
      b = Math.floor((255 * b) / a) & 0xff;
    }
    bytes[o] = r;
    bytes[o + 1] = g;
    bytes[o + 2] = b;
    bytes[o + 3] = a;
  }
}
