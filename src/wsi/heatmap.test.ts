import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadImage } from '../data/image.ts';
import { colormapTable, normaliseScores, percentileRanks, renderHeatmap, writePng } from './heatmap.ts';

function grey(width: number, height: number, v: number) {
  return { width, height, data: new Uint8Array(width * height * 3).fill(v) };
}

function pixel(img: { width: number; data: Uint8Array }, x: number, y: number): number[] {
  const i = (y * img.width + x) * 3;
  return [img.data[i]!, img.data[i + 1]!, img.data[i + 2]!];
}

test('percentile ranks follow scipy percentileofscore(kind="rank")', () => {
  // By hand: sorted 1, 2, 2, 3 → 1: (0 + 1 + 1)/2/4; 2: (1 + 3 + 1)/2/4; 3: (3 + 4 + 1)/2/4.
  assert.deepEqual(Array.from(percentileRanks([3, 1, 2, 2])), [1, 0.25, 0.625, 0.625]);
  assert.deepEqual(Array.from(percentileRanks([0.5])), [1]);
  assert.deepEqual(
    Array.from(normaliseScores([-1, 0, 0.25, 2], { kind: 'range', min: 0, max: 0.5 })),
    [0, 0, 0.5, 1],
  );
  assert.throws(() => normaliseScores([1], { kind: 'range', min: 1, max: 1 }), /max > min/);
});

test('colour maps: viridis and turbo end points', () => {
  const v = colormapTable('viridis');
  assert.deepEqual(Array.from(v.subarray(0, 3)), [0x44, 0x01, 0x54]);
  assert.deepEqual(Array.from(v.subarray(255 * 3)), [0xfd, 0xe7, 0x25]);
  assert.equal(colormapTable('turbo').length, 256 * 3);
});

test('heatmap colours each patch by its score and leaves the background alone', () => {
  // Slide 8×6 at level 0, thumbnail 4×3 (scale ½). Patches of 4 level-0 px cover 2×2 thumbnail px:
  // (0,0) → thumbnail x 0–1, y 0–1; (4,0) → x 2–3, y 0–1; row y=2 is background.
  const thumb = grey(4, 3, 100);
  const lut = colormapTable('viridis');
  const colour = (pos: number) => Array.from(lut.subarray(pos * 3, pos * 3 + 3));
  const opaque = renderHeatmap({
    thumbnail: thumb,
    slideWidth: 8,
    slideHeight: 6,
    coords: [0, 0, 4, 0],
    patchSizeLevel0: 4,
    values: [0.1, 0.9],
    alpha: 1,
  });
  // Percentile ranks 0.5 and 1 → table entries round(0.5 × 255) = 128 and 255.
  assert.deepEqual(pixel(opaque, 0, 0), colour(128));
  assert.deepEqual(pixel(opaque, 1, 1), colour(128));
  assert.deepEqual(pixel(opaque, 2, 0), colour(255));
  assert.deepEqual(pixel(opaque, 3, 1), colour(255));
  assert.deepEqual(pixel(opaque, 0, 2), [100, 100, 100]);
  assert.deepEqual(Array.from(thumb.data.subarray(0, 3)), [100, 100, 100], 'input untouched');

  const blended = renderHeatmap({
    thumbnail: thumb,
    slideWidth: 8,
    slideHeight: 6,
    coords: [4, 0],
    patchSizeLevel0: 4,
    values: [0.3],
    scale: { kind: 'range', min: 0, max: 1 },
    alpha: 0.25,
  });
  // 0.3 → entry round(0.3 × 255) = 77, blended ¼ colour + ¾ grey.
  const c = colour(77);
  assert.deepEqual(
    pixel(blended, 2, 0),
    c.map((v) => Math.round(0.25 * v + 0.75 * 100)),
  );
  assert.deepEqual(pixel(blended, 0, 0), [100, 100, 100]);
});

test('overlapping patches average their colour positions', () => {
  const img = renderHeatmap({
    thumbnail: grey(3, 1, 0),
    slideWidth: 3,
    slideHeight: 1,
    coords: [0, 0, 1, 0],
    patchSizeLevel0: 2,
    values: [0, 1],
    scale: { kind: 'range', min: 0, max: 1 },
    alpha: 1,
  });
  const lut = colormapTable('viridis');
  assert.deepEqual(pixel(img, 0, 0), Array.from(lut.subarray(0, 3)));
  assert.deepEqual(pixel(img, 1, 0), Array.from(lut.subarray(128 * 3, 128 * 3 + 3))); // (0 + 1) / 2
  assert.deepEqual(pixel(img, 2, 0), Array.from(lut.subarray(255 * 3)));
  assert.throws(
    () =>
      renderHeatmap({
        thumbnail: grey(1, 1, 0),
        slideWidth: 1,
        slideHeight: 1,
        coords: [0, 0],
        patchSizeLevel0: 1,
        values: [1, 2],
      }),
    /1 coordinates for 2 scores/,
  );
});

test('writePng writes a PNG that decodes to the same pixels', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kep-heatmap-'));
  const img = { width: 2, height: 1, data: Uint8Array.from([1, 2, 3, 250, 251, 252]) };
  const path = join(dir, 'sub', 'map.png');
  await writePng(path, img);
  const back = await loadImage(path);
  assert.deepEqual(back, img);
  // A palette PNG of an image with few colours keeps them exactly.
  await writePng(path, img, { palette: true });
  assert.deepEqual(await loadImage(path), img);
  assert.equal((await sharp(path).metadata()).isPalette, true);
});
