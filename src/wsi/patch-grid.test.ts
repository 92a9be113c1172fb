import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import sharp from 'sharp';
import { renderOverview, writeOverview } from './overview.ts';
import { level0Magnification, MaskCoverage, patchGrid, patchGridJson, readPlan } from './patch-grid.ts';
import { segmentImage, segmentTissue, type TissueSegmentation } from './segment.ts';
import { openSlide } from './open-slide.ts';
import { type Slide, SlideError } from './slide.ts';
import { blobImage, CMU_SLIDE, NEEDS_SHARED_SLIDES, TCGA_SLIDE, tempDir, writePng } from './testing.ts';

const slideLike = (
  mpp: number | undefined,
  objectivePower: number | undefined,
): Pick<Slide, 'path' | 'mpp' | 'objectivePower'> => ({
  path: 's.svs',
  mpp: mpp === undefined ? undefined : { x: mpp, y: mpp },
  objectivePower,
});

test('level-0 magnification: option, stated µm/px (snapped to objectives within 10 %), objective power, assumed', () => {
  assert.equal(level0Magnification(slideLike(0.499, 20)).magnification, 20);
  assert.equal(level0Magnification(slideLike(0.2527, undefined)).magnification, 40);
  assert.equal(level0Magnification(slideLike(0.2527, undefined)).source, 'mpp');
  assert.ok(Math.abs(level0Magnification(slideLike(0.34, undefined)).magnification - 10 / 0.34) < 1e-12);
  assert.deepEqual(level0Magnification(slideLike(undefined, 40)), {
    magnification: 40,
    source: 'objective-power',
    mpp: undefined,
    warnings: [],
  });
  const opt = level0Magnification(slideLike(0.5, 20), { mpp: 0.25 });
  assert.equal(opt.magnification, 40);
  assert.equal(opt.source, 'mpp-option');
  const assumed = level0Magnification(slideLike(undefined, undefined), { assumeMagnification: 40 });
  assert.equal(assumed.magnification, 40);
  assert.equal(assumed.source, 'assumed');
  assert.match(
    assumed.warnings[0]!,
    /states neither µm\/px nor objective power: level 0 is assumed to be 40×/,
  );
  assert.throws(() => level0Magnification(slideLike(0.5, 20), { mpp: -1 }), SlideError);
});

test('read plan: the level at or below the wanted downsample, region size to match', () => {
  const levels = [
    { width: 8000, height: 6000, downsample: 1 },
    { width: 3999, height: 2999, downsample: 2.0005 },
    { width: 1000, height: 750, downsample: 8 },
  ];
  const slide = {
    levels,
    bestLevelForDownsample: (d: number) => (d < 2.0005 ? 0 : d < 8 ? 1 : 2),
  };
  assert.deepEqual(readPlan(slide, 1, 256), { readLevel: 0, readSize: 256 });
  assert.deepEqual(readPlan(slide, 2, 256), { readLevel: 1, readSize: 256 });
  assert.deepEqual(readPlan(slide, 4, 256), { readLevel: 1, readSize: 512 });
  assert.deepEqual(readPlan(slide, 16, 224), { readLevel: 2, readSize: 448 });
  assert.deepEqual(readPlan(slide, 0.5, 256), { readLevel: 0, readSize: 128 });
});

test('mask coverage is the exact area fraction, fractional pixels and the slide edge included', () => {
  const w = 7;
  const h = 5;
  const mask = Uint8Array.from({ length: w * h }, (_, i) => ((i * 5) % 3 === 0 ? 1 : 0));
  const seg = { mask, width: w, height: h, scaleX: 3, scaleY: 2 };
  const cov = new MaskCoverage(seg);
  // Brute force: sample the level-0 rectangle on a fine grid.
  const brute = (x: number, y: number, rw: number, rh: number): number => {
    const n = 300;
    let inside = 0;
    for (let j = 0; j < n; j++)
      for (let i = 0; i < n; i++) {
        const mx = Math.floor((x + ((i + 0.5) / n) * rw) / 3);
        const my = Math.floor((y + ((j + 0.5) / n) * rh) / 2);
        if (mx >= 0 && my >= 0 && mx < w && my < h && mask[my * w + mx] === 1) inside++;
      }
    return inside / (n * n);
  };
  for (const [x, y, rw, rh] of [
    [0, 0, 21, 10],
    [1.5, 0.5, 6, 4],
    [4, 3, 9.7, 5.2],
    [15, 6, 12, 8], // past the right and bottom edges
    [-6, -2, 9, 5],
  ] as const)
    assert.ok(Math.abs(cov.fraction(x, y, rw, rh) - brute(x, y, rw, rh)) < 0.005, `${x},${y} ${rw}×${rh}`);
});

describe('patch grids', () => {
  /** A segmentation of a 400×300 level-0 slide whose left 160 px are tissue (mask at 4×). */
  function halfSeg(): TissueSegmentation {
    const w = 100;
    const h = 75;
    const rgb = new Uint8Array(w * h * 3).fill(245);
    for (let y = 0; y < h; y++) for (let x = 0; x < 40; x++) rgb.set([220, 120, 170], (y * w + x) * 3);
    return segmentImage({ width: w, height: h, data: rgb }, 400, 300, {
      medianKernel: 1,
      closeKernel: 0,
      minTissueArea: 0,
      areaCap: null,
    });
  }
  const fakeSlide = (mpp: number | undefined): Slide =>
    ({
      path: 'fake.svs',
      width: 400,
      height: 300,
      mpp: mpp === undefined ? undefined : { x: mpp, y: mpp },
      objectivePower: undefined,
      levels: [{ width: 400, height: 300, downsample: 1 }],
      bestLevelForDownsample: () => 0,
    }) as unknown as Slide;

  test('kept patches are those with enough tissue; coordinates are level-0 top-left corners', () => {
    const seg = halfSeg();
    const grid = patchGrid(fakeSlide(0.5), seg, { patchSize: 50, minTissue: 0.5 });
    assert.equal(grid.columns, 8);
    assert.equal(grid.rows, 6);
    assert.equal(grid.downsample, 1);
    assert.deepEqual([grid.readLevel, grid.readSize, grid.patchSizeLevel0], [0, 50, 50]);
    // Columns 0–2 are all tissue, column 3 (150–200) is 10/50 tissue: below 0.5.
    assert.equal(grid.count, 18);
    for (let i = 0; i < grid.count; i++) {
      assert.ok([0, 50, 100].includes(grid.coords[2 * i]!));
      assert.equal(grid.coords[2 * i + 1]! % 50, 0);
      assert.equal(grid.tissue[i], 1);
    }
    const loose = patchGrid(fakeSlide(0.5), seg, { patchSize: 50, minTissue: 0.2 });
    assert.equal(loose.count, 24);
    assert.ok(Math.abs(loose.tissue[3]! - 0.2) < 1e-6);
    assert.deepEqual(grid.warnings, []);
  });

  test('a 40× slide patched at 20×: twice the level-0 footprint; overlap shortens the step', () => {
    const grid = patchGrid(fakeSlide(0.25), halfSeg(), { patchSize: 40, overlap: 10, minTissue: 0.01 });
    assert.equal(grid.level0.magnification, 40);
    assert.equal(grid.downsample, 2);
    assert.equal(grid.patchSizeLevel0, 80);
    assert.equal(grid.stepLevel0, 60);
    assert.deepEqual([grid.readLevel, grid.readSize], [0, 80]);
    assert.equal(grid.columns, 7);
    // Patches starting before x = 160 touch tissue: x = 0, 60, 120.
    assert.equal(grid.count, 3 * grid.rows);
    const json = patchGridJson(fakeSlide(0.25), grid) as { coords: number[][]; count: number };
    assert.equal(json.coords.length, json.count);
    assert.deepEqual(json.coords[1], [60, 0]);
  });

  test('without µm/px or objective power: assumed, with the warning carried in the grid', () => {
    const grid = patchGrid(fakeSlide(undefined), halfSeg(), { patchSize: 50 });
    assert.equal(grid.level0.source, 'assumed');
    assert.match(grid.warnings.join('\n'), /assumed to be 20×/);
    assert.throws(() => patchGrid(fakeSlide(0.5), halfSeg(), { overlap: 300 }), /overlap/);
    assert.throws(() => patchGrid(fakeSlide(0.5), halfSeg(), { minTissue: 2 }), /minTissue/);
  });
});

describe('the shared slides', { skip: NEEDS_SHARED_SLIDES }, () => {
  test('CMU (0.499 µm/px, 20×): 256-px patches read as they are at level 0', async () => {
    const slide = await openSlide(CMU_SLIDE);
    try {
      const grid = patchGrid(slide, await segmentTissue(slide));
      assert.equal(grid.level0.source, 'mpp');
      assert.deepEqual([grid.readLevel, grid.readSize, grid.patchSize], [0, 256, 256]);
      // The skin strip covers about a third of the 9×12 grid positions.
      assert.ok(grid.count >= 30 && grid.count <= 70, `${grid.count} patches`);
      for (const f of grid.tissue) assert.ok(f >= 0.25);
      assert.deepEqual(grid.warnings, []);
    } finally {
      slide.close();
    }
  });

  test('TCGA (no µm/px): assumed 20× with a warning, or 40× given as --mpp 0.25 read from level 1', async () => {
    const slide = await openSlide(TCGA_SLIDE);
    try {
      const seg = await segmentTissue(slide);
      const assumed = patchGrid(slide, seg);
      assert.equal(assumed.level0.source, 'assumed');
      assert.equal(assumed.warnings.length, 1);
      const at40 = patchGrid(slide, seg, { mpp: 0.25 });
      assert.deepEqual([at40.readLevel, at40.readSize, at40.patchSizeLevel0], [1, 256, 512]);
      // Four times fewer patches, give or take the edges.
      assert.ok(
        Math.abs(at40.count * 4 - assumed.count) < 0.25 * assumed.count,
        `${at40.count} vs ${assumed.count}`,
      );
      // Patches read where the grid says are mostly tissue-coloured, not glass.
      const i = Math.floor(at40.count / 2);
      const region = await slide.readRegion(at40.coords[2 * i]!, at40.coords[2 * i + 1]!, 1, 256, 256);
      let dark = 0;
      for (let p = 0; p < 256 * 256; p++)
        if (Math.min(region.data[p * 4]!, region.data[p * 4 + 1]!) < 215) dark++;
      assert.ok(dark / (256 * 256) > 0.2, `tissue-coloured share ${dark / 65536}`);
    } finally {
      slide.close();
    }
  });
});

test('the overview draws contours and patches over the thumbnail', async () => {
  const tmp = tempDir('overview');
  try {
    const w = 1600;
    const h = 1200;
    const path = join(tmp.dir, 'blob.png');
    await writePng(path, w, h, blobImage(w, h, [{ cx: 800, cy: 600, rx: 400, ry: 300 }]));
    const slide = await openSlide(path);
    const seg = await segmentTissue(slide);
    const grid = patchGrid(slide, seg, { mpp: 0.5 });
    const out = join(tmp.dir, 'out', 'overview.png');
    await writeOverview(out, slide, seg, { grid, maxSide: 800 });
    const { data, info } = await sharp(out).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height], [800, 600]);
    // The contour crosses the row through the centre at x ≈ 200 and 600: green there.
    const row = 300;
    let green = 0;
    for (let x = 180; x < 220; x++) {
      const o = (row * info.width + x) * info.channels;
      if (data[o + 1]! > 120 && data[o]! < 80 && data[o + 2]! < 80) green++;
    }
    assert.ok(green > 0, 'green contour pixels on the left edge of the blob');
    // Far from the blob the background is untouched near-white glass.
    const o = (20 * info.width + 20) * info.channels;
    assert.ok(data[o]! > 230 && data[o + 1]! > 230 && data[o + 2]! > 230);
    // Without a grid: the same image size, and no yellow patch tint on the blob's glass corners.
    const bare = await sharp(await renderOverview(slide, seg, { maxSide: 800 }))
      .raw()
      .toBuffer({ resolveWithObject: true });
    assert.deepEqual([bare.info.width, bare.info.height], [800, 600]);
    let tinted = 0;
    for (let i = 0; i < data.length; i += info.channels)
      if (data[i]! - data[i + 2]! > 40 && data[i + 1]! > 200) tinted++;
    let tintedBare = 0;
    for (let i = 0; i < bare.data.length; i += bare.info.channels)
      if (bare.data[i]! - bare.data[i + 2]! > 40 && bare.data[i + 1]! > 200) tintedBare++;
    assert.ok(tinted > 1000 && tintedBare < tinted / 10, `${tinted} vs ${tintedBare} yellow-tinted pixels`);
    slide.close();
  } finally {
    tmp.remove();
  }
});
