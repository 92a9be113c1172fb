// Parity with torchvision/PIL: src/data/fixtures/preprocess.json is written by
// scripts/fixtures/preprocess.py (Debian's PIL 9.4 + torchvision 0.14). The resampling and the
// transforms are reimplementations of the reference algorithms, so the uint8 pixels must be
// identical and the normalised tensors equal within 1e-4 (measured: bit-identical).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { loadImage } from './image.ts';
import { type PreprocessConfig, parsePreprocessConfig, preprocess, transformImage } from './preprocess.ts';

interface Case {
  name: string;
  file: string;
  config: Omit<PreprocessConfig, 'mean' | 'std'> & { norm: string };
  decoded: [number, number];
  shape: [number, number, number];
  channelSums: [number, number, number];
  sampleIndex: number[];
  samples: number[];
  uint8Sha256: string;
  uint8?: string;
  decodedUint8?: string;
}

interface Fixture {
  norms: Record<string, { mean: [number, number, number]; std: [number, number, number] }>;
  cases: Case[];
}

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
// The shared patches live beside the checkout (../shared/data/patches from the repo root).
const PATCHES = fileURLToPath(new URL('../../../shared/data/patches/', import.meta.url));
const fixture = JSON.parse(readFileSync(`${FIXTURES}preprocess.json`, 'utf8')) as Fixture;

function pathOf(c: Case): string {
  return c.file.startsWith('@') ? PATCHES + c.file.slice(1) : FIXTURES + c.file;
}

function configOf(c: Case): PreprocessConfig {
  const { norm, ...rest } = c.config;
  const stats = fixture.norms[norm];
  assert.ok(stats, `unknown norm ${norm}`);
  return parsePreprocessConfig({ ...rest, ...stats });
}

test('fixture covers the shared patches and the synthetic edge cases', () => {
  const names = fixture.cases.map((c) => c.name);
  for (const n of ['example-clip', 'ihc-clip', 'ihc-imagenet', 'rgb-up', 'grey', 'rgba', 'rgb-half-even-up'])
    assert.ok(names.includes(n), n);
});

for (const c of fixture.cases) {
  const path = pathOf(c);
  const missing = c.file.startsWith('@') && !existsSync(path);
  test(`matches torchvision: ${c.name}`, { skip: missing && `${path} is absent` }, async () => {
    const img = await loadImage(path);
    assert.deepEqual([img.width, img.height], c.decoded);
    if (c.decodedUint8) {
      // JPEG: PIL and libvips both decode with libjpeg-turbo's defaults (islow IDCT, fancy
      // upsampling), so the pixels agree exactly; a difference here means a decoder change.
      assert.deepEqual(Buffer.from(img.data), Buffer.from(c.decodedUint8, 'base64'));
    }
    const cfg = configOf(c);
    const pixels = transformImage(img, cfg);
    if (c.uint8) assert.deepEqual(Buffer.from(pixels.data), Buffer.from(c.uint8, 'base64'));
    assert.equal(
      createHash('sha256').update(pixels.data).digest('hex'),
      c.uint8Sha256,
      'uint8 pixels after resize/crop',
    );

    const x = preprocess(img, cfg);
    assert.equal(x.length, c.shape[0] * c.shape[1] * c.shape[2]);
    let maxDiff = 0;
    c.sampleIndex.forEach((i, k) => (maxDiff = Math.max(maxDiff, Math.abs(x[i]! - c.samples[k]!))));
    assert.ok(maxDiff <= 1e-4, `max sampled difference ${maxDiff}`);
    const plane = c.shape[1] * c.shape[2];
    for (let ch = 0; ch < 3; ch++) {
      let sum = 0;
      for (let i = 0; i < plane; i++) sum += x[ch * plane + i]!;
      assert.ok(
        Math.abs(sum - c.channelSums[ch]!) <= 1e-4 * plane,
        `channel ${ch} sum ${sum} vs ${c.channelSums[ch]}`,
      );
    }
  });
}
