import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { crop, resize } from '../data/transforms.ts';
import { normalise, transformImage, type PreprocessConfig } from '../data/preprocess.ts';
import { embedSlidePatches, type PatchEmbedder } from './embed-patches.ts';
import { PatchReaderPool } from './patch-reader.ts';
import { SlideError } from './slide.ts';

const W = 96;
const H = 64;
const cfg: PreprocessConfig = {
  size: 12,
  resize: 'shortest',
  interpolation: 'bicubic',
  crop: 'center',
  mean: [0.5, 0.4, 0.3],
  std: [0.2, 0.25, 0.3],
};

/** A PNG with structure everywhere (so a wrong offset, order or resize shows). */
async function slideFile(): Promise<{ path: string; data: Uint8Array }> {
  const data = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const i = (y * W + x) * 3;
      data[i] = (x * 7 + y * 3) & 255;
      data[i + 1] = (x * y) & 255;
      data[i + 2] = (255 - x * 2 - y) & 255;
    }
  const dir = mkdtempSync(join(tmpdir(), 'kep-embed-'));
  const path = join(dir, 'slide.png');
  writeFileSync(
    path,
    await sharp(data, { raw: { width: W, height: H, channels: 3 } })
      .png()
      .toBuffer(),
  );
  return { path, data };
}

/** Returns each image's per-channel sums: enough to tell any two different inputs apart. */
const fake: PatchEmbedder = {
  preprocess: cfg,
  embedDim: 3,
  async embedImages(pixels, count) {
    const per = 3 * cfg.size * cfg.size;
    const plane = cfg.size * cfg.size;
    const out = new Float32Array(count * 3);
    for (let i = 0; i < count; i++)
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let j = 0; j < plane; j++) s += pixels[i * per + c * plane + j]!;
        out[i * 3 + c] = s;
      }
    return out;
  },
};

function grid(step: number): Int32Array {
  const xy: number[] = [];
  for (let y = 0; y + step <= H; y += step) for (let x = 0; x + step <= W; x += step) xy.push(x, y);
  return Int32Array.from(xy);
}

test('patches are read, resized to the patch size, preprocessed and embedded in order', async () => {
  const { path, data } = await slideFile();
  const coords = grid(32); // 6 patches of 32 px read, resized to 16, then the model's 16 → 12
  const expected: number[] = [];
  for (let p = 0; p < coords.length / 2; p++) {
    const patch = crop({ width: W, height: H, data }, coords[2 * p + 1]!, coords[2 * p]!, 32, 32);
    const small = transformImage(resize(patch, 16, 16, 'bicubic'), cfg);
    expected.push(...(await fake.embedImages(normalise(small, cfg.mean, cfg.std), 1)));
  }
  for (const workers of [0, 2]) {
    const seenCoords: number[] = [];
    const seen: number[] = [];
    const stats = await embedSlidePatches({
      slidePath: path,
      coords,
      level: 0,
      readSize: 32,
      patchSize: 16,
      embedder: fake,
      batchSize: 4,
      workers,
      sink: (c, f) => {
        seenCoords.push(...c);
        seen.push(...f);
      },
    });
    assert.equal(stats.patches, 6);
    assert.deepEqual(seenCoords, Array.from(coords), `order with ${workers} workers`);
    assert.deepEqual(
      Float32Array.from(seen),
      Float32Array.from(expected),
      `features with ${workers} workers`,
    );
    assert.ok(stats.inferenceMs >= 0 && stats.readMs >= 0 && stats.seconds > 0);
  }
});

test('a damaged slide fails with a SlideError naming it, from a worker too', async () => {
  const { path } = await slideFile();
  const bytes = readFileSync(path);
  const broken = join(mkdtempSync(join(tmpdir(), 'kep-embed-')), 'broken.png');
  writeFileSync(broken, bytes.subarray(0, bytes.length >> 1));
  for (const workers of [0, 1]) {
    await assert.rejects(
      embedSlidePatches({
        slidePath: broken,
        coords: grid(32),
        level: 0,
        readSize: 32,
        patchSize: 32,
        embedder: fake,
        workers,
        sink: () => {},
      }),
      (err: unknown) => {
        assert.ok(err instanceof SlideError, String(err));
        assert.equal(err.kind, 'corrupt');
        assert.match(err.message, /broken\.png/);
        return true;
      },
    );
  }
});

test('a model returning the wrong width is caught', async () => {
  const { path } = await slideFile();
  await assert.rejects(
    embedSlidePatches({
      slidePath: path,
      coords: grid(32),
      level: 0,
      readSize: 32,
      patchSize: 32,
      embedder: { ...fake, embedDim: 4 },
      workers: 0,
      sink: () => {},
    }),
    /returned 18 values for 6 patches of width 4/,
  );
});

test('one reader pool serves several slides in turn, a damaged one in between included', async () => {
  const a = await slideFile();
  const bytes = readFileSync(a.path);
  const broken = join(mkdtempSync(join(tmpdir(), 'kep-embed-')), 'broken.png');
  writeFileSync(broken, bytes.subarray(0, 100));
  const pool = new PatchReaderPool(2);
  try {
    const run = async (slidePath: string): Promise<number[]> => {
      const seen: number[] = [];
      await embedSlidePatches({
        slidePath,
        coords: grid(32),
        level: 0,
        readSize: 32,
        patchSize: 32,
        embedder: fake,
        batchSize: 2,
        pool,
        sink: (_c, f) => seen.push(...f),
      });
      return seen;
    };
    const first = await run(a.path);
    await assert.rejects(run(broken), (err: unknown) => err instanceof SlideError && err.kind === 'corrupt');
    assert.deepEqual(await run(a.path), first, 'same features after the failure, from the same workers');
  } finally {
    await pool.close();
  }
});
