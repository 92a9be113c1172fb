// Does the image loader keep the engine fed? Times, on the same JPEGs and the same image tower:
//   load    — decoding + resize + centre crop + normalise alone (loader with its worker threads),
//   infer   — the tower alone on batches already in memory,
//   serial  — load a batch, then run it (no worker threads, no prefetch: nothing overlaps),
//   overlap — the loader's workers and prefetch feeding the tower as it runs.
// If loading hides behind inference, overlap ≈ max(load, infer) rather than load + infer.
// Run: npm run bench:image-loader [-- --images 128 --batch 16 --workers 2 --threads 1 --model vit-mini-16 --rounds 3
//   --consumer tower|sleep|busy --ms 150]
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
import { initialParameters } from '../src/engine/init.ts';
import { compile, ort } from '../src/engine/runtime.ts';
import { vit, vitConfigs } from '../src/models/vit.ts';
import { fileURLToPath } from 'node:url';
import { fmt, runReference } from './lib/harness.ts';

const { values: args } = parseArgs({
  options: {
    images: { type: 'string', default: '128' },
    batch: { type: 'string', default: '16' },
    workers: { type: 'string', default: '2' },
    threads: { type: 'string', default: '1' },
    model: { type: 'string', default: 'vit-mini-16' },
    rounds: { type: 'string', default: '3' },
    consumer: { type: 'string', default: 'tower' },
    ms: { type: 'string', default: '150' },
  },
});
const [count, batch, workers, threads] = [args.images, args.batch, args.workers, args.threads].map(
  Number,
) as [number, number, number, number];
// KEP's towers (ViT-B/16: ~1.8 images/s on two cores) are far slower than loading, so overlap
// would not show with them. The default is a small ViT (4 blocks of width 96) whose inference takes
// about as long as loading the same images, which is where overlapping matters and shows;
// 'vit-ti-16' (DeiT-Tiny's shape) and the registry's ViTs can be timed too.
const configs = {
  ...vitConfigs,
  'vit-ti-16': { ...vitConfigs['vit-s-16'], dim: 192, heads: 3, mlpDim: 768 },
  'vit-mini-16': { ...vitConfigs['vit-s-16'], dim: 96, depth: 4, heads: 3, mlpDim: 384 },
};
const model = args.model as keyof typeof configs;
const rounds = Number(args.rounds);
const consumer = args.consumer;
const consumerMs = Number(args.ms);
if (!['tower', 'sleep', 'busy'].includes(consumer)) throw new Error('--consumer: tower, sleep or busy');
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
  const paramData = initialParameters(g.params.values());
  const session = await compile(g, { paramData }, { threads });
  const busyUntil = (ms: number): void => {
    const end = performance.now() + ms;
    while (performance.now() < end);
  };
  // 'sleep' and 'busy' replace the tower by a fixed time per batch — idle, or blocking the main
  // thread — to see the pipeline's overlap apart from competition for the CPU.
  const infer = async (pixels: Float32Array, n: number): Promise<unknown> => {
    if (consumer === 'sleep') return new Promise((r) => setTimeout(r, consumerMs));
    if (consumer === 'busy') return busyUntil(consumerMs);
    return session.run({ pixels: new ort.Tensor('float32', pixels, [n, 3, pre.size, pre.size]) });
  };

  // CPU seconds of the whole process (main thread, workers, ONNX Runtime's threads) per stage, to
  // tell overlap (CPU seconds ≥ wall seconds) from stages taking turns on a busy machine.
  const cpu: Record<string, number[]> = { load: [], infer: [], overlap: [], serial: [] };
  let stage = 'load';
  const seconds = async (fn: () => Promise<void>): Promise<number> => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await fn();
    const c = process.cpuUsage(c0);
    cpu[stage]!.push((c.user + c.system) / 1e6);
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
    stage = 'load';
    times.load.push(
      await seconds(async () => {
        for await (const b of loader.batches({ epoch: round })) loaded.push(b.pixels);
      }),
    );
    stage = 'infer';
    times.infer.push(
      await seconds(async () => {
        for (const px of loaded) await infer(px, px.length / per);
      }),
    );
    stage = 'overlap';
    times.overlap.push(
      await seconds(async () => {
        for await (const b of loader.batches({ epoch: round })) await infer(b.pixels, b.count);
      }),
    );
    stage = 'serial';
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
  // Loading alone against torch's DataLoader (worker processes) on the same files and settings.
  const reference = runReference(fileURLToPath(new URL('./image_loader_torch.py', import.meta.url)), [
    '--dir',
    dir,
    '--batch',
    String(batch),
    '--workers',
    String(workers),
    '--rounds',
    String(rounds),
  ]);
  const torchLoad = reference.load_s as number;
  const line = {
    images: count,
    batch,
    workers,
    ort_threads: threads,
    model: consumer === 'tower' ? model : `${consumer} ${consumerMs} ms/batch`,
    rounds,
    load_s: Number(fmt(load)),
    infer_s: Number(fmt(inferOnly)),
    serial_s: Number(fmt(serial)),
    overlap_s: Number(fmt(overlap)),
    load_img_s: Number(fmt(count / load, 1)),
    overlap_img_s: Number(fmt(count / overlap, 1)),
    hidden_fraction: Number(fmt(hidden)),
    cpu_s: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, Number(fmt(median(v)))])),
    torch_load_s: torchLoad,
    load_ratio: Number(fmt(torchLoad / load, 3)),
    loadavg_1m: Number(fmt(loadavg()[0]!)),
  };
  process.stderr.write(
    `${count} JPEGs 256→224, ${consumer === 'tower' ? model : `${consumer} ${consumerMs} ms/batch`}, batch ${batch}, ${workers} workers, ORT ${threads} thread(s):\n` +
      `  load ${fmt(load)} s, infer ${fmt(inferOnly)} s, serial ${fmt(serial)} s, overlapped ${fmt(overlap)} s` +
      ` (${fmt(hidden * 100, 0)}% of the shorter stage hidden); load average ${fmt(loadavg()[0]!)}\n` +
      `  loading alone: kep ${fmt(load)} s, torch DataLoader ${torchLoad} s (kep ÷ torch speed ${fmt(torchLoad / load, 3)})\n`,
  );
  console.log(JSON.stringify(line));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
