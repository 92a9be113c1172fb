// Does the image loader keep the engine fed? Times, on the same JPEGs and the same image tower:
//   load    — decoding + resize + centre crop + normalise alone (loader with its worker threads),
//   infer   — the tower alone on batches already in memory,
//   serial  — load a batch, then run it (no worker threads, no prefetch: nothing overlaps),
//   overlap — the loader's workers and prefetch feeding the tower as it runs.
// If loading hides behind inference, overlap ≈ max(load, infer) rather than load + infer.
// Run: npm run bench:image-loader [-- --images 128 --batch 16 --workers 2 --threads 1 --model vit-ti-16 --rounds 3]
// Each figure is the median of `rounds` round-robin repetitions.
// The last line is one JSON object.
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { ImageLoader } from '../src/data/image-loader.ts';
import { openaiClip } from '../src/data/preprocess.ts';
import { renderSynthetic, syntheticItems } from '../src/data/synthetic.ts';
import { Graph } from '../src/engine/graph.ts';
import { Rng, initialize } from '../src/engine/init.ts';
import { compile, ort } from '../src/engine/runtime.ts';
import { vit, vitConfigs } from '../src/models/vit.ts';
import { fmt } from './lib/harness.ts';

const { values: args } = parseArgs({
  options: {
    images: { type: 'string', default: '128' },
    batch: { type: 'string', default: '16' },
    workers: { type: 'string', default: '2' },
    threads: { type: 'string', default: '1' },
    model: { type: 'string', default: 'vit-ti-16' },
    rounds: { type: 'string', default: '3' },
  },
});
const [count, batch, workers, threads] = [args.images, args.batch, args.workers, args.threads].map(
  Number,
) as [number, number, number, number];
// The default is ViT-Ti/16 (DeiT-Tiny's shape, 5.7M parameters): on two cores its inference and
// the loading of 224-px patches take comparable time, so whether they overlap shows in the figures.
const configs = {
  ...vitConfigs,
  'vit-ti-16': { ...vitConfigs['vit-s-16'], dim: 192, heads: 3, mlpDim: 768 },
};
const model = args.model as keyof typeof configs;
const rounds = Number(args.rounds);
if (!(model in configs)) throw new Error(`--model: one of ${Object.keys(configs).join(', ')}`);

const dir = mkdtempSync(join(tmpdir(), 'kep-bench-loader-'));
try {
  // 256-px JPEGs, the pre-resized form pathology patch sets usually come in.
  const items = syntheticItems({ count, seed: 1, size: 256 });
  const paths = await Promise.all(
    items.map(async (item, i) => {
      const img = renderSynthetic(item, 256, 1, i);
      const p = join(dir, `${i}.jpg`);
      await sharp(img.data, { raw: { width: 256, height: 256, channels: 3 } })
        .jpeg({ quality: 90 })
        .toFile(p);
      return p;
    }),
  );
  const pre = openaiClip;
  const per = 3 * pre.size * pre.size;

  const g = new Graph(model);
  g.output(
    'features',
    vit(g, g.input('pixels', 'float32', ['batch', 3, 224, 224]), { ...configs[model], imageSize: 224 }),
  );
  const paramData = new Map(
    [...g.params.values()].map((p) => [
      p.name,
      initialize(
        p.init,
        p.shape.reduce((a, b) => a * b, 1),
        new Rng(0, p.name),
      ),
    ]),
  );
  const session = await compile(g, { paramData }, { threads });
  const infer = (pixels: Float32Array, n: number) =>
    session.run({ pixels: new ort.Tensor('float32', pixels, [n, 3, pre.size, pre.size]) });

  const seconds = async (fn: () => Promise<void>): Promise<number> => {
    const t0 = performance.now();
    await fn();
    return (performance.now() - t0) / 1000;
  };

  // Worker start-up (module loading) is paid once per loader; warm it before timing.
  const loader = new ImageLoader(paths, { preprocess: pre, batchSize: batch, workers, prefetch: 2 });
  for await (const b of loader.batches({ order: [0] })) await infer(b.pixels, b.count);

  const inline = new ImageLoader(paths, { preprocess: pre, batchSize: batch, workers: 0, prefetch: 1 });
  const loaded: Float32Array[] = [];
  const times = {
    load: [] as number[],
    infer: [] as number[],
    overlap: [] as number[],
    serial: [] as number[],
  };
  // Round-robin rounds, medians: on a shared machine, other work comes and goes between stages.
  for (let round = 0; round < rounds; round++) {
    loaded.length = 0;
    times.load.push(
      await seconds(async () => {
        for await (const b of loader.batches({ epoch: round })) loaded.push(b.pixels);
      }),
    );
    times.infer.push(
      await seconds(async () => {
        for (const px of loaded) await infer(px, px.length / per);
      }),
    );
    times.overlap.push(
      await seconds(async () => {
        for await (const b of loader.batches({ epoch: round })) await infer(b.pixels, b.count);
      }),
    );
    times.serial.push(
      await seconds(async () => {
        // Main thread, prefetch 1: the next batch starts only when the consumer asks for it.
        for await (const b of inline.batches({ epoch: round })) await infer(b.pixels, b.count);
      }),
    );
  }
  await loader.close();
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  const [load, inferOnly, overlap, serial] = [times.load, times.infer, times.overlap, times.serial].map(
    median,
  ) as [number, number, number, number];
  await session.release();

  const hidden = (load + inferOnly - overlap) / Math.min(load, inferOnly);
  const line = {
    images: count,
    batch,
    workers,
    ort_threads: threads,
    model,
    rounds,
    load_s: Number(fmt(load)),
    infer_s: Number(fmt(inferOnly)),
    serial_s: Number(fmt(serial)),
    overlap_s: Number(fmt(overlap)),
    load_img_s: Number(fmt(count / load, 1)),
    overlap_img_s: Number(fmt(count / overlap, 1)),
    hidden_fraction: Number(fmt(hidden)),
    loadavg_1m: Number(fmt(loadavg()[0]!)),
  };
  process.stderr.write(
    `${count} JPEGs 256→224, ${model}, batch ${batch}, ${workers} workers, ORT ${threads} thread(s):\n` +
      `  load ${fmt(load)} s, infer ${fmt(inferOnly)} s, serial ${fmt(serial)} s, overlapped ${fmt(overlap)} s` +
      ` (${fmt(hidden * 100, 0)}% of the shorter stage hidden); load average ${fmt(loadavg()[0]!)}\n`,
  );
  console.log(JSON.stringify(line));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
