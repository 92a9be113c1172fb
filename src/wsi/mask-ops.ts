// The raster steps of CLAM's tissue segmentation, with OpenCV's exact 8-bit semantics so that a
// mask made here equals the one CLAM's segmentTissue makes from the same image (checked against
// cv2 in segment.test.ts): cvtColor(RGB2HSV)'s saturation, medianBlur, threshold (fixed or Otsu),
// morphologyEx(MORPH_CLOSE) with a square kernel. Written here because these four operations are
// all that is needed; OpenCV's WebAssembly build (~10 MB) would be the only npm package with them.

/** HSV saturation as cv2.cvtColor(RGB2HSV) computes it for 8-bit images: round(255·(max−min)/max). */
export function saturation(rgb: Uint8Array, pixels: number): Uint8Array {
  const out = new Uint8Array(pixels);
  for (let i = 0, o = 0; i < pixels; i++, o += 3) {
    const r = rgb[o]!;
    const g = rgb[o + 1]!;
    const b = rgb[o + 2]!;
    const v = Math.max(r, g, b);
    const diff = v - Math.min(r, g, b);
    out[i] = (diff * SDIV[v]! + 2048) >> 12;
  }
  return out;
}

/** OpenCV's sdiv_table: round((255 << 12) / v), 0 for v = 0. */
const SDIV = Int32Array.from({ length: 256 }, (_, v) => (v === 0 ? 0 : Math.round((255 << 12) / v)));

/**
 * cv2.medianBlur for one 8-bit channel: the median of the k×k window (k odd), borders replicated.
 * Huang's sliding histogram: along each row, one column of the window leaves and one enters, and
 * the median is walked from its previous value, which neighbouring pixels rarely move far.
 */
export function medianBlur(src: Uint8Array, width: number, height: number, k: number): Uint8Array {
  if (!Number.isInteger(k) || k < 1 || k % 2 === 0)
    throw new RangeError(`median kernel must be odd, got ${k}`);
  const out = new Uint8Array(width * height);
  if (k === 1) {
    out.set(src);
    return out;
  }
  const r = (k - 1) / 2;
  const rank = (k * k - 1) / 2;
  const hist = new Int32Array(256);
  const clampX = (x: number): number => (x < 0 ? 0 : x >= width ? width - 1 : x);
  const rowsOf = new Int32Array(k);
  for (let y = 0; y < height; y++) {
    for (let j = 0; j < k; j++) {
      const yy = y - r + j;
      rowsOf[j] = (yy < 0 ? 0 : yy >= height ? height - 1 : yy) * width;
    }
    hist.fill(0);
    for (let dx = -r; dx <= r; dx++) {
      const x = clampX(dx);
      for (let j = 0; j < k; j++) hist[src[rowsOf[j]! + x]!]!++;
    }
    // med: the current median; below: how many window values are < med.
    let med = 0;
    let below = 0;
    while (below + hist[med]! <= rank) below += hist[med++]!;
    for (let x = 0; ; x++) {
      out[y * width + x] = med;
      if (x === width - 1) break;
      const leave = clampX(x - r);
      const enter = clampX(x + r + 1);
      if (leave !== enter)
        for (let j = 0; j < k; j++) {
          const a = src[rowsOf[j]! + leave]!;
          hist[a]!--;
          if (a < med) below--;
          const b = src[rowsOf[j]! + enter]!;
          hist[b]!++;
          if (b < med) below++;
        }
      while (below > rank) below -= hist[--med]!;
      while (below + hist[med]! <= rank) below += hist[med++]!;
    }
  }
  return out;
}

/** cv2.threshold(..., THRESH_OTSU)'s threshold for 8-bit data (getThreshVal_Otsu_8u, in doubles). */
export function otsuThreshold(src: Uint8Array): number {
  const hist = new Float64Array(256);
  for (let i = 0; i < src.length; i++) hist[src[i]!]!++;
  const scale = 1 / src.length;
  let mu = 0;
  for (let i = 0; i < 256; i++) mu += i * hist[i]!;
  mu *= scale;
  const FLT_EPSILON = 1.1920928955078125e-7;
  let mu1 = 0;
  let q1 = 0;
  let maxSigma = 0;
  let maxVal = 0;
  for (let i = 0; i < 256; i++) {
    const p = hist[i]! * scale;
    mu1 *= q1;
    q1 += p;
    const q2 = 1 - q1;
    if (Math.min(q1, q2) < FLT_EPSILON || Math.max(q1, q2) > 1 - FLT_EPSILON) continue;
    mu1 = (mu1 + i * p) / q1;
    const mu2 = (mu - q1 * mu1) / q2;
    const sigma = q1 * q2 * (mu1 - mu2) * (mu1 - mu2);
    if (sigma > maxSigma) {
      maxSigma = sigma;
      maxVal = i;
    }
  }
  return maxVal;
}

/** THRESH_BINARY as a 0/1 mask: value > threshold. */
export function binarise(src: Uint8Array, threshold: number): Uint8Array {
  const out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = src[i]! > threshold ? 1 : 0;
  return out;
}

/**
 * cv2.morphologyEx(mask, MORPH_CLOSE, np.ones((k, k))) for a 0/1 mask: dilate then erode with the
 * same k×k window, anchored at (k/2, k/2) as OpenCV's default anchor is (so for even k the window
 * is [−k/2, k/2 − 1] in both passes), pixels outside the image ignored (OpenCV's default border for
 * morphology). Separable, each pass a running count over the window.
 */
export function morphClose(mask: Uint8Array, width: number, height: number, k: number): Uint8Array {
  if (!Number.isInteger(k) || k < 0) throw new RangeError(`closing kernel must be a whole number, got ${k}`);
  if (k <= 1) return mask.slice();
  const lo = -Math.floor(k / 2);
  const hi = lo + k - 1;
  const dilated = windowPass(
    windowPass(mask, width, height, lo, hi, true, true),
    width,
    height,
    lo,
    hi,
    true,
    false,
  );
  return windowPass(
    windowPass(dilated, width, height, lo, hi, false, true),
    width,
    height,
    lo,
    hi,
    false,
    false,
  );
}

/**
 * One axis of a binary max (any) or min (all) filter over [lo, hi], clipped to the image: a pixel
 * is set when the window holds at least one set pixel (max) or only set pixels (min). Along y the
 * window's counts are kept per column and slid row by row, so memory is read in order.
 */
function windowPass(
  src: Uint8Array,
  width: number,
  height: number,
  lo: number,
  hi: number,
  max: boolean,
  alongX: boolean,
): Uint8Array {
  const out = new Uint8Array(src.length);
  const decide = (ones: number, size: number): number => (max ? (ones > 0 ? 1 : 0) : ones === size ? 1 : 0);
  if (alongX) {
    const prefix = new Int32Array(width + 1);
    for (let y = 0; y < height; y++) {
      const base = y * width;
      for (let i = 0; i < width; i++) prefix[i + 1] = prefix[i]! + src[base + i]!;
      for (let i = 0; i < width; i++) {
        const a = Math.max(0, i + lo);
        const b = Math.min(width - 1, i + hi);
        out[base + i] = decide(prefix[b + 1]! - prefix[a]!, b - a + 1);
      }
    }
    return out;
  }
  const counts = new Int32Array(width);
  let a = 0;
  let b = -1;
  for (let y = 0; y < height; y++) {
    const na = Math.max(0, y + lo);
    const nb = Math.min(height - 1, y + hi);
    while (b < nb) {
      b++;
      for (let x = 0, o = b * width; x < width; x++) counts[x] = counts[x]! + src[o + x]!;
    }
    while (a < na) {
      for (let x = 0, o = a * width; x < width; x++) counts[x] = counts[x]! - src[o + x]!;
      a++;
    }
    const size = nb - na + 1;
    for (let x = 0, o = y * width; x < width; x++) out[o + x] = decide(counts[x]!, size);
  }
  return out;
}
