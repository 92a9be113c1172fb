// Engine benchmark: kep (ONNX Runtime) against PyTorch in one run on the same machine, same
// thread count. Run: npm run bench:engine [-- --threads 2 --iters 3 --only gemm,vit_b16_infer,vit_s16_train]
// The last line printed is one JSON object (see the keys below).
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Graph } from '../src/engine/graph.ts';
import { Rng, initialize } from '../src/engine/init.ts';
import * as F from '../src/engine/ops/index.ts';
import { compile, ort } from '../src/engine/runtime.ts';
import { type ModelBuilder, Trainer } from '../src/engine/trainer.ts';
import { gradients } from '../src/engine/autodiff.ts';
import { serializeGraph } from '../src/engine/onnx.ts';
import { appendAdamW, defaultAdamW } from '../src/engine/optim.ts';
import { bert, bertConfigs } from '../src/models/bert.ts';
import { vit, vitConfigs } from '../src/models/vit.ts';
import { fmt, peakGflops, runReference, time } from './lib/harness.ts';

const { values: args } = parseArgs({
  options: {
    threads: { type: 'string', default: '2' },
    iters: { type: 'string', default: '3' },
    only: { type: 'string', default: 'gemm,vit_b16_infer,vit_s16_train,sessions' },
    'no-reference': { type: 'boolean', default: false },
  },
});
const threads = Number(args.threads);
const iters = Number(args.iters);
const only = new Set(args.only.split(','));
const runtime = { threads };
const log = (s: string): void => void process.stderr.write(`${s}\n`);

const randn = (n: number, seed: number): Float32Array =>
  initialize({ kind: 'normal', std: 1 }, n, new Rng(seed, 'bench'));

async function gemm(): Promise<{ single: number; chained: number }> {
  const n = 1024;
  const chain = 8;
  const weights = Array.from(
    { length: chain },
    (_, i) => new ort.Tensor('float32', randn(n * n, 2 + i), [n, n]),
  );
  const a = new ort.Tensor('float32', randn(n * n, 1), [n, n]);
  // One product per call (data crosses the JS boundary each time), and a chain of products inside
  // one graph, as in a real model; the scale keeps values finite.
  const build = (k: number): Graph => {
    const g = new Graph(`gemm${k}`);
    const x = g.input('a', 'float32', [n, n]);
    const ws = Array.from({ length: k }, (_, i) => g.input(`w${i}`, 'float32', [n, n]));
    g.output(
      'y',
      ws.reduce((acc, w) => F.mul(F.matmul(acc, w), 1 / 32), x),
    );
    return g;
  };
  const flop = 2 * n ** 3;
  const rate = async (k: number, reps: number): Promise<number> => {
    const s = await compile(build(k), {}, runtime);
    const feeds: Record<string, ort.Tensor> = { a };
    for (let i = 0; i < k; i++) feeds[`w${i}`] = weights[i]!;
    const t = await time(() => s.run(feeds), reps);
    await s.release();
    return (k * flop) / t.median / 1e9;
  };
  return { single: await rate(1, iters * 5), chained: await rate(chain, iters) };
}

async function vitB16Infer(batch = 8): Promise<number> {
  const cfg = vitConfigs['vit-b-16'];
  const g = new Graph('vit-b-16');
  const pixels = g.input('pixels', 'float32', ['batch', 3, 224, 224]);
  g.output('features', vit(g, pixels, cfg));
  const paramData = new Map(
    [...g.params.values()].map((p) => [
      p.name,
      initialize(
        p.init,
        p.shape.reduce((x, y) => x * y, 1),
        new Rng(0, p.name),
      ),
    ]),
  );
  const s = await compile(g, { paramData }, runtime);
  log(`  ViT-B/16 inference session created in ${fmt(s.createMs / 1000)} s`);
  const feeds = { pixels: new ort.Tensor('float32', randn(batch * 3 * 224 * 224, 7), [batch, 3, 224, 224]) };
  const t = await time(() => s.run(feeds), iters);
  await s.release();
  return batch / t.median;
}

async function vitS16Train(
  batch = 16,
  classes = 16,
): Promise<{ stepsPerS: number; createS: number; loss: number[] }> {
  const cfg = { ...vitConfigs['vit-s-16'], numClasses: classes };
  const trainer = await Trainer.create(
    (g) => {
      const pixels = g.input('pixels', 'float32', ['batch', 3, 224, 224]);
      const labels = g.input('labels', 'int64', ['batch']);
      return { loss: F.crossEntropy(vit(g, pixels, cfg, { training: true }), labels) };
    },
    { runtime, optimizer: { weightDecay: 0.05 } },
  );
  const batchFeeds = {
    pixels: new ort.Tensor('float32', randn(batch * 3 * 224 * 224, 11), [batch, 3, 224, 224]),
    labels: new ort.Tensor(
      'int64',
      BigInt64Array.from({ length: batch }, (_, i) => BigInt(i % classes)),
      [batch],
    ),
  };
  const losses: number[] = [];
  const t0 = performance.now();
  losses.push((await trainer.trainStep(batchFeeds, 1e-4)).loss); // includes building and session creation
  const createS = (performance.now() - t0) / 1000;
  const t = await time(async () => losses.push((await trainer.trainStep(batchFeeds, 1e-4)).loss), iters, 0);
  await trainer.release();
  return { stepsPerS: 1 / t.median, createS, loss: losses };
}

/** Graph build, serialisation and ONNX Runtime session creation for full training graphs. */
async function trainSessionCosts(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const cases: [string, ModelBuilder][] = [
    [
      'bert_base',
      (g) => {
        const ids = g.input('ids', 'int64', ['batch', 'seq']);
        const mask = g.input('mask', 'int64', ['batch', 'seq']);
        return {
          loss: F.reduceMean(
            F.mul(bert(g, ids, mask, bertConfigs['bert-base'], { training: true }).pooled, 1),
          ),
        };
      },
    ],
    [
      'vit_b16',
      (g) => {
        const pixels = g.input('pixels', 'float32', ['batch', 3, 224, 224]);
        return { loss: F.reduceMean(vit(g, pixels, vitConfigs['vit-b-16'], { training: true })) };
      },
    ],
  ];
  for (const [name, builder] of cases) {
    const t0 = performance.now();
    const g = new Graph(name);
    const { loss } = builder(g, 'train');
    const ps = g.trainableParams();
    const grads = gradients(
      g,
      loss!,
      ps.map((p) => g.value(p.name)),
    );
    const io = appendAdamW(
      g,
      ps.map((p) => ({ name: p.name, param: g.value(p.name), grad: grads.get(p.name)!, decay: p.decay })),
      defaultAdamW,
    );
    g.output('loss', loss!);
    for (const [k, t] of io.params) g.output(`new.${k}`, t);
    const t1 = performance.now();
    const ser = serializeGraph(g);
    const t2 = performance.now();
    const session = await ort.InferenceSession.create(ser.bytes, {
      intraOpNumThreads: threads,
      graphOptimizationLevel: 'all',
    });
    const t3 = performance.now();
    await session.release();
    out[`${name}_train_graph_nodes`] = g.nodes.length;
    out[`${name}_train_graph_build_s`] = Number(fmt((t1 - t0) / 1000, 2));
    out[`${name}_train_graph_serialize_s`] = Number(fmt((t2 - t1) / 1000, 2));
    out[`${name}_train_session_create_s`] = Number(fmt((t3 - t2) / 1000, 2));
    log(
      `${name} training graph: ${g.nodes.length} nodes, built in ${fmt((t1 - t0) / 1000)} s, serialised in ${fmt((t2 - t1) / 1000)} s, session created in ${fmt((t3 - t2) / 1000)} s`,
    );
  }
  return out;
}

const reference = args['no-reference']
  ? {}
  : runReference(fileURLToPath(new URL('./engine_torch.py', import.meta.url)), [
      '--threads',
      String(threads),
      '--only',
      [...only].filter((k) => k !== 'sessions').join(','),
    ]);
log(`reference: ${JSON.stringify(reference)}`);

const result: Record<string, number | string> = { threads, ort_version: ort.env.versions.common };
const peak = peakGflops(threads);
result.peak_gflops = Number(fmt(peak.gflops, 1));
result.peak_clock_ghz = Number(fmt(peak.ghz, 2)); // the kernel's (nominal) clock; boost clocks are higher
log(
  `CPU: ${peak.model}, ${threads} threads × ${peak.flopsPerCycle} FLOP/cycle × ${fmt(peak.ghz)} GHz ≈ ${fmt(peak.gflops, 1)} GFLOP/s peak at the clock the kernel reports (boost clocks, which the hypervisor hides, are higher)`,
);

const ref = (k: string): number | undefined =>
  typeof reference[k] === 'number' ? (reference[k] as number) : undefined;
const ratio = (a: number, b: number | undefined): number | undefined =>
  b ? Number(fmt(a / b, 3)) : undefined;

if (only.has('gemm')) {
  const r = await gemm();
  result.gemm_gflops = Number(fmt(r.chained, 1));
  result.gemm_single_call_gflops = Number(fmt(r.single, 1));
  const tg = ref('gemm_gflops');
  if (tg) result.torch_gemm_gflops = tg;
  log(
    `GEMM 1024³: kep ${fmt(r.single, 1)} GFLOP/s one call, ${fmt(r.chained, 1)} chained in one graph; torch ${tg ?? '–'}; peak ≈ ${fmt(peak.gflops, 1)}`,
  );
}
if (only.has('vit_b16_infer')) {
  const ips = await vitB16Infer();
  const t = ref('vit_b16_infer_img_s');
  result.vit_b16_infer_img_s = Number(fmt(ips, 3));
  if (t) result.torch_vit_b16_infer_img_s = t;
  const r = ratio(ips, t);
  if (r !== undefined) result.vit_b16_infer_ratio = r;
  log(`ViT-B/16 forward, batch 8: kep ${fmt(ips, 3)} img/s, torch ${t ?? '–'} img/s, ratio ${r ?? '–'}`);
}
if (only.has('vit_s16_train')) {
  const r = await vitS16Train();
  const t = ref('vit_s16_train_steps_s');
  result.vit_s16_train_steps_s = Number(fmt(r.stepsPerS, 4));
  result.vit_s16_train_first_step_s = Number(fmt(r.createS, 2));
  if (t) result.torch_vit_s16_train_steps_s = t;
  const rr = ratio(r.stepsPerS, t);
  if (rr !== undefined) result.vit_s16_train_ratio = rr;
  log(
    `ViT-S/16 train step, batch 16: kep ${fmt(r.stepsPerS, 4)} steps/s (first step incl. graph build + session ${fmt(r.createS, 1)} s; losses ${r.loss.map((l) => fmt(l, 3)).join(' ')}), torch ${t ?? '–'} steps/s, ratio ${rr ?? '–'}`,
  );
}
if (only.has('sessions')) Object.assign(result, await trainSessionCosts());
console.log(JSON.stringify(result));
