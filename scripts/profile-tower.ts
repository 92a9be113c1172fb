// Where an inference graph's time goes, by ONNX Runtime op type: `node --import tsx
// scripts/profile-tower.ts --tower text|image|ctranspath [--precision int8] [--batch 32]`. Prints
// one line per op type (share of the node time, milliseconds per run). A tool for engine work: the
// int8 and fp32 figures in docs/engine.md come from it.
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { Graph, type Tensor } from '../src/engine/graph.ts';
import { Rng } from '../src/engine/init.ts';
import { serializeGraph } from '../src/engine/onnx.ts';
import { quantizeGraph } from '../src/engine/quantize.ts';
import { ort } from '../src/engine/runtime.ts';
import { encodeImage, encodeText } from '../src/models/kep.ts';
import { getModel } from '../src/models/registry.ts';
import { swin, swinConfigs } from '../src/models/swin.ts';
import { parameterValues } from '../src/weights/model-weights.ts';

const { values: a } = parseArgs({
  options: {
    tower: { type: 'string', default: 'text' },
    precision: { type: 'string', default: 'fp32' },
    batch: { type: 'string', default: '32' },
    seq: { type: 'string', default: '64' },
    threads: { type: 'string', default: '2' },
    runs: { type: 'string', default: '3' },
  },
});
const batch = Number(a.batch);
const seq = Number(a.seq);
const entry = getModel('kep-16');
if (entry.kind !== 'kep') throw new Error('kep-16 is not a KEP model');
const g = new Graph(a.tower!);
let feeds: Record<string, ort.Tensor>;
let out: Tensor;
if (a.tower === 'text') {
  out = encodeText(
    g,
    g.input('ids', 'int64', ['batch', 'seq']),
    g.input('mask', 'int64', ['batch', 'seq']),
    entry.config,
  );
  feeds = {
    ids: new ort.Tensor(
      'int64',
      BigInt64Array.from({ length: batch * seq }, (_, i) => BigInt(5 + ((i * 7919) % 30000))),
      [batch, seq],
    ),
    mask: new ort.Tensor('int64', new BigInt64Array(batch * seq).fill(1n), [batch, seq]),
  };
} else {
  const px = g.input('pixels', 'float32', ['batch', 3, 224, 224]);
  out = a.tower === 'image' ? encodeImage(g, px, entry.config) : swin(g, px, swinConfigs.ctranspath);
  const rng = new Rng(0, 'px');
  feeds = {
    pixels: new ort.Tensor(
      'float32',
      Float32Array.from({ length: batch * 3 * 224 * 224 }, () => rng.normal()),
      [batch, 3, 224, 224],
    ),
  };
}
g.output('out', out);
const { values: paramData } = await parameterValues(g, { seed: 0 });
const bytes =
  a.precision === 'int8' ? quantizeGraph(g, paramData).bytes : serializeGraph(g, { paramData }).bytes;
const prefix = join(tmpdir(), `kep-profile-${process.pid}`);
const session = await ort.InferenceSession.create(bytes, {
  executionProviders: ['cpu'],
  graphOptimizationLevel: 'all',
  intraOpNumThreads: Number(a.threads),
  enableProfiling: true,
  profileFilePrefix: prefix,
});
await session.run(feeds); // warm-up
const t0 = performance.now();
for (let i = 0; i < Number(a.runs); i++) await session.run(feeds);
const wall = (performance.now() - t0) / Number(a.runs);
session.endProfiling(); // writes PREFIX_<date>.json (the Node binding returns no name)
const file = readdirSync(tmpdir())
  .filter((f) => f.startsWith(basename(prefix)))
  .map((f) => join(tmpdir(), f))[0];
if (!file) throw new Error(`no profile ${prefix}_*.json was written`);
const events = JSON.parse(readFileSync(file, 'utf8')) as {
  cat: string;
  name: string;
  dur: number;
  args?: { op_name?: string };
}[];
rmSync(file, { force: true });
const byOp = new Map<string, number>();
let total = 0;
for (const e of events)
  if (e.cat === 'Node' && e.name.endsWith('_kernel_time')) {
    const op = e.args?.op_name ?? '?';
    byOp.set(op, (byOp.get(op) ?? 0) + e.dur);
    total += e.dur;
  }
const runs = Number(a.runs) + 1;
console.log(
  `${a.tower} ${a.precision} batch ${batch}: ${(wall / 1000).toFixed(3)} s per run (${((batch * 1000) / wall).toFixed(2)} items/s)`,
);
for (const [op, us] of [...byOp].sort((x, y) => y[1] - x[1]).slice(0, 14))
  console.log(
    `  ${op.padEnd(28)} ${((100 * us) / total).toFixed(1).padStart(5)} %  ${(us / 1000 / runs).toFixed(1).padStart(8)} ms`,
  );
