// Whole-slide patch throughput on the shared slides, and where the time goes:
//   read      — read + preprocess alone (OpenSlide region reads with tile decoding, alpha drop,
//               256 → 224 resize, normalise) through the reader workers, for 0/1/2 workers;
//   embed     — read + embed with ViT-B/16 and CTransPath (random weights: speed does not depend
//               on them), reader workers feeding ONNX Runtime, in fp32 and int8.
// Per stage the time split is reported per patch: read/decode (the wall time of a batch's reads,
// which are issued together and decoded on OpenSlide's native threads), resize and normalise (worker
// thread) and inference (main thread). The main thread either runs the model or waits for the
// reader, so whichever of the two takes more of its time is the bottleneck.
// Patches are a 256-px grid at level 0 of each slide (cmu_small_region is 20× native, so these are
// the MI-Zero patches; the TCGA slide states no magnification and is read at level 0 as is).
// Run: npm run bench:wsi [-- --patches 64 --batch 32 --threads 1 --workers 0,1,2 --precision fp32,int8]
// The last line is one JSON object.
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { openaiClip } from '../src/data/preprocess.ts';
import { PatchReaderPool } from '../src/wsi/patch-reader.ts';
import { fmt } from './lib/harness.ts';
import { PATCH, patchGrid, readEmbed } from './lib/slide-embed.ts';

const { values: args } = parseArgs({
  options: {
    patches: { type: 'string', default: '64' },
    batch: { type: 'string', default: '32' },
    threads: { type: 'string', default: '1' },
    workers: { type: 'string', default: '0,1,2' },
    'embed-workers': { type: 'string', default: '1' },
    precision: { type: 'string', default: 'fp32,int8' },
  },
});
const precisions = args.precision.split(',').map((p) => {
  if (p !== 'fp32' && p !== 'int8') throw new Error(`--precision: fp32 and/or int8, got ${p}`);
  return p;
});
const embedPatches = Number(args.patches);
const batchSize = Number(args.batch);
const threads = Number(args.threads);
const workerCounts = args.workers.split(',').map(Number);
const embedWorkers = Number(args['embed-workers']);

const SLIDES = ['../shared/data/wsi/cmu_small_region.svs', '../shared/data/wsi/tcga-cr-7395-01a-01-ts1.svs'];

const perPatch = (ms: number, n: number): number => Number(fmt(ms / n, 2));

process.stderr.write(
  `load average before: ${loadavg()
    .map((v) => v.toFixed(2))
    .join(' ')}\n`,
);
const results: Record<string, unknown>[] = [];

const grids = new Map<string, Int32Array>();
for (const path of SLIDES) grids.set(path, await patchGrid(path));
for (const path of SLIDES) {
  const coords = grids.get(path)!;
  const n = coords.length / 2;
  const spec = { level: 0, readSize: PATCH, patchSize: PATCH, preprocess: openaiClip };
  for (const workers of workerCounts) {
    // Workers are started (tsx, OpenSlide) on patches of the other slide first: a run starts its
    // pool once, so start-up is not part of a slide's rate.
    const pool = new PatchReaderPool(workers);
    const other = grids.get(SLIDES.find((p) => p !== path)!)!.slice(0, 2 * Math.max(1, workers));
    for await (const _ of pool.batches(
      SLIDES.find((p) => p !== path)!,
      other,
      spec,
      { batchSize: 1 },
    ))
      void _;
    const t0 = performance.now();
    const split = { readMs: 0, resizeMs: 0, normaliseMs: 0 };
    for await (const b of pool.batches(path, coords, spec, { batchSize })) {
      split.readMs += b.timings.readMs;
      split.resizeMs += b.timings.resizeMs;
      split.normaliseMs += b.timings.normaliseMs;
    }
    const seconds = (performance.now() - t0) / 1000;
    await pool.close();
    const row = {
      stage: 'read+preprocess',
      slide: path.split('/').pop(),
      workers,
      patches: n,
      patches_per_s: Number(fmt(n / seconds, 1)),
      ms_per_patch: {
        read_decode: perPatch(split.readMs, n),
        resize: perPatch(split.resizeMs, n),
        normalise: perPatch(split.normaliseMs, n),
      },
    };
    results.push(row);
    process.stderr.write(`${JSON.stringify(row)}\n`);
  }
}

const cmu = SLIDES[0]!;
const cmuCoords = grids.get(cmu)!.slice(0, embedPatches * 2);
for (const name of ['vit-b-16', 'ctranspath'])
  for (const precision of precisions) {
    const stats = await readEmbed({
      source: { name, threads, precision },
      slide: cmu,
      coords: cmuCoords,
      warm: { slide: SLIDES[1]!, coords: grids.get(SLIDES[1]!)!.slice(0, 2 * Math.max(1, embedWorkers)) },
      workers: embedWorkers,
      batchSize,
    });
    const n = stats.patches;
    const row = {
      stage: 'read+embed',
      model: name,
      precision,
      threads,
      workers: embedWorkers,
      patches: n,
      patches_per_s: Number(fmt(n / stats.seconds, 2)),
      ms_per_patch: {
        read_decode: perPatch(stats.readMs, n),
        resize: perPatch(stats.resizeMs, n),
        normalise: perPatch(stats.normaliseMs, n),
        inference: perPatch(stats.inferenceMs, n),
        waiting_for_reader: perPatch(stats.waitMs, n),
      },
      // The first batch's preparation, which nothing overlaps (workers already started).
      first_batch_ms: Number(fmt(stats.startupMs, 0)),
      // The main thread is either running the model or waiting for the reader: the larger share of its
      // time (start-up aside) is what limits the rate.
      bottleneck: stats.inferenceMs >= stats.waitMs ? 'inference' : 'reading/preprocessing',
    };
    results.push(row);
    process.stderr.write(`${JSON.stringify(row)}\n`);
  }
process.stderr.write(
  `load average after: ${loadavg()
    .map((v) => v.toFixed(2))
    .join(' ')}\n`,
);
console.log(JSON.stringify({ batch: batchSize, threads, results }));
