// The queued batch (`kep wsi run … --queue`, `kep worker`, `kep wsi status`) against a real
// redis-server of the test's own, through bin/kep.js as a user runs it, with kep-tiny on copies of
// the shared slides: enqueueing twice adds nothing; two workers, one SIGKILLed in the middle of a
// slide, still finish all six (the stalled job is retried by the other); a second run does no work;
// the outputs equal the in-process run's; a slide that keeps failing is failed with its reason; a
// Redis restart (no persistence: every job lost) in the middle of a batch loses no slide.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { redisMissing, startTestRedis, type TestRedis } from '../pipeline/queue-testing.ts';
import { readFeaturesH5 } from '../wsi/features-h5.ts';
import { expectKep, type KepResult } from './testing.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WSI = resolve(ROOT, '../shared/data/wsi');
const missing = redisMissing();
const dir = mkdtempSync(join(tmpdir(), 'kep-queue-'));
const slides = join(dir, 'slides');
const prompts = join(dir, 'prompts.json');
let redis: TestRedis | undefined;
const children: ChildProcess[] = [];

before(async () => {
  if (missing) return;
  redis = await startTestRedis();
  mkdirSync(slides);
  for (let i = 1; i <= 4; i++) copyFileSync(join(WSI, 'cmu_small_region.svs'), join(slides, `q-a${i}.svs`));
  for (let i = 1; i <= 2; i++)
    copyFileSync(join(WSI, 'tcga-cr-7395-01a-01-ts1.svs'), join(slides, `q-b${i}.svs`));
  writeFileSync(
    prompts,
    JSON.stringify({
      '0': { classnames: { skin: 'skin', hn: 'head and neck' }, templates: 'CLASSNAME tissue' },
    }),
  );
});
after(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Running {
  child: ChildProcess;
  output: () => string;
  done: Promise<KepResult>;
}

/** Starts bin/kep.js in the background; `done` resolves with its exit status and output. */
function start(args: string[]): Running {
  const child = spawn(process.execPath, [join(ROOT, 'bin/kep.js'), ...args], { cwd: ROOT });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<KepResult>((ok) => child.on('close', (status) => ok({ status, stdout, stderr })));
  return { child, output: () => stderr, done };
}

const run = (args: string[]): Promise<KepResult> => start(args).done;

function worker(extra: string[] = []): Running {
  return start([
    'worker',
    '--queue',
    redis!.url,
    '--model',
    'kep-tiny',
    '--threads',
    '1',
    '--workers',
    '1',
    '--stall-ms',
    '2000',
    '--locked-recheck-ms',
    '1000',
    ...extra,
  ]);
}

/** The same batch options in-process and queued. */
const localArgs = (input: string, out: string): string[] => [
  'wsi',
  'run',
  input,
  '--out',
  out,
  '--model',
  'kep-tiny',
  '--workers',
  '1',
  '--overview-size',
  '256',
  '--heatmap-size',
  '128',
  '--prompts',
  prompts,
];
const runArgs = (input: string, out: string, extra: string[] = []): string[] => [
  ...localArgs(input, out),
  '--queue',
  redis!.url,
  '--queue-poll-ms',
  '300',
  ...extra,
];

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 90_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** The slide whose lock file names this pid (the slide that process is working on), if any. */
function slideLockedBy(out: string, pid: number): string | undefined {
  if (!existsSync(out)) return undefined;
  for (const s of readdirSync(out)) {
    try {
      if ((JSON.parse(readFileSync(join(out, s, '.lock'), 'utf8')) as { pid: number }).pid === pid) return s;
    } catch {
      // no lock, or not written yet
    }
  }
  return undefined;
}

interface Summary {
  counts: Record<string, number>;
  slides: { slide: string; status: string; n_patches: number | null; error: string | null }[];
}

const out = join(dir, 'out');
const skip = missing || false;

test(
  'enqueue twice adds nothing; two workers, one SIGKILLed mid-slide, finish all six; h5 files complete',
  { skip },
  async () => {
    const first = await run([...runArgs(slides, out), '--no-wait']);
    expectKep(first, { status: 0, stderr: /6 slides, 6 enqueued, 0 already in the queue/ });
    const second = await run([...runArgs(slides, out), '--no-wait']);
    expectKep(second, { status: 0, stderr: /6 slides, 0 enqueued, 6 already in the queue/ });
    const status = await run(['wsi', 'status', '--queue', redis!.url, '--json']);
    expectKep(status, { status: 0 });
    assert.equal((JSON.parse(status.stdout) as { counts: { waiting: number } }).counts.waiting, 6);

    const w1 = worker();
    const w2 = worker();
    const follow = start(runArgs(slides, out, ['--json']));
    let victim: string | undefined;
    await until('worker 1 to be in the middle of a slide', () =>
      Boolean((victim = slideLockedBy(out, w1.child.pid!))),
    );
    w1.child.kill('SIGKILL');
    const r = await follow.done;
    expectKep(r, { status: 0, stderr: /6 slides: 6 done, 0 skipped, 0 failed/ });
    const summary = JSON.parse(r.stdout) as Summary;
    assert.deepEqual(summary.counts, { done: 6, skipped: 0, failed: 0, locked: 0 });
    // The killed worker's slide was finished by the other one, after the stall interval.
    assert.match(w2.output(), new RegExp(`${victim}: done`));
    assert.doesNotMatch(w1.output(), new RegExp(`${victim}: done`));
    for (const s of summary.slides) {
      const f = await readFeaturesH5(join(out, s.slide, 'features.h5'));
      assert.equal(f.coords.length, f.count * 2, s.slide);
      assert.equal(f.features.length, f.count * f.dim, s.slide);
      assert.equal(f.count, s.n_patches, s.slide);
      assert.ok(existsSync(join(out, s.slide, 'scores.json')));
      assert.ok(!existsSync(join(out, s.slide, '.lock')), `${s.slide}: lock left behind`);
    }
    const onDisk = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary;
    assert.deepEqual(onDisk.counts, summary.counts);
  },
);

test('a second queued run of the same batch does no work', { skip }, async () => {
  const r = await run(runArgs(slides, out, ['--json']));
  expectKep(r, { status: 0, stderr: /0 enqueued, 6 already in the queue/ });
  assert.deepEqual((JSON.parse(r.stdout) as Summary).counts, { done: 0, skipped: 6, failed: 0, locked: 0 });
});

test('the queued outputs equal the in-process run on the same slides', { skip }, async () => {
  const list = join(dir, 'two.csv');
  writeFileSync(list, `slide\n${join(slides, 'q-a1.svs')}\n${join(slides, 'q-b1.svs')}\n`);
  const local = join(dir, 'local');
  expectKep(await run(localArgs(list, local)), { status: 0, stderr: /2 slides: 2 done/ });
  for (const s of ['q-a1', 'q-b1']) {
    const [a, b] = await Promise.all([
      readFeaturesH5(join(out, s, 'features.h5')),
      readFeaturesH5(join(local, s, 'features.h5')),
    ]);
    assert.deepEqual(a.coords, b.coords, `${s}: coords`);
    assert.deepEqual(a.features, b.features, `${s}: features`);
    assert.deepEqual(
      JSON.parse(readFileSync(join(out, s, 'scores.json'), 'utf8')),
      JSON.parse(readFileSync(join(local, s, 'scores.json'), 'utf8')),
      `${s}: scores`,
    );
  }
});

test('a slide that keeps failing is failed with its reason after the attempts', { skip }, async () => {
  const bad = join(dir, 'bad');
  mkdirSync(bad);
  writeFileSync(join(bad, 'broken.svs'), Buffer.alloc(4096, 7));
  const r = await run(
    runArgs(bad, join(dir, 'out-bad'), ['--attempts', '2', '--retry-delay-ms', '200', '--json']),
  );
  expectKep(r, { status: 1, stderr: /1 slide: 0 done, 0 skipped, 1 failed/ });
  const s = (JSON.parse(r.stdout) as Summary).slides[0]!;
  assert.equal(s.status, 'failed');
  assert.match(s.error!, /broken\.svs.*\(after 2 attempts\)/);
  const status = await run(['wsi', 'status', '--queue', redis!.url]);
  assert.match(status.stdout, /broken {2}failed: /);
});

test('a Redis restart (every job lost) in the middle of a batch loses no slide', { skip }, async () => {
  const more = join(dir, 'more');
  mkdirSync(more);
  for (const n of ['q-c1', 'q-c2']) copyFileSync(join(WSI, 'cmu_small_region.svs'), join(more, `${n}.svs`));
  const outC = join(dir, 'out-c');
  const follow = start(runArgs(more, outC, ['--json']));
  await until(
    'a slide to be worked on',
    () => existsSync(outC) && readdirSync(outC).some((s) => existsSync(join(outC, s, '.lock'))),
  );
  await redis!.stop();
  await until('the follower to notice', () => /queue unreachable, retrying/.test(follow.output()), 30_000);
  await redis!.start();
  const r = await follow.done;
  expectKep(r, { status: 0, stderr: /queue reachable again/ });
  const summary = JSON.parse(r.stdout) as Summary;
  assert.equal(summary.counts.failed, 0);
  assert.equal(summary.counts.done! + summary.counts.skipped!, 2);
  for (const s of ['q-c1', 'q-c2']) assert.ok(existsSync(join(outC, s, 'done.json')), s);
});
