// The queue against the in-process run, on N copies of the shared CMU slide (default 8), kep-tiny,
// one ONNX Runtime thread and one patch reader per process:
//   in-process — `kep wsi run DIR` (one process does every slide);
//   queue ×1   — one `kep worker`, already started and waiting, and `kep wsi run DIR --queue`;
//   queue ×2   — two workers.
// Reported: wall time of the `kep wsi run` command, slides/min, the queue's overhead against the
// in-process run (queue ×1 − in-process) and the speed-up of two workers over one. A real
// redis-server on a free loopback port (src/pipeline/queue-testing.ts). The load average before
// each run is printed: on a shared machine the figures are only as quiet as the machine.
// Run: npm run bench:queue [-- --slides 8 --model kep-tiny]
// The last line is one JSON object.
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startTestRedis } from '../src/pipeline/queue-testing.ts';
import { fmt } from './lib/harness.ts';

const { values: args } = parseArgs({
  options: { slides: { type: 'string', default: '8' }, model: { type: 'string', default: 'kep-tiny' } },
});
const n = Number(args.slides);
const KEP = resolve('bin/kep.js');
const dir = mkdtempSync(join(tmpdir(), 'kep-bench-queue-'));
const slides = join(dir, 'slides');
mkdirSync(slides);
for (let i = 0; i < n; i++)
  copyFileSync('../shared/data/wsi/cmu_small_region.svs', join(slides, `s${String(i).padStart(2, '0')}.svs`));
const common = ['--model', args.model, '--threads', '1', '--workers', '1', '--no-progress'];

function kep(argv: string[]): Promise<number> {
  const t = performance.now();
  return new Promise((ok, fail) => {
    const c = spawn(process.execPath, [KEP, ...argv], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.on('close', (s) =>
      s === 0 ? ok((performance.now() - t) / 1000) : fail(new Error(`kep ${argv[0]}: ${err}`)),
    );
  });
}

function startWorker(url: string): Promise<ChildProcess> {
  const c = spawn(process.execPath, [KEP, 'worker', '--queue', url, ...common.slice(0, -1)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return new Promise((ok) =>
    c.stderr!.on('data', (d: Buffer) => /waiting for slide jobs/.test(d.toString()) && ok(c)),
  );
}

const redis = await startTestRedis();
const rows: { run: string; seconds: number; slidesPerMin: number; load: number }[] = [];
const measure = async (name: string, argv: string[]): Promise<void> => {
  const load = loadavg()[0]!;
  const seconds = await kep(argv);
  rows.push({ run: name, seconds, slidesPerMin: (n / seconds) * 60, load });
  console.log(
    `${name}: ${fmt(seconds, 1)} s, ${fmt((n / seconds) * 60, 1)} slides/min (load ${fmt(load, 1)})`,
  );
};
try {
  await measure('in-process', ['wsi', 'run', slides, '--out', join(dir, 'local'), ...common]);
  for (const k of [1, 2]) {
    const workers = await Promise.all(Array.from({ length: k }, () => startWorker(redis.url)));
    try {
      await measure(`queue x${k}`, [
        'wsi',
        'run',
        slides,
        '--out',
        join(dir, `q${k}`),
        '--queue',
        redis.url,
        ...common,
      ]);
    } finally {
      for (const w of workers) w.kill('SIGTERM');
    }
  }
} finally {
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}
const [local, q1, q2] = rows.map((r) => r.seconds) as [number, number, number];
const overhead = (q1 - local) / local;
const speedup = q1 / q2;
console.log(`queue overhead vs in-process: ${fmt(overhead * 100, 1)} %; 2 workers vs 1: ${fmt(speedup)}×`);
console.log(JSON.stringify({ slides: n, model: args.model, rows, overhead, speedup }));
