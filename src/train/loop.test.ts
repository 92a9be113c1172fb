import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { train } from './fixtures/mlp-run.ts';
import { readMetrics } from './loop.ts';

const script = fileURLToPath(new URL('./fixtures/mlp-run.ts', import.meta.url));
const losses = (dir: string) =>
  readMetrics(join(dir, 'metrics.jsonl'))
    .filter((l) => l.loss !== undefined)
    .map((l) => [l.step, l.loss]);

test('a run killed mid-way resumes from its last checkpoint to the same loss curve', async () => {
  const straight = mkdtempSync(join(tmpdir(), 'kep-loop-'));
  await train(straight, 0);
  const reference = losses(straight);
  assert.equal(reference.length, 12);

  const killed = mkdtempSync(join(tmpdir(), 'kep-loop-'));
  const child = spawn(process.execPath, ['--import', 'tsx', script, killed, '150'], { stdio: 'ignore' });
  const exited = new Promise((r) => child.on('exit', r));
  const ckpt = join(killed, 'checkpoints', 'step-000006.safetensors');
  const t0 = Date.now();
  while (!existsSync(ckpt) && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 20));
  child.kill('SIGKILL');
  await exited;
  assert.ok(existsSync(ckpt), 'the child reached step 6');
  assert.ok(!existsSync(join(killed, 'summary.json')), 'the child was killed before finishing');

  await train(killed, 0); // resumes
  assert.deepEqual(losses(killed), reference);
  const summary = JSON.parse(readFileSync(join(killed, 'summary.json'), 'utf8')) as {
    resumedFrom?: string;
    lastStep: number;
  };
  assert.match(summary.resumedFrom ?? '', /step-0000(06|09)\.safetensors$/);
  assert.equal(summary.lastStep, 12);
  // Pruning kept the two newest checkpoints; the summary figure exists.
  assert.deepEqual(readdirSync(join(killed, 'checkpoints')).sort(), [
    'step-000009.safetensors',
    'step-000012.safetensors',
  ]);
  assert.match(readFileSync(join(killed, 'summary.svg'), 'utf8'), /^<svg/);
  const evals = readMetrics(join(killed, 'metrics.jsonl')).filter((l) => l.eval);
  assert.deepEqual(
    evals.map((l) => l.step),
    [4, 8, 12],
  );
});
