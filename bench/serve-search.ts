// Text search latency of `kep serve` over a synthetic slide of many patches: a run folder with one
// slide whose features.h5 holds N random unit features of the model's width (no slide file: search
// needs only the stored features), the server on a loopback port, and timed GET …/search requests
// over HTTP (text embedding + N cosines + top-k + JSON), each with a new text so no cache answers.
// Run: npm run bench:serve [-- --patches 10000 --model kep-tiny --queries 20]
// The last line is one JSON object.
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createModel } from '../src/embed/model.ts';
import { startServer } from '../src/server/serve.ts';
import { writeFeaturesH5 } from '../src/wsi/features-h5.ts';

const { values: args } = parseArgs({
  options: {
    patches: { type: 'string', default: '10000' },
    model: { type: 'string', default: 'kep-tiny' },
    queries: { type: 'string', default: '20' },
  },
});
const n = Number(args.patches);
const dir = mkdtempSync(join(tmpdir(), 'kep-serve-bench-'));
try {
  const model = await createModel(args.model!);
  const dim = model.embedDim;
  await model.release();
  const side = Math.ceil(Math.sqrt(n));
  const coords = new Int32Array(2 * n);
  const features = new Float32Array(n * dim);
  for (let i = 0; i < n; i++)
    [coords[2 * i], coords[2 * i + 1]] = [(i % side) * 256, Math.floor(i / side) * 256];
  for (let i = 0; i < features.length; i++) features[i] = Math.random() - 0.5;
  const meta = {
    slide: 'synthetic',
    model: args.model!,
    untrained: true,
    patchSize: 256,
    patchSizeLevel0: 256,
    patchLevel: 0,
  };
  mkdirSync(join(dir, 'synthetic'));
  await writeFeaturesH5(join(dir, 'synthetic', 'features.h5'), { coords, features, dim, meta });
  const slide = { slide: 'synthetic', path: 'synthetic.svs', status: 'done', n_patches: n, error: null };
  writeFileSync(
    join(dir, 'summary.json'),
    JSON.stringify({ model: args.model, untrained: true, slides: [slide] }),
  );
  const server = await startServer({ runDir: dir, port: 0 });
  const search = async (text: string): Promise<number> => {
    const t = performance.now();
    const r = await fetch(`${server.url}/api/slides/synthetic/search?text=${encodeURIComponent(text)}&top=8`);
    const body = (await r.json()) as { scores: number[] };
    if (body.scores.length !== n) throw new Error(`expected ${n} scores`);
    return performance.now() - t;
  };
  const first = await search('warm-up: loads the model and the features');
  const times: number[] = [];
  for (let q = 0; q < Number(args.queries); q++) times.push(await search(`tumour necrosis ${q}`));
  await server.close();
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)]!;
  console.log(
    `${n} patches × ${dim}: first query ${first.toFixed(0)} ms (model + features load), then median ${median.toFixed(1)} ms, max ${times.at(-1)!.toFixed(1)} ms over ${times.length} queries (load ${loadavg()[0]!.toFixed(2)})`,
  );
  console.log(
    JSON.stringify({
      patches: n,
      dim,
      model: args.model,
      firstMs: first,
      medianMs: median,
      maxMs: times.at(-1),
      load1: loadavg()[0],
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
