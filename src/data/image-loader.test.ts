import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadImage } from './image.ts';
import { ImageLoader, type LoadedBatch, shuffledOrder } from './image-loader.ts';
import { type PreprocessConfig, batchImages, openaiClip } from './preprocess.ts';
import { writeSyntheticSet } from './synthetic.ts';

const dir = mkdtempSync(join(tmpdir(), 'kep-loader-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let paths: string[] = [];
before(async () => {
  const set = await writeSyntheticSet(dir, { count: 20, seed: 5, size: 40 });
  paths = set.items.map((i) => join(dir, i.name));
});

const evalCfg: PreprocessConfig = { ...openaiClip, size: 32 };
const trainCfg: PreprocessConfig = { ...openaiClip, size: 32, resize: 'none', crop: 'random' };
const PER = 3 * 32 * 32;

async function collect(
  loader: ImageLoader,
  opts: Parameters<ImageLoader['batches']>[0] = {},
): Promise<LoadedBatch[]> {
  const out: LoadedBatch[] = [];
  for await (const b of loader.batches(opts)) out.push(b);
  return out;
}

/** Image i's pixels from a list of batches. */
function pixelsOf(batches: LoadedBatch[], index: number): Float32Array {
  for (const b of batches) {
    const k = b.indices.indexOf(index);
    if (k >= 0) return b.pixels.subarray(k * PER, (k + 1) * PER);
  }
  throw new Error(`image ${index} not loaded`);
}

test('evaluation batches equal preprocessing each image directly, in order, with or without workers', async () => {
  const expected = batchImages(await Promise.all(paths.map((p) => loadImage(p))), evalCfg).data;
  for (const workers of [0, 2]) {
    const loader = new ImageLoader(paths, { preprocess: evalCfg, batchSize: 6, workers });
    const batches = await collect(loader);
    await loader.close();
    assert.deepEqual(
      batches.map((b) => [b.count, b.requested]),
      [
        [6, 6],
        [6, 6],
        [6, 6],
        [2, 2],
      ],
    );
    assert.deepEqual(
      batches.flatMap((b) => b.indices),
      [...Array(20).keys()],
    );
    const all = new Float32Array(20 * PER);
    batches.forEach((b, i) => all.set(b.pixels, i * 6 * PER));
    assert.deepEqual(all, expected, `workers ${workers}`);
  }
});

test('random crops depend on (seed, epoch, index) only: not on workers, batch size or order', async () => {
  const a = new ImageLoader(paths, { preprocess: trainCfg, batchSize: 4, workers: 2, seed: 9 });
  const b = new ImageLoader(paths, { preprocess: trainCfg, batchSize: 7, workers: 0, seed: 9 });
  const c = new ImageLoader(paths, { preprocess: trainCfg, batchSize: 4, workers: 1, seed: 10 });
  const a0 = await collect(a, { epoch: 0 });
  const a1 = await collect(a, { epoch: 1 });
  const b0 = await collect(b, { epoch: 0, shuffle: true });
  const c0 = await collect(c, { epoch: 0 });
  await Promise.all([a.close(), b.close(), c.close()]);
  let differentEpoch = 0;
  let differentSeed = 0;
  for (let i = 0; i < 20; i++) {
    assert.deepEqual(pixelsOf(a0, i), pixelsOf(b0, i), `image ${i}`);
    if (pixelsOf(a0, i).some((v, k) => v !== pixelsOf(a1, i)[k])) differentEpoch++;
    if (pixelsOf(a0, i).some((v, k) => v !== pixelsOf(c0, i)[k])) differentSeed++;
  }
  // A 32-px crop of a 40-px image has 81 positions: a few images may repeat theirs by chance.
  assert.ok(differentEpoch >= 15, `${differentEpoch} of 20 crops changed with the epoch`);
  assert.ok(differentSeed >= 15, `${differentSeed} of 20 crops changed with the seed`);
});

test('shuffles are seeded permutations, one per epoch', () => {
  const s0 = shuffledOrder(50, 1, 0);
  assert.deepEqual(
    [...s0].sort((x, y) => x - y),
    [...Array(50).keys()],
  );
  assert.deepEqual(s0, shuffledOrder(50, 1, 0));
  assert.notDeepEqual(s0, shuffledOrder(50, 1, 1));
  assert.notDeepEqual(s0, shuffledOrder(50, 2, 0));
});

test('unreadable images are left out of their batch and reported once, never fatal', async () => {
  const broken = join(dir, 'broken.png');
  writeFileSync(broken, 'not a png');
  const small = join(dir, 'small.png');
  writeFileSync(
    small,
    await (
      await import('sharp')
    )
      .default({ create: { width: 20, height: 20, channels: 3, background: '#888' } })
      .png()
      .toBuffer(),
  );
  const list = [paths[0]!, broken, paths[1]!, join(dir, 'missing.png'), small, paths[2]!];
  const seen: number[] = [];
  const loader = new ImageLoader(list, {
    preprocess: trainCfg,
    batchSize: 4,
    workers: 2,
    onUnreadable: (u) => seen.push(u.index),
  });
  for (const epoch of [0, 1]) {
    const batches = await collect(loader, { epoch });
    assert.deepEqual(
      batches.map((b) => [b.indices, b.count, b.requested, b.pixels.length / PER]),
      [
        [[0, 2], 2, 4, 2],
        [[5], 1, 2, 1],
      ],
    );
  }
  await loader.close();
  assert.deepEqual(seen, [1, 3, 4]);
  const report = loader.unreadable;
  assert.deepEqual(
    report.map((u) => [u.index, u.path]),
    [
      [1, broken],
      [3, join(dir, 'missing.png')],
      [4, small],
    ],
  );
  assert.match(report[0]!.reason, /cannot read image .*broken\.png/);
  assert.match(report[2]!.reason, /random crop 32×32 is larger than the image \(20×20\)/);
  assert.match(loader.unreadableReport(), /^index\tpath\treason\n1\t.*broken\.png\t/);
});

test('a batch with nothing readable is skipped; dropLast leaves out a short last batch', async () => {
  const list = [join(dir, 'x1.png'), join(dir, 'x2.png'), paths[0]!, paths[1]!, paths[2]!];
  const loader = new ImageLoader(list, { preprocess: evalCfg, batchSize: 2, workers: 0, dropLast: true });
  const batches = await collect(loader);
  assert.deepEqual(
    batches.map((b) => b.indices),
    [[2, 3]],
  );
  assert.equal(loader.batchCount(), 2);
  await assert.rejects(
    collect(loader, { order: [0, 7] }),
    /order\[1\] = 7 is not an index of this 5-image set/,
  );
});

test('prefetch is bounded, and a consumer that stops early cancels the queued work', async () => {
  let asked = 0;
  const source = {
    size: 20,
    imagePath(i: number): string {
      asked++;
      return paths[i]!;
    },
  };
  const loader = new ImageLoader(source, { preprocess: evalCfg, batchSize: 2, workers: 1, prefetch: 3 });
  const it = loader.batches();
  const first = await it.next();
  assert.equal(first.done, false);
  // Give the worker time to run ahead: it may load at most `prefetch` batches beyond this one.
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(asked <= 2 * (1 + 3), `${asked} images asked for with prefetch 3`);
  assert.ok(asked >= 2 * 2, `${asked}: loading continues while the consumer holds a batch`);
  await it.return(undefined);
  await loader.close();
  await assert.rejects(collect(loader), /image loader closed/);
});

test('bad options are refused', () => {
  assert.throws(
    () => new ImageLoader(paths, { preprocess: evalCfg, batchSize: 0 }),
    /batchSize must be a positive integer/,
  );
  assert.throws(
    () => new ImageLoader(paths, { preprocess: evalCfg, batchSize: 2, workers: -1 }),
    /workers must be ≥ 0/,
  );
  assert.throws(
    () => new ImageLoader(paths, { preprocess: evalCfg, batchSize: 2, prefetch: 0 }),
    /prefetch must be ≥ 1/,
  );
});
