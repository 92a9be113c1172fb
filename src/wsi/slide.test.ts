// The reader against OpenSlide's own Python binding (fixtures/wsi_regions.json, written by
// scripts/fixtures/wsi_regions.py), plus plain images and every way opening a slide can fail.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import sharp from 'sharp';
import { z } from 'zod';
import { premultipliedArgbToRgba } from './pixels.ts';
import { openSlide } from './open-slide.ts';
import { readRegionRgb, rgbaToRgb, SlideError, type SlideErrorKind } from './slide.ts';
import { CMU_SLIDE, NEEDS_SHARED_SLIDES, SHARED_WSI, TCGA_SLIDE, tempDir } from './testing.ts';

const fixtureSchema = z.object({
  openslide_library: z.string(),
  slides: z.array(
    z.object({
      file: z.string(),
      vendor: z.string(),
      levels: z.array(z.object({ width: z.number(), height: z.number(), downsample: z.number() })),
      properties: z.record(z.string(), z.string()),
      associated: z.record(
        z.string(),
        z.object({ width: z.number(), height: z.number(), sha256: z.string() }),
      ),
      best_level: z.array(z.tuple([z.number(), z.number()])),
      regions: z.array(
        z.object({
          x: z.number(),
          y: z.number(),
          level: z.number(),
          width: z.number(),
          height: z.number(),
          sha256: z.string(),
          transparent: z.number(),
          partial_alpha: z.number(),
          samples: z.array(z.array(z.number())),
        }),
      ),
    }),
  ),
  argb2rgba: z.object({ sha256: z.string(), samples: z.array(z.array(z.number())) }),
});

const fixture = fixtureSchema.parse(
  JSON.parse(readFileSync(new URL('./fixtures/wsi_regions.json', import.meta.url), 'utf8')),
);

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function assertSlideError(
  run: () => Promise<unknown>,
  kind: SlideErrorKind,
  path: string,
  pattern: RegExp,
): Promise<SlideError> {
  let caught: unknown;
  try {
    await run();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof SlideError, `expected a SlideError, got ${String(caught)}`);
  assert.equal(caught.kind, kind, caught.message);
  assert.equal(caught.path, path);
  assert.ok(caught.message.includes(path), caught.message);
  assert.match(caught.message, pattern);
  return caught;
}

test('premultiplied ARGB → RGBA matches openslide-python on every (alpha, colour) pair', () => {
  const bytes = new Uint8Array(256 * 256 * 4);
  const words = new Uint32Array(bytes.buffer);
  for (let a = 0; a < 256; a++)
    for (let c = 0; c < 256; c++)
      words[a * 256 + c] = ((a << 24) | (c << 16) | ((255 - c) << 8) | (c ^ 0x55)) >>> 0;
  premultipliedArgbToRgba(bytes);
  assert.equal(sha256(bytes), fixture.argb2rgba.sha256);
  for (const [a, c, ...rgba] of fixture.argb2rgba.samples) {
    const o = (a! * 256 + c!) * 4;
    assert.deepEqual([...bytes.subarray(o, o + 4)], rgba, `a=${a} c=${c}`);
  }
});

describe('OpenSlide reader vs openslide-python', { skip: NEEDS_SHARED_SLIDES }, () => {
  for (const rec of fixture.slides) {
    test(rec.file, async () => {
      const slide = await openSlide(join(SHARED_WSI, rec.file));
      try {
        assert.equal(slide.reader, 'openslide');
        assert.equal(slide.vendor, rec.vendor);
        assert.deepEqual(slide.levels, rec.levels);
        assert.equal(slide.width, rec.levels[0]!.width);
        assert.deepEqual(slide.properties, rec.properties);
        assert.deepEqual([...slide.associatedImages].sort(), Object.keys(rec.associated).sort());
        for (const [name, a] of Object.entries(rec.associated)) {
          const img = await slide.readAssociatedImage(name);
          assert.equal(img.width, a.width);
          assert.equal(img.height, a.height);
          assert.equal(sha256(img.data), a.sha256, `associated image ${name}`);
        }
        for (const [ds, level] of rec.best_level)
          assert.equal(slide.bestLevelForDownsample(ds), level, `best level for ${ds}`);
        for (const r of rec.regions) {
          const what = `region (${r.x}, ${r.y}) ${r.width}×${r.height} level ${r.level}`;
          const img = await slide.readRegion(r.x, r.y, r.level, r.width, r.height);
          assert.equal(img.data.byteLength, r.width * r.height * 4);
          for (const [x, y, ...rgba] of r.samples) {
            const o = (y! * r.width + x!) * 4;
            assert.deepEqual([...img.data.subarray(o, o + 4)], rgba, `${what} pixel ${x},${y}`);
          }
          let transparent = 0;
          for (let i = 3; i < img.data.length; i += 4) if (img.data[i] === 0) transparent++;
          assert.equal(transparent, r.transparent, what);
          assert.equal(sha256(img.data), r.sha256, what);
        }
      } finally {
        slide.close();
      }
    });
  }

  test('the fixtures exercise partly transparent pixels and both slides', () => {
    assert.equal(fixture.slides.length, 2);
    assert.ok(fixture.slides.some((s) => s.regions.some((r) => r.partial_alpha > 0)));
  });

  test('mpp and objective power come from the OpenSlide properties; the TCGA slide has neither', async () => {
    const cmu = await openSlide(CMU_SLIDE);
    const tcga = await openSlide(TCGA_SLIDE);
    try {
      assert.deepEqual(cmu.mpp, { x: 0.499, y: 0.499 });
      assert.equal(cmu.objectivePower, 20);
      assert.equal(tcga.mpp, undefined);
      assert.equal(tcga.objectivePower, undefined);
    } finally {
      cmu.close();
      tcga.close();
    }
  });

  test('a caller buffer is filled in place and reused; concurrent reads agree with serial ones', async () => {
    const slide = await openSlide(TCGA_SLIDE);
    try {
      const buf = new Uint8Array(64 * 48 * 4);
      const a = await slide.readRegion(1000, 900, 0, 64, 48, buf);
      assert.equal(a.data, buf);
      const fresh = await slide.readRegion(1000, 900, 0, 64, 48);
      assert.deepEqual(a.data, fresh.data);
      const coords = Array.from({ length: 12 }, (_, i) => [200 * i, 150 * i] as const);
      const serial = [];
      for (const [x, y] of coords) serial.push(sha256((await slide.readRegion(x, y, 0, 96, 96)).data));
      const parallel = await Promise.all(coords.map(([x, y]) => slide.readRegion(x, y, 0, 96, 96)));
      assert.deepEqual(
        parallel.map((r) => sha256(r.data)),
        serial,
      );
      await assertSlideError(
        () => slide.readRegion(0, 0, 0, 10, 10, new Uint8Array(12)),
        'bad-request',
        TCGA_SLIDE,
        /region buffer must be 400 bytes/,
      );
    } finally {
      slide.close();
    }
  });

  test('bad requests, unknown associated images and use after close are SlideErrors', async () => {
    const slide = await openSlide(CMU_SLIDE);
    await assertSlideError(
      () => slide.readRegion(0, 0, 1, 8, 8),
      'bad-request',
      CMU_SLIDE,
      /level 1 out of range/,
    );
    await assertSlideError(
      () => slide.readRegion(0, 0, 0, -1, 8),
      'bad-request',
      CMU_SLIDE,
      /negative region size/,
    );
    await assertSlideError(
      () => slide.readRegion(0.5, 0, 0, 8, 8),
      'bad-request',
      CMU_SLIDE,
      /x must be an integer/,
    );
    await assertSlideError(
      () => slide.readRegion(0, 0, 0, 2 ** 15, 2 ** 14),
      'bad-request',
      CMU_SLIDE,
      /read it in tiles/,
    );
    await assertSlideError(
      () => slide.readAssociatedImage('overview'),
      'bad-request',
      CMU_SLIDE,
      /has: label, macro/,
    );
    const empty = await slide.readRegion(10, 10, 0, 0, 5);
    assert.equal(empty.data.byteLength, 0);
    // A read in flight when close() is called completes; the handle is released after it.
    const pending = slide.readRegion(0, 0, 0, 256, 256);
    slide.close();
    assert.equal((await pending).data.byteLength, 256 * 256 * 4);
    await assertSlideError(() => slide.readRegion(0, 0, 0, 8, 8), 'closed', CMU_SLIDE, /closed/);
    slide.close();
  });

  test('a truncated slide is a corrupt-file error naming the file', async () => {
    const tmp = tempDir('truncated');
    try {
      for (const fraction of [0.02, 0.5, 0.7, 0.98]) {
        const path = join(tmp.dir, `cut-${fraction}.svs`);
        copyFileSync(CMU_SLIDE, path);
        truncateSync(path, Math.floor(readFileSync(CMU_SLIDE).byteLength * fraction));
        await assertSlideError(
          () => openSlide(path),
          'corrupt',
          path,
          /truncated TIFF: .* ends at byte \d+ but the file has \d+ bytes/,
        );
      }
    } finally {
      tmp.remove();
    }
  });
  test('damaged tile data is a corrupt-file error at read time, and the handle stays failed', async () => {
    const tmp = tempDir('damaged');
    try {
      const path = join(tmp.dir, 'zeroed.svs');
      const bytes = readFileSync(CMU_SLIDE);
      bytes.fill(0, 100_000, 400_000);
      writeFileSync(path, bytes);
      const slide = await openSlide(path);
      try {
        await assertSlideError(
          () => slide.readRegion(0, 0, 0, slide.width, slide.height),
          'corrupt',
          path,
          /OpenSlide failed reading region \(0, 0\) 2220×2967 at level 0: Not a JPEG file/,
        );
        // OpenSlide's errors are sticky: even a region away from the damage now fails.
        await assertSlideError(() => slide.readRegion(0, 0, 0, 4, 4), 'corrupt', path, /Not a JPEG file/);
      } finally {
        slide.close();
      }
    } finally {
      tmp.remove();
    }
  });
});

test('unsupported and missing files are named in the error', async () => {
  const tmp = tempDir('unsupported');
  try {
    const text = join(tmp.dir, 'notes.svs');
    writeFileSync(text, 'this is not a slide\n');
    await assertSlideError(
      () => openSlide(text),
      'unsupported',
      text,
      /not a slide format OpenSlide recognises/,
    );
    const missing = join(tmp.dir, 'absent.svs');
    await assertSlideError(() => openSlide(missing), 'not-found', missing, /no such file/);
    await assertSlideError(() => openSlide(tmp.dir), 'not-found', tmp.dir, /not a regular file/);
    const badPng = join(tmp.dir, 'bad.png');
    writeFileSync(badPng, 'not a png');
    await assertSlideError(() => openSlide(badPng), 'unsupported', badPng, /cannot decode the image/);
  } finally {
    tmp.remove();
  }
});

test('a missing OpenSlide library is reported with the install hint', () => {
  // In a child process: the library, once loaded, stays loaded in this one.
  const script = `
    import { openSlide } from ${JSON.stringify(new URL('./open-slide.ts', import.meta.url).href)};
    try { await openSlide(${JSON.stringify(new URL('./slide.ts', import.meta.url).pathname)}); }
    catch (e) { console.log(JSON.stringify({ kind: e.kind, message: e.message })); }
  `;
  const out = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    env: { ...process.env, KEP_OPENSLIDE_LIBRARY: 'libopenslide-does-not-exist.so.9' },
    encoding: 'utf8',
  });
  assert.equal(out.status, 0, out.stderr);
  const { kind, message } = JSON.parse(out.stdout) as { kind: string; message: string };
  assert.equal(kind, 'library-missing');
  assert.match(
    message,
    /slide\.ts: cannot load the OpenSlide library: tried libopenslide-does-not-exist\.so\.9/,
  );
  assert.match(message, /apt-get install libopenslide0/);
});

describe('plain images as single-level slides', () => {
  const width = 37;
  const height = 23;
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    rgba[i * 4] = (i * 7) % 256;
    rgba[i * 4 + 1] = (i * 13) % 256;
    rgba[i * 4 + 2] = (i * 29) % 256;
    rgba[i * 4 + 3] = i % 5 === 0 ? 128 : 255;
  }
  const raw = { raw: { width, height, channels: 4 as const } };

  test('PNG with alpha: regions inside and across the edges, transparent outside', async () => {
    const tmp = tempDir('png');
    try {
      const path = join(tmp.dir, 'img.png');
      await sharp(rgba, raw).png().toFile(path);
      const slide = await openSlide(path);
      assert.equal(slide.reader, 'image');
      assert.equal(slide.vendor, 'png');
      assert.deepEqual(slide.levels, [{ width, height, downsample: 1 }]);
      assert.equal(slide.mpp, undefined);
      assert.equal(slide.bestLevelForDownsample(64), 0);
      const whole = await slide.readRegion(0, 0, 0, width, height);
      assert.deepEqual(whole.data, rgba);
      const r = await slide.readRegion(-3, 20, 0, 10, 6);
      for (let y = 0; y < 6; y++)
        for (let x = 0; x < 10; x++) {
          const sx = x - 3;
          const sy = y + 20;
          const got = [...r.data.subarray((y * 10 + x) * 4, (y * 10 + x) * 4 + 4)];
          const want =
            sx >= 0 && sy < height
              ? [...rgba.subarray((sy * width + sx) * 4, (sy * width + sx) * 4 + 4)]
              : [0, 0, 0, 0];
          assert.deepEqual(got, want, `${x},${y}`);
        }
      const outside = await slide.readRegion(100, 100, 0, 4, 4, new Uint8Array(64).fill(9));
      assert.ok(outside.data.every((v) => v === 0));
      const rgb = await readRegionRgb(slide, 0, 0, 0, 2, 1);
      assert.deepEqual([...rgb.data], [...rgba.subarray(0, 3), ...rgba.subarray(4, 7)]);
      await assertSlideError(
        () => slide.readRegion(0, 0, 1, 4, 4),
        'bad-request',
        path,
        /level 1 out of range/,
      );
      slide.close();
      await assertSlideError(() => slide.readRegion(0, 0, 0, 4, 4), 'closed', path, /closed/);
    } finally {
      tmp.remove();
    }
  });

  test('an untiled TIFF (OpenSlide declines it) opens as an image; a centimetre resolution gives mpp', async () => {
    const tmp = tempDir('tiff');
    try {
      const path = join(tmp.dir, 'strip.tif');
      // 40000 px/cm... sharp takes pixels per millimetre: 2000 px/mm = 0.5 µm/px.
      await sharp(rgba, raw)
        .tiff({ compression: 'deflate', resolutionUnit: 'cm', xres: 2000, yres: 2000 })
        .toFile(path);
      const slide = await openSlide(path);
      assert.equal(slide.reader, 'image');
      assert.equal(slide.vendor, 'tiff');
      assert.ok(slide.mpp !== undefined && Math.abs(slide.mpp.x - 0.5) < 1e-9, JSON.stringify(slide.mpp));
      assert.deepEqual((await slide.readRegion(0, 0, 0, width, height)).data, rgba);
      slide.close();
    } finally {
      tmp.remove();
    }
  });

  test('a tiled pyramidal TIFF goes to OpenSlide (generic-tiff) and reads back the pixels', async () => {
    const tmp = tempDir('pyramid');
    try {
      const w = 1200;
      const h = 700;
      const rgb = new Uint8Array(w * h * 3);
      for (let i = 0; i < w * h; i++) {
        rgb[i * 3] = (i % w) % 256;
        rgb[i * 3 + 1] = Math.floor(i / w) % 256;
        rgb[i * 3 + 2] = 77;
      }
      const path = join(tmp.dir, 'pyramid.tiff');
      await sharp(rgb, { raw: { width: w, height: h, channels: 3 } })
        .tiff({ tile: true, tileWidth: 256, tileHeight: 256, pyramid: true, compression: 'deflate' })
        .toFile(path);
      const slide = await openSlide(path);
      try {
        assert.equal(slide.reader, 'openslide');
        assert.equal(slide.vendor, 'generic-tiff');
        assert.ok(slide.levels.length >= 2, JSON.stringify(slide.levels));
        const r = rgbaToRgb(await slide.readRegion(300, 200, 0, 5, 2));
        assert.deepEqual([...r.data.subarray(0, 6)], [300 % 256, 200, 77, 301 % 256, 200, 77]);
      } finally {
        slide.close();
      }
    } finally {
      tmp.remove();
    }
  });

  test('a truncated JPEG is a corrupt-file error', async () => {
    const tmp = tempDir('jpeg');
    try {
      const path = join(tmp.dir, 'cut.jpg');
      const jpeg = await sharp(rgba, raw).removeAlpha().jpeg().toBuffer();
      writeFileSync(path, jpeg.subarray(0, Math.floor(jpeg.byteLength / 2)));
      await assertSlideError(() => openSlide(path), 'corrupt', path, /cannot decode the image/);
    } finally {
      tmp.remove();
    }
  });
});

test('rgbaToRgb drops alpha (PIL convert) or composites onto a background (PIL paste)', () => {
  const img = { width: 3, height: 1, data: new Uint8Array([10, 20, 30, 255, 200, 100, 50, 128, 0, 0, 0, 0]) };
  assert.deepEqual([...rgbaToRgb(img).data], [10, 20, 30, 200, 100, 50, 0, 0, 0]);
  // (c·a + 255·(255 − a) + 128) / 255 with PIL's rounding: 200·128 + 255·127 → 227.
  assert.deepEqual([...rgbaToRgb(img, [255, 255, 255]).data], [10, 20, 30, 227, 177, 152, 255, 255, 255]);
});
