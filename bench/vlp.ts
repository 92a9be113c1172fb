// KEP (S2) training throughput in image–caption pairs per second, kep against PyTorch in the same
// run: ViT-B/16 image tower + BERT-base text tower + frozen BERT-base knowledge tower, batch 32,
// captions of 64 tokens, one fused AdamW step per batch (the whole batch in one graph: no
// micro-batching), with activation checkpointing per transformer block (--recompute blocks, the
// default; none keeps every activation) and, beside it, `kep train vlp`'s GradCache path (--micro 8).
// Each kep path runs in its own process so its peak resident memory (VmHWM) is its own.
// Run: npm run bench:vlp [-- --threads 2 --iters 2 --batch 32 --micro 8 --recompute blocks]. The last
// line is JSON; --path fused|gradcache runs one kep path only (what the parent spawns).
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Rng } from '../src/engine/init.ts';
import { ort } from '../src/engine/runtime.ts';
import { Trainer } from '../src/engine/trainer.ts';
import { kepSpecNamed } from '../src/train/vlp-setup.ts';
import { vlpBuilder } from '../src/train/vlp-step.ts';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readPairs } from '../src/data/pairs.ts';
import { writeSyntheticSet } from '../src/data/synthetic.ts';
import { readMetrics } from '../src/train/loop.ts';
import { trainVisionLanguage, vlpConfigSchema } from '../src/train/vlp.ts';
import { fmt, runReference, time } from './lib/harness.ts';

const { values: args } = parseArgs({
  options: {
    threads: { type: 'string', default: '2' },
    iters: { type: 'string', default: '2' },
    batch: { type: 'string', default: '32' },
    seq: { type: 'string', default: '64' },
    // Micro-batch size of the GradCache path: the batch goes through `kep train vlp` (same gradient
    // as the whole batch) on generated 224-px pairs, timed from its metrics.
    micro: { type: 'string', default: '8' },
    recompute: { type: 'string', default: 'blocks' },
    // ONNX Runtime's CPU memory arena for the fused step: auto (off with recomputation), on, off.
    arena: { type: 'string', default: 'auto' },
    path: { type: 'string', default: 'both' },
  },
});
const recompute = args.recompute as 'none' | 'blocks';
if (!['none', 'blocks'].includes(recompute)) throw new Error(`--recompute: none or blocks, got ${recompute}`);
if (!['auto', 'on', 'off'].includes(args.arena))
  throw new Error(`--arena: auto, on or off, got ${args.arena}`);
const arena = args.arena === 'auto' ? {} : { memoryArena: args.arena === 'on' };
if (!['both', 'fused', 'gradcache'].includes(args.path))
  throw new Error(`--path: both, fused or gradcache, got ${args.path}`);
const threads = Number(args.threads);
const iters = Number(args.iters);
const batch = Number(args.batch);
const seq = Number(args.seq);
const size = 224;

async function kepPairsPerSecond(): Promise<{ pairs: number; sessionSeconds: number }> {
  // The graph `kep train vlp` trains (one factory, KEP's loss from src/nn/losses.ts), whole batch.
  const entry = kepSpecNamed('kep-16');
  const spec = { ...entry, config: { ...entry.config, text: { ...entry.config.text, maxPositions: seq } } };
  const trainer = await Trainer.create(vlpBuilder(spec, vlpConfigSchema.parse({}), false, false), {
    runtime: { threads, ...arena },
    optimizer: { beta1: 0.9, beta2: 0.98, eps: 1e-6, weightDecay: 0.2 },
    recompute,
  });
  const rng = new Rng(0, 'bench-vlp');
  const feeds = {
    pixels: new ort.Tensor(
      'float32',
      Float32Array.from({ length: batch * 3 * size * size }, () => rng.normal()),
      [batch, 3, size, size],
    ),
    input_ids: new ort.Tensor(
      'int64',
      BigInt64Array.from({ length: batch * seq }, () => BigInt(5 + rng.int(30517))),
      [batch, seq],
    ),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(batch * seq).fill(1n), [batch, seq]),
  };
  const t0 = performance.now();
  await trainer.trainStep(feeds, 1e-5); // session creation + first step, untimed
  const sessionSeconds = (performance.now() - t0) / 1000;
  const t = await time(() => trainer.trainStep(feeds, 1e-5), iters, 0);
  await trainer.release();
  return { pairs: batch / t.median, sessionSeconds };
}

/** Pairs/s of `kep train vlp` itself (data loading included) with GradCache micro-batches. */
async function kepGradCachePairsPerSecond(micro: number): Promise<{ pairs: number; sessionSeconds: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'kep-bench-vlp-'));
  const set = await writeSyntheticSet(join(dir, 'data'), {
    count: batch * (iters + 1),
    size: size + 16,
    seed: 0,
  });
  const out = join(dir, 'run');
  await trainVisionLanguage(
    { pairs: await readPairs(set.pairs) },
    out,
    vlpConfigSchema.parse({
      model: 'kep-16',
      batch,
      microBatch: micro,
      steps: iters + 1,
      maxLength: seq,
      freezeEpochs: 0,
      warmup: 0,
      evalEvery: 1000,
      checkpointEvery: 1000,
      threads,
    }),
  );
  const lines = readMetrics(join(out, 'metrics.jsonl')).filter((l) => l.elapsedSeconds !== undefined);
  const first = lines[0]!.elapsedSeconds!;
  const last = lines.at(-1)!.elapsedSeconds!;
  rmSync(dir, { recursive: true, force: true });
  return { pairs: (batch * (lines.length - 1)) / (last - first), sessionSeconds: first };
}

/** Peak resident memory of this process so far (Linux VmHWM), GiB. */
function peakRssGib(): number | undefined {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(fmt(Number(m[1]) / 2 ** 20, 2)) : undefined;
}

interface PathResult {
  pairs: number;
  sessionSeconds: number;
  peakRssGib?: number;
  /** How the child process ended when it did not report (e.g. SIGKILL: out of memory). */
  failed?: string;
}

if (args.path !== 'both') {
  const r =
    args.path === 'fused' ? await kepPairsPerSecond() : await kepGradCachePairsPerSecond(Number(args.micro));
  console.log(JSON.stringify({ ...r, peakRssGib: peakRssGib() }));
  process.exit(0);
}

/** One kep path in a child process, so that its peak memory is measured alone. */
function runPath(path: 'fused' | 'gradcache'): PathResult {
  const self = fileURLToPath(import.meta.url);
  const passed = ['threads', 'iters', 'batch', 'seq', 'micro', 'recompute', 'arena'].flatMap((k) => [
    `--${k}`,
    String(args[k as keyof typeof args]),
  ]);
  const r = spawnSync(process.execPath, ['--import', 'tsx', self, ...passed, '--path', path], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 26,
  });
  const last = r.stdout?.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !last.startsWith('{'))
    return { pairs: NaN, sessionSeconds: NaN, failed: r.signal ?? `exit ${r.status}` };
  return JSON.parse(last) as PathResult;
}

const script = fileURLToPath(new URL('./vlp_torch.py', import.meta.url));
const ref = runReference(
  script,
  ['--batch', batch, '--seq', seq, '--threads', threads, '--iters', iters, '--size', size].map(String),
);
const fused = runPath('fused');
const cached = runPath('gradcache');
const torch = ref.pairs_s as number;
const num = (x: number, d = 3): number | null => (Number.isFinite(x) ? Number(fmt(x, d)) : null);
process.stderr.write(
  `KEP-16 (ViT-B/16 + 2× BERT-base), batch ${batch}, seq ${seq}: fused (recompute ${recompute}) ` +
    `${fmt(fused.pairs, 3)} pairs/s, peak ${fused.peakRssGib} GiB; GradCache ×${args.micro} ` +
    `${fmt(cached.pairs, 3)} pairs/s, peak ${cached.peakRssGib} GiB; torch ${torch}\n`,
);
console.log(
  JSON.stringify({
    threads,
    batch,
    seq,
    recompute,
    kep_micro_batch: Number(args.micro),
    kep_pairs_s: num(fused.pairs),
    [`fused_b${batch}_peak_rss_gib`]: fused.peakRssGib ?? null,
    ...(fused.failed ? { fused_failed: fused.failed } : {}),
    kep_gradcache_pairs_s: num(cached.pairs),
    [`gradcache_b${batch}_peak_rss_gib`]: cached.peakRssGib ?? null,
    ...(cached.failed ? { gradcache_failed: cached.failed } : {}),
    torch_pairs_s: torch,
    ratio: num(fused.pairs / torch),
    gradcache_ratio: num(cached.pairs / torch),
    kep_first_step_s: num(fused.sessionSeconds, 1),
    torch_step_s: ref.step_s,
    torch_version: ref.torch_version,
  }),
);
