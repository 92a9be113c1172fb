// Tissue segmentation: the raster steps against OpenCV (fixtures/wsi_segment.json, written by
// scripts/fixtures/wsi_segment.py running CLAM's segmentTissue), contours against the mask they come
// from, synthetic slides with known tissue, and the two shared slides.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { z } from 'zod';
import {
  filterPolygons,
  maskPolygons,
  polygonArea,
  rasterisePolygons,
  ringArea,
  signedArea,
} from './contours.ts';
import { readDownsampled, thumbnail } from './downsample.ts';
import { binarise, medianBlur, morphClose, otsuThreshold, saturation } from './mask-ops.ts';
import { segmentImage, segmentTissue } from './segment.ts';
import { openSlide } from './open-slide.ts';
import { SlideError } from './slide.ts';
import {
  blobImage,
  CMU_SLIDE,
  NEEDS_SHARED_SLIDES,
  SHARED_WSI,
  TCGA_SLIDE,
  tempDir,
  writePng,
} from './testing.ts';
import { tissueGeoJson } from './tissue-geojson.ts';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** A seeded generator for random test masks. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('raster steps against naive definitions', () => {
  test('saturation is round(255·(max − min) / max), 0 for black', () => {
    const rgb = new Uint8Array([0, 0, 0, 255, 255, 255, 255, 0, 0, 200, 100, 50, 3, 2, 1, 243, 240, 238]);
    const s = saturation(rgb, 6);
    const want = [
      0,
      0,
      255,
      Math.round((255 * 150) / 200),
      Math.round((255 * 2) / 3),
      Math.round((255 * 5) / 243),
    ];
    assert.deepEqual([...s], want);
  });

  test('medianBlur equals a sorted window with replicated borders', () => {
    const rand = lcg(7);
    for (const [w, h, k] of [
      [13, 9, 3],
      [20, 17, 7],
      [5, 4, 7],
      [1, 6, 5],
    ] as const) {
      const src = Uint8Array.from({ length: w * h }, () => Math.floor(rand() * 256));
      const got = medianBlur(src, w, h, k);
      const r = (k - 1) / 2;
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) {
          const win: number[] = [];
          for (let dy = -r; dy <= r; dy++)
            for (let dx = -r; dx <= r; dx++) {
              const yy = Math.min(h - 1, Math.max(0, y + dy));
              const xx = Math.min(w - 1, Math.max(0, x + dx));
              win.push(src[yy * w + xx]!);
            }
          win.sort((a, b) => a - b);
          assert.equal(got[y * w + x], win[(k * k - 1) / 2], `${w}×${h} k=${k} at ${x},${y}`);
        }
    }
    assert.throws(() => medianBlur(new Uint8Array(4), 2, 2, 4), /odd/);
  });

  test('morphClose is dilate-then-erode over OpenCV’s anchored window, outside pixels ignored', () => {
    const rand = lcg(3);
    const w = 23;
    const h = 19;
    const src = Uint8Array.from({ length: w * h }, () => (rand() < 0.3 ? 1 : 0));
    for (const k of [2, 3, 4, 5]) {
      const lo = -Math.floor(k / 2);
      const hi = lo + k - 1;
      const pass = (img: Uint8Array, max: boolean): Uint8Array => {
        const out = new Uint8Array(w * h);
        for (let y = 0; y < h; y++)
          for (let x = 0; x < w; x++) {
            let v = max ? 0 : 1;
            for (let dy = lo; dy <= hi; dy++)
              for (let dx = lo; dx <= hi; dx++) {
                const xx = x + dx;
                const yy = y + dy;
                if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
                v = max ? Math.max(v, img[yy * w + xx]!) : Math.min(v, img[yy * w + xx]!);
              }
            out[y * w + x] = v;
          }
        return out;
      };
      assert.deepEqual(morphClose(src, w, h, k), pass(pass(src, true), false), `k=${k}`);
    }
    assert.deepEqual(morphClose(src, w, h, 0), src);
  });

  test('Otsu splits a bimodal histogram between its modes', () => {
    const rand = lcg(11);
    const v = Uint8Array.from({ length: 5000 }, (_, i) =>
      i % 3 === 0 ? 180 + Math.floor(rand() * 20) : 10 + Math.floor(rand() * 20),
    );
    const t = otsuThreshold(v);
    assert.ok(t >= 29 && t < 180, `threshold ${t}`);
    assert.equal(
      binarise(v, t).reduce((s, x) => s + x, 0),
      Math.ceil(5000 / 3),
    );
  });
});

describe('contours', () => {
  test('polygons rasterise back to exactly the mask they were traced from (holes, islands, edges)', () => {
    const rand = lcg(5);
    for (let trial = 0; trial < 6; trial++) {
      const w = 40 + trial * 7;
      const h = 31 + trial * 5;
      // Random blobs closed a little, so there are nested holes, islands and diagonal touches.
      const noise = Uint8Array.from({ length: w * h }, () => (rand() < 0.45 ? 1 : 0));
      const mask = morphClose(noise, w, h, 2);
      const polygons = maskPolygons(mask, w, h);
      assert.deepEqual(rasterisePolygons(polygons, w, h), mask, `trial ${trial}`);
      for (const p of polygons) {
        assert.ok(signedArea(p.outer) > 0);
        for (const hole of p.holes) assert.ok(signedArea(hole) < 0);
        assert.deepEqual(p.outer[0], p.outer.at(-1));
      }
      let pixels = 0;
      for (const v of mask) pixels += v;
      // Marching squares cuts each convex corner by 1/8 px² and fills each concave one by 1/8.
      const total = polygons.reduce((s, p) => s + polygonArea(p), 0);
      assert.ok(Math.abs(total - pixels) < 0.2 * pixels, `area ${total} vs ${pixels} pixels`);
    }
  });

  test('holes belong to the innermost exterior (tissue in a hole in tissue)', () => {
    // Concentric squares: tissue 0–20, hole 3–17, island 6–14, hole in it 9–11.
    const w = 20;
    const mask = new Uint8Array(w * w);
    const inBox = (x: number, y: number, a: number, b: number): boolean => x >= a && x < b && y >= a && y < b;
    for (let y = 0; y < w; y++)
      for (let x = 0; x < w; x++)
        mask[y * w + x] =
          inBox(x, y, 0, 20) && !inBox(x, y, 3, 17) ? 1 : inBox(x, y, 6, 14) && !inBox(x, y, 9, 11) ? 1 : 0;
    const polygons = maskPolygons(mask, w, w).sort((a, b) => ringArea(b.outer) - ringArea(a.outer));
    assert.equal(polygons.length, 2);
    assert.equal(polygons[0]!.holes.length, 1);
    assert.equal(polygons[1]!.holes.length, 1);
    assert.ok(ringArea(polygons[0]!.holes[0]!) > ringArea(polygons[1]!.holes[0]!));
    assert.deepEqual(rasterisePolygons(polygons, w, w), mask);
    // Drop the outer hole (too small to keep): the island merges back into tissue.
    const filled = filterPolygons(polygons, { minTissueArea: 0, minHoleArea: 200, maxHoles: 8 });
    const m = rasterisePolygons(filled, w, w);
    assert.equal(
      m.reduce((s, v) => s + v, 0),
      w * w,
      'all tissue once the holes are gone',
    );
    // Keep the holes but drop the island (below the tissue threshold): the outer hole is empty.
    const noIsland = filterPolygons(polygons, { minTissueArea: 100, minHoleArea: 0, maxHoles: 8 });
    assert.equal(noIsland.length, 1);
    assert.equal(
      rasterisePolygons(noIsland, w, w).reduce((s, v) => s + v, 0),
      w * w - 14 * 14,
    );
  });

  test('the CLAM filter: net area above a_t, the maxHoles largest holes above a_h', () => {
    const sq = (x0: number, y0: number, s: number, ccw: boolean): [number, number][] => {
      const r: [number, number][] = [
        [x0, y0],
        [x0 + s, y0],
        [x0 + s, y0 + s],
        [x0, y0 + s],
        [x0, y0],
      ];
      return ccw ? r : r.reverse();
    };
    const p = {
      outer: sq(0, 0, 100, true),
      holes: [sq(10, 10, 30, false), sq(50, 50, 5, false), sq(60, 10, 20, false)],
    };
    // Net area 10000 − 900 − 25 − 400 = 8675.
    assert.equal(polygonArea(p), 8675);
    assert.equal(filterPolygons([p], { minTissueArea: 8675, minHoleArea: 0, maxHoles: 8 }).length, 0);
    const kept = filterPolygons([p], { minTissueArea: 8674, minHoleArea: 25, maxHoles: 8 })[0]!;
    assert.deepEqual(kept.holes.map(ringArea), [900, 400]);
    assert.deepEqual(
      filterPolygons([p], { minTissueArea: 0, minHoleArea: 0, maxHoles: 1 })[0]!.holes.map(ringArea),
      [900],
    );
  });
});

const segFixture = z
  .object({
    cases: z.array(
      z.object({
        name: z.string(),
        file: z.string(),
        level: z.number(),
        sthresh: z.number(),
        mthresh: z.number(),
        close: z.number(),
        use_otsu: z.boolean(),
        a_t: z.number(),
        a_h: z.number(),
        max_n_holes: z.number(),
        width: z.number(),
        height: z.number(),
        not_opaque: z.number(),
        threshold: z.number(),
        saturation_sha256: z.string(),
        blurred_sha256: z.string(),
        closed_sha256: z.string(),
        reference_patch_area: z.number(),
        contours_kept: z.number(),
        holes_kept: z.number(),
        mask_png: z.string(),
        mask_pixels: z.number(),
      }),
    ),
  })
  .parse(JSON.parse(readFileSync(new URL('./fixtures/wsi_segment.json', import.meta.url), 'utf8')));

describe('CLAM parity (OpenCV, as CLAM calls it)', { skip: NEEDS_SHARED_SLIDES }, () => {
  const views = new Map<string, Awaited<ReturnType<typeof readDownsampled>>>();
  for (const c of segFixture.cases) {
    test(c.name, async () => {
      const slide = await openSlide(join(SHARED_WSI, c.file));
      try {
        // CLAM reads the stored level whole; every pixel is opaque here, so the white compositing of
        // readDownsampled changes nothing.
        assert.equal(c.not_opaque, 0);
        const key = `${c.file}@${c.level}`;
        const view = views.get(key) ?? (await readDownsampled(slide, c.width, c.height));
        views.set(key, view);
        assert.equal(view.level, c.level);
        const { image } = view;
        const sat = saturation(image.data, c.width * c.height);
        assert.equal(sha256(sat), c.saturation_sha256, 'saturation');
        const blurred = medianBlur(sat, c.width, c.height, c.mthresh);
        assert.equal(sha256(blurred), c.blurred_sha256, 'median blur');
        const threshold = c.use_otsu ? otsuThreshold(blurred) : c.sthresh;
        assert.equal(threshold, c.threshold, 'threshold');
        const closed = morphClose(binarise(blurred, threshold), c.width, c.height, c.close);
        assert.equal(sha256(closed), c.closed_sha256, 'closed mask');

        const seg = segmentImage(image, slide.width, slide.height, {
          saturationThreshold: c.sthresh,
          otsu: c.use_otsu,
          medianKernel: c.mthresh,
          closeKernel: c.close,
          minTissueArea: c.a_t,
          minHoleArea: c.a_h,
          maxHoles: c.max_n_holes,
          areaCap: null,
        });
        assert.equal(seg.areas.referencePatchArea, c.reference_patch_area);
        assert.equal(seg.polygons.length, c.contours_kept, 'contours kept');
        // Hole areas are measured differently (see segment.ts): a hole at the threshold may go either way.
        assert.ok(
          Math.abs(seg.stats.holesKept - c.holes_kept) <= 1,
          `holes kept ${seg.stats.holesKept} vs ${c.holes_kept}`,
        );
        const png = await sharp(fileURLToPathSafe(new URL(`./fixtures/${c.mask_png}`, import.meta.url)))
          .greyscale()
          .raw()
          .toBuffer();
        let both = 0;
        let either = 0;
        let clam = 0;
        for (let i = 0; i < seg.mask.length; i++) {
          const a = seg.mask[i] === 1;
          const b = png[i]! > 127;
          if (b) clam++;
          if (a && b) both++;
          if (a || b) either++;
        }
        assert.equal(clam, c.mask_pixels);
        // The masks differ only where contour areas are measured differently (d3-contour's
        // boundaries between pixel centres, cv2's through them) and a hole sits at the threshold.
        const iou = both / either;
        assert.ok(iou > 0.999, `IoU with CLAM's mask ${iou}`);
      } finally {
        slide.close();
      }
    });
  }
});

function fileURLToPathSafe(u: URL): string {
  return decodeURIComponent(u.pathname);
}

describe('synthetic slides with known tissue', () => {
  test('a pink ellipse on white segments to its area within 2 %, and its GeoJSON outlines it', async () => {
    const tmp = tempDir('blob');
    try {
      const w = 3000;
      const h = 2000;
      const blob = { cx: 1400, cy: 1100, rx: 700, ry: 450 };
      const path = join(tmp.dir, 'blob.png');
      await writePng(path, w, h, blobImage(w, h, [blob]));
      const slide = await openSlide(path);
      const seg = await segmentTissue(slide);
      slide.close();
      const truth = Math.PI * blob.rx * blob.ry;
      assert.equal(seg.polygons.length, 1);
      assert.ok(
        Math.abs(seg.stats.tissueAreaPx / truth - 1) < 0.02,
        `area ${seg.stats.tissueAreaPx} vs ${truth}`,
      );
      assert.ok(Math.abs(seg.stats.tissueFraction - truth / (w * h)) < 0.01);
      const gj = tissueGeoJson(seg);
      assert.equal(gj.type, 'FeatureCollection');
      const f = gj.features[0]!;
      assert.equal(f.properties.objectType, 'annotation');
      assert.equal(f.properties.classification.name, 'Tissue');
      const ring = f.geometry.coordinates[0]!;
      assert.deepEqual(ring[0], ring.at(-1));
      const xs = ring.map((p) => p[0]);
      const ys = ring.map((p) => p[1]);
      // The outline spans the ellipse's extent in level-0 pixels, to within a view pixel or two.
      const px = seg.scaleX * 2;
      assert.ok(Math.abs(Math.min(...xs) - (blob.cx - blob.rx)) < px + 8, `${Math.min(...xs)}`);
      assert.ok(Math.abs(Math.max(...xs) - (blob.cx + blob.rx)) < px + 8);
      assert.ok(Math.abs(Math.min(...ys) - (blob.cy - blob.ry)) < px + 8);
      assert.ok(Math.abs(Math.max(...ys) - (blob.cy + blob.ry)) < px + 8);
    } finally {
      tmp.remove();
    }
  });

  test('a ring of tissue keeps its hole; a speck below the area threshold is dropped', async () => {
    const w = 800;
    const h = 600;
    // Draw as a view directly: an annulus (outer r 200, inner r 90) and a 6-px speck far away.
    const rgb = blobImage(w, h, [{ cx: 350, cy: 300, rx: 200, ry: 200 }], 2);
    const inner = blobImage(w, h, [], 3);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const o = (y * w + x) * 3;
        if ((x + 0.5 - 350) ** 2 + (y + 0.5 - 300) ** 2 <= 90 ** 2) rgb.set(inner.subarray(o, o + 3), o);
        if (Math.abs(x - 700) < 3 && Math.abs(y - 80) < 3) rgb.set([200, 80, 150], o);
      }
    // A view at 8× of a 6400×4800 slide: a reference patch is 64² view px; a_t = 1, a_h = 1 patch.
    const seg = segmentImage({ width: w, height: h, data: rgb }, w * 8, h * 8, {
      minTissueArea: 1,
      minHoleArea: 1,
      areaCap: null,
    });
    assert.equal(seg.stats.regionsFound, 2);
    assert.equal(seg.polygons.length, 1);
    assert.equal(seg.stats.holesKept, 1);
    const truth = Math.PI * (200 ** 2 - 90 ** 2);
    const viewArea = seg.stats.tissueAreaPx / 64;
    assert.ok(Math.abs(viewArea / truth - 1) < 0.02, `${viewArea} vs ${truth}`);
    // With the hole below a_h it is filled.
    const filled = segmentImage({ width: w, height: h, data: rgb }, w * 8, h * 8, {
      minTissueArea: 1,
      minHoleArea: 10,
      areaCap: null,
    });
    assert.equal(filled.stats.holesKept, 0);
    assert.ok(Math.abs(filled.stats.tissueAreaPx / 64 / (Math.PI * 200 ** 2) - 1) < 0.02);
  });

  test('an all-white slide is a no-tissue SlideError that says why', async () => {
    const tmp = tempDir('white');
    try {
      const path = join(tmp.dir, 'white.png');
      await writePng(path, 1200, 900, blobImage(1200, 900, []));
      const slide = await openSlide(path);
      await assert.rejects(
        () => segmentTissue(slide),
        (e: unknown) =>
          e instanceof SlideError &&
          e.kind === 'no-tissue' &&
          e.path === path &&
          /no tissue found: 0\.00% of the 1024×768 view has saturation above 8, so there are no tissue regions/.test(
            e.message,
          ),
      );
      const empty = await segmentTissue(slide, { requireTissue: false });
      assert.equal(empty.polygons.length, 0);
      slide.close();
    } finally {
      tmp.remove();
    }
  });

  test('bad options are refused', () => {
    const img = { width: 2, height: 2, data: new Uint8Array(12) };
    assert.throws(() => segmentImage(img, 2, 2, { medianKernel: 4 }), /medianKernel must be odd/);
    assert.throws(() => segmentImage(img, 2, 2, { areaCap: 2 }), /areaCap/);
    assert.throws(() => segmentImage(img, 2, 2, { saturationThreshold: 300 }), /saturationThreshold/);
  });
});

describe('the shared slides with the defaults', { skip: NEEDS_SHARED_SLIDES }, () => {
  // The check: the mask agrees with an independent tissue measure, the share of thumbnail pixels
  // that are not near-white glass (darkest channel below 215), to within 8 points, and both lie in
  // the band seen on the thumbnails: the TCGA section fills most of its frame (≈ 60–70 %), the
  // CMU skin strip about a third of its (≈ 30–45 %).
  for (const [file, lo, hi] of [
    [TCGA_SLIDE, 0.55, 0.75],
    [CMU_SLIDE, 0.28, 0.48],
  ] as const) {
    test(file.split('/').at(-1)!, async () => {
      const slide = await openSlide(file);
      try {
        const seg = await segmentTissue(slide);
        const frac = seg.stats.tissueFraction;
        assert.ok(frac > lo && frac < hi, `tissue fraction ${frac}`);
        const thumb = (await thumbnail(slide, Math.max(seg.width, seg.height))).image;
        let dark = 0;
        for (let i = 0; i < thumb.width * thumb.height; i++) {
          const o = i * 3;
          if (Math.min(thumb.data[o]!, thumb.data[o + 1]!, thumb.data[o + 2]!) < 215) dark++;
        }
        const darkFrac = dark / (thumb.width * thumb.height);
        assert.ok(Math.abs(frac - darkFrac) < 0.08, `mask ${frac} vs non-white ${darkFrac}`);
        // Coordinates are level-0 pixels inside the slide.
        for (const f of tissueGeoJson(seg).features)
          for (const ring of f.geometry.coordinates)
            for (const [x, y] of ring) assert.ok(x >= 0 && y >= 0 && x <= slide.width && y <= slide.height);
        assert.ok(seg.warnings.some((w) => /small for CLAM's area thresholds/.test(w)));
      } finally {
        slide.close();
      }
    });
  }
});
