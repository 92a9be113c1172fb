import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  FeaturesFileError,
  FeaturesWriter,
  readFeaturesH5,
  writeFeaturesH5,
  type PatchFeaturesMeta,
} from './features-h5.ts';

const meta: PatchFeaturesMeta = {
  slide: 'slide-a',
  model: 'kep-tiny',
  untrained: true,
  patchSize: 256,
  patchSizeLevel0: 512,
  patchLevel: 0,
  targetMagnification: 20,
  level0Magnification: 40,
};

function rows(n: number, dim: number, offset = 0): { coords: number[]; features: Float32Array } {
  const coords: number[] = [];
  const features = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    coords.push((offset + i) * 512, ((offset + i) % 3) * 512);
    for (let j = 0; j < dim; j++) features[i * dim + j] = Math.fround((offset + i) * 0.5 - j / 7);
  }
  return { coords, features };
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'kep-h5-'));
}

test('features written in batches read back exactly, with their attributes', async () => {
  const dir = tempDir();
  const path = join(dir, 'slide-a', 'features.h5');
  const writer = await FeaturesWriter.create(path, 4, meta);
  const a = rows(300, 4);
  const b = rows(7, 4, 300);
  writer.append(a.coords, a.features);
  writer.append(b.coords, b.features);
  assert.equal(writer.count, 307);
  writer.close();
  assert.deepEqual(readdirSync(join(dir, 'slide-a')), ['features.h5']);

  const back = await readFeaturesH5(path);
  assert.equal(back.count, 307);
  assert.equal(back.dim, 4);
  assert.deepEqual(Array.from(back.coords), [...a.coords, ...b.coords]);
  assert.deepEqual(back.features, Float32Array.from([...a.features, ...b.features]));
  assert.deepEqual(back.meta, meta);
});

test('an aborted or failed write leaves the previous file and no temp file', async () => {
  const dir = tempDir();
  const path = join(dir, 'features.h5');
  const one = rows(2, 3);
  await writeFeaturesH5(path, { ...one, dim: 3, meta });
  const before = readFileSync(path);

  const writer = await FeaturesWriter.create(path, 3, meta);
  writer.append(one.coords, one.features);
  writer.abort();
  await assert.rejects(
    writeFeaturesH5(path, { coords: [0, 0, 1, 1], features: new Float32Array(3), dim: 3, meta }),
    /2 coordinate pairs need 6 feature values, got 3/,
  );
  assert.deepEqual(readdirSync(dir), ['features.h5']);
  assert.deepEqual(readFileSync(path), before);
});

test('bad arguments and bad files give errors naming the problem', async () => {
  const dir = tempDir();
  await assert.rejects(FeaturesWriter.create(join(dir, 'x.h5'), 0, meta), /positive integer, got 0/);
  const writer = await FeaturesWriter.create(join(dir, 'y.h5'), 2, meta);
  assert.throws(() => writer.append([0.5, 1], new Float32Array(2)), /coordinate 0.5 is not an integer/);
  assert.throws(() => writer.append([0, 1, 2], new Float32Array(2)), /x, y pairs/);
  writer.abort();

  await assert.rejects(readFeaturesH5(join(dir, 'missing.h5')), /missing\.h5: no such file/);
  const junk = join(dir, 'junk.h5');
  writeFileSync(junk, 'this is not HDF5');
  await assert.rejects(readFeaturesH5(junk), (err: unknown) => {
    assert.ok(err instanceof FeaturesFileError);
    assert.match(err.message, /junk\.h5: not an HDF5 file \(no HDF5 signature\)/);
    return true;
  });

  const truncated = join(dir, 'truncated.h5');
  const whole = join(dir, 'whole.h5');
  await writeFeaturesH5(whole, { ...rows(600, 8), dim: 8, meta });
  const bytes = readFileSync(whole);
  writeFileSync(truncated, bytes.subarray(0, bytes.length >> 1));
  await assert.rejects(readFeaturesH5(truncated), /truncated\.h5: /);
});

// Files written by h5py the way CLAM and TRIDENT write them (scripts/fixtures/wsi_features_h5.py).
test('reads CLAM-layout and TRIDENT-layout files written by h5py', async () => {
  const fixtures = new URL('./fixtures/', import.meta.url).pathname;
  const expectCoords = [0, 0, 512, 512, 1024, 0, 1536, 512, 2048, 0];
  const expectFeatures = Float32Array.from({ length: 15 }, (_, k) => Math.floor(k / 3) + (k % 3) / 10);

  const clam = await readFeaturesH5(join(fixtures, 'clam-features.h5'));
  assert.equal(clam.count, 5);
  assert.equal(clam.dim, 3);
  assert.deepEqual(Array.from(clam.coords), expectCoords);
  assert.deepEqual(clam.features, expectFeatures);
  assert.deepEqual(clam.meta, {
    slide: 'clam_slide',
    model: 'unknown',
    untrained: false,
    patchSize: 512,
    patchSizeLevel0: 512,
    patchLevel: 0,
  });

  const trident = await readFeaturesH5(join(fixtures, 'trident-features.h5'));
  assert.deepEqual(Array.from(trident.coords), expectCoords);
  assert.deepEqual(trident.features, expectFeatures);
  assert.equal(trident.meta.patchSize, 256);
  assert.equal(trident.meta.patchSizeLevel0, 512);
  assert.equal(trident.meta.targetMagnification, 20);
  assert.equal(trident.meta.level0Magnification, 40);
  assert.equal(trident.meta.slide, 'trident_slide');
});

// The acceptance check: h5py (Debian python3-h5py, installed by .ci/run) reads kep's file.
const python = '/usr/bin/python3';
const hasH5py = spawnSync(python, ['-c', 'import h5py'], { stdio: 'ignore' }).status === 0;

test(
  'h5py reads a features file written by kep',
  { skip: hasH5py ? false : `${python} has no h5py (apt-get install python3-h5py)` },
  async () => {
    const dir = tempDir();
    const path = join(dir, 'features.h5');
    const data = rows(513, 5);
    await writeFeaturesH5(path, { ...data, dim: 5, meta });
    const script = `
import json, sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    c, x = f["coords"], f["features"]
    print(json.dumps({
        "keys": sorted(f.keys()),
        "coords_dtype": str(c.dtype), "coords_shape": list(c.shape),
        "features_dtype": str(x.dtype), "features_shape": list(x.shape),
        "coords": c[:].tolist(), "features": x[:].astype(float).tolist(),
        "coords_attrs": {k: (v.item() if hasattr(v, "item") else v) for k, v in c.attrs.items()},
        "file_attrs": {k: (v.item() if hasattr(v, "item") else v) for k, v in f.attrs.items()},
    }))
`;
    const run = spawnSync(python, ['-c', script, path], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const got = JSON.parse(run.stdout) as {
      keys: string[];
      coords_dtype: string;
      coords_shape: number[];
      features_dtype: string;
      features_shape: number[];
      coords: number[][];
      features: number[][];
      coords_attrs: Record<string, unknown>;
      file_attrs: Record<string, unknown>;
    };
    assert.deepEqual(got.keys, ['coords', 'features']);
    assert.equal(got.coords_dtype, 'int64');
    assert.deepEqual(got.coords_shape, [513, 2]);
    assert.equal(got.features_dtype, 'float32');
    assert.deepEqual(got.features_shape, [513, 5]);
    assert.deepEqual(got.coords.flat(), data.coords);
    assert.deepEqual(Float32Array.from(got.features.flat()), data.features);
    assert.deepEqual(got.coords_attrs, {
      patch_size: 256,
      patch_size_level0: 512,
      patch_level: 0,
      target_magnification: 20,
      level0_magnification: 40,
      name: 'slide-a',
    });
    assert.deepEqual(got.file_attrs, {
      slide: 'slide-a',
      model: 'kep-tiny',
      untrained: 1,
      precision: 'fp32',
      embed_dim: 5,
      writer: 'kep',
    });
  },
);
