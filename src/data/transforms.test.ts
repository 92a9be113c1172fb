import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { Rng } from '../engine/init.ts';
import type { RgbImage } from './image.ts';
import {
  batchImages,
  imagenet,
  openaiClip,
  parsePreprocessConfig,
  preprocess,
  transformImage,
} from './preprocess.ts';
import { coefficients, resample } from './resample.ts';
import { centerCrop, randomCrop, roundHalfEven, shortestSideSize } from './transforms.ts';

function image(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 29 + (i >> 5)) & 255;
  return { width, height, data };
}

test("roundHalfEven is Python's round()", () => {
  const cases: [number, number][] = [
    [0.5, 0],
    [1.5, 2],
    [2.5, 2],
    [9.5, 10],
    [8.5, 8],
    [37, 37],
    [3.49, 3],
    [3.51, 4],
  ];
  for (const [x, want] of cases) assert.equal(roundHalfEven(x), want, String(x));
});

test('shortest-side sizes truncate like torchvision', () => {
  assert.deepEqual(shortestSideSize(298, 224, 224), [298, 224]);
  assert.deepEqual(shortestSideSize(512, 512, 224), [224, 224]);
  assert.deepEqual(shortestSideSize(97, 61, 32), [50, 32]); // 50.88 → 50
  assert.deepEqual(shortestSideSize(61, 97, 32), [32, 50]);
  assert.deepEqual(shortestSideSize(13, 9, 224), [323, 224]); // 323.55 → 323
});

test('center crop offsets and zero padding', () => {
  const img = image(51, 40);
  const c = centerCrop(img, 32);
  // left = round(9.5) = 10, top = round(4) = 4
  assert.deepEqual(
    [...c.data.subarray(0, 3)],
    [...img.data.subarray((4 * 51 + 10) * 3, (4 * 51 + 10) * 3 + 3)],
  );
  const small = image(3, 2);
  const p = centerCrop(small, 6);
  // torchvision pads floor(3/2) = 1 left, 2 top; outside is 0
  assert.deepEqual([...p.data.subarray(0, 3)], [0, 0, 0]);
  assert.deepEqual(
    [...p.data.subarray((2 * 6 + 1) * 3, (2 * 6 + 1) * 3 + 3)],
    [...small.data.subarray(0, 3)],
  );
  assert.equal(centerCrop(small, 3).width, 3);
});

test('random crop: seeded, in bounds, covers the offsets', () => {
  const img = image(40, 30);
  const a = randomCrop(img, 24, new Rng(7, 'crop'));
  const b = randomCrop(img, 24, new Rng(7, 'crop'));
  assert.deepEqual(a.data, b.data);
  const rng = new Rng(1);
  const seen = new Set<number>();
  for (let i = 0; i < 400; i++) {
    const c = randomCrop(img, 24, rng);
    // find the offset by the first pixel (the pattern is unique per position here)
    let found = -1;
    for (let top = 0; top <= 6 && found < 0; top++)
      for (let left = 0; left <= 16; left++) {
        const o = (top * 40 + left) * 3;
        if (c.data[0] === img.data[o] && c.data[1] === img.data[o + 1] && c.data[70] === img.data[o + 70]) {
          found = top * 100 + left;
          break;
        }
      }
    assert.ok(found >= 0);
    seen.add(found);
  }
  assert.ok(seen.size > 80, `only ${seen.size} of 119 offsets seen`);
  assert.throws(() => randomCrop(image(20, 30), 24, rng), /larger than the image/);
  assert.throws(() => transformImage(img, { ...openaiClip, crop: 'random' }), /needs a seeded generator/);
});

test('resampling keeps flat images flat and its fixed-point weights sum to one', () => {
  const flat: RgbImage = { width: 37, height: 23, data: new Uint8Array(37 * 23 * 3).fill(201) };
  for (const interp of ['bicubic', 'bilinear'] as const)
    for (const [w, h] of [
      [11, 7],
      [80, 50],
      [37, 9],
    ]) {
      const out = resample({ ...flat, channels: 3 }, w!, h!, interp);
      assert.ok(
        out.data.every((v) => v === 201),
        `${interp} ${w}×${h}`,
      );
    }
  const co = coefficients(512, 224, 'bicubic');
  for (let i = 0; i < 224; i++) {
    let s = 0;
    for (let k = 0; k < co.count[i]!; k++) s += co.weights[i * co.ksize + k]!;
    assert.ok(Math.abs(s - (1 << 22)) <= co.count[i]!, `row ${i}: ${s}`);
  }
  assert.throws(() => resample({ ...flat, channels: 3 }, 0, 5, 'bicubic'), /positive integers/);
});

test('configs: presets, validation, crop none', () => {
  assert.deepEqual(openaiClip.mean, [0.48145466, 0.4578275, 0.40821073]);
  assert.deepEqual(imagenet.std, [0.229, 0.224, 0.225]);
  assert.throws(() => parsePreprocessConfig({ ...openaiClip, std: [0.2, 0, 0.2] }), /std must be positive/);
  assert.throws(() => parsePreprocessConfig({ ...openaiClip, interpolation: 'lanczos' }));
  assert.throws(() => parsePreprocessConfig({ ...openaiClip, extra: 1 }));
  const exact = parsePreprocessConfig({ ...openaiClip, size: 16, resize: 'exact', crop: 'none' });
  assert.equal(preprocess(image(40, 30), exact).length, 3 * 16 * 16);
  assert.throws(
    () => preprocess(image(40, 30), { ...exact, resize: 'none' }),
    /crop 'none' needs a 16×16 image/,
  );
});

test('normalisation is float32 (x/255 - mean) / std, CHW', () => {
  const row = [0, 128, 255, 10, 20, 30];
  const img: RgbImage = { width: 2, height: 2, data: Uint8Array.from([...row, ...row]) };
  const cfg = parsePreprocessConfig({ ...imagenet, size: 2, resize: 'none', crop: 'none' });
  const x = preprocess(img, cfg);
  const f = Math.fround;
  const want = (v: number, c: number): number =>
    f(f(f(v / 255) - f(imagenet.mean[c]!)) / f(imagenet.std[c]!));
  assert.equal(x[0], want(0, 0));
  assert.equal(x[1], want(10, 0));
  assert.equal(x[4], want(128, 1));
  assert.equal(x[9], want(30, 2));
});

test('batchImages stacks preprocess outputs into an ort.Tensor-ready NCHW buffer', () => {
  const cfg = parsePreprocessConfig({ ...openaiClip, size: 24 });
  const items = [image(40, 30), image(31, 57), image(24, 24)];
  const batch = batchImages(items, cfg);
  assert.deepEqual(batch.shape, [3, 3, 24, 24]);
  items.forEach((item, i) =>
    assert.deepEqual(batch.data.subarray(i * 3 * 576, (i + 1) * 3 * 576), preprocess(item, cfg)),
  );
  const t = new ort.Tensor('float32', batch.data, batch.shape);
  assert.deepEqual(t.dims, [3, 3, 24, 24]);
  assert.deepEqual(batchImages([], cfg).shape, [0, 3, 24, 24]);
  const r1 = batchImages(items, { ...cfg, crop: 'random' }, new Rng(3));
  const r2 = batchImages(items, { ...cfg, crop: 'random' }, new Rng(3));
  assert.deepEqual(r1.data, r2.data);
});
