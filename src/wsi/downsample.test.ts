import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import sharp from 'sharp';
import { readDownsampled, slideBackground, thumbnail } from './downsample.ts';
import { openSlide } from './open-slide.ts';
import { tempDir } from './testing.ts';

/** Exact area average by brute force: each source pixel split over the output pixels it overlaps. */
function naive(src: Uint8Array, sw: number, sh: number, dw: number, dh: number): number[] {
  const sums = new Float64Array(dw * dh * 3);
  const weights = new Float64Array(dw * dh);
  const fx = dw / sw;
  const fy = dh / sh;
  for (let y = 0; y < sh; y++)
    for (let x = 0; x < sw; x++)
      for (let oy = 0; oy < dh; oy++)
        for (let ox = 0; ox < dw; ox++) {
          const wx = Math.max(0, Math.min((x + 1) * fx, ox + 1) - Math.max(x * fx, ox));
          const wy = Math.max(0, Math.min((y + 1) * fy, oy + 1) - Math.max(y * fy, oy));
          const w = wx * wy;
          if (w === 0) continue;
          for (let c = 0; c < 3; c++) {
            const k = (oy * dw + ox) * 3 + c;
            sums[k] = sums[k]! + w * src[(y * sw + x) * 3 + c]!;
          }
          weights[oy * dw + ox] = weights[oy * dw + ox]! + w;
        }
  return Array.from({ length: dw * dh * 3 }, (_, i) => Math.round(sums[i]! / weights[Math.floor(i / 3)]!));
}

test('readDownsampled is an exact area average, the same read whole or in bands', async () => {
  const tmp = tempDir('downsample');
  try {
    const sw = 37;
    const sh = 23;
    const rgb = Uint8Array.from({ length: sw * sh * 3 }, (_, i) => (i * 97 + (i % 7) * 31) % 256);
    const path = join(tmp.dir, 'img.png');
    await sharp(rgb, { raw: { width: sw, height: sh, channels: 3 } })
      .png()
      .toFile(path);
    const slide = await openSlide(path);
    for (const [dw, dh] of [
      [10, 6],
      [37, 23],
      [5, 17],
      [1, 1],
    ] as const) {
      const whole = await readDownsampled(slide, dw, dh);
      assert.deepEqual([...whole.image.data], naive(rgb, sw, sh, dw, dh), `${dw}×${dh}`);
      assert.equal(whole.scaleX, sw / dw);
      const banded = await readDownsampled(slide, dw, dh, { bandPixels: sw * 2 });
      assert.deepEqual(banded.image.data, whole.image.data, `${dw}×${dh} in bands`);
    }
    const t = await thumbnail(slide, 10);
    assert.deepEqual([t.image.width, t.image.height], [10, 6]);
    const big = await thumbnail(slide, 1000);
    assert.deepEqual([big.image.width, big.image.height], [sw, sh], 'never enlarged');
    assert.deepEqual(slideBackground(slide), [255, 255, 255]);
    slide.close();
  } finally {
    tmp.remove();
  }
});

test('transparent pixels are composited onto the background', async () => {
  const tmp = tempDir('alpha');
  try {
    const rgba = new Uint8Array([10, 20, 30, 0, 10, 20, 30, 0, 10, 20, 30, 255, 10, 20, 30, 255]);
    const path = join(tmp.dir, 'a.png');
    await sharp(rgba, { raw: { width: 2, height: 2, channels: 4 } })
      .png()
      .toFile(path);
    const slide = await openSlide(path);
    const v = await readDownsampled(slide, 1, 1, { background: [250, 250, 250] });
    assert.deepEqual([...v.image.data], [130, 135, 140]);
    slide.close();
  } finally {
    tmp.remove();
  }
});
