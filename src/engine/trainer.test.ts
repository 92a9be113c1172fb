import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Graph } from './graph.ts';
import { normal, zeros } from './init.ts';
import * as F from './ops/index.ts';
import { ort } from './runtime.ts';
import { type ModelBuilder, Trainer } from './trainer.ts';

// A two-layer MLP regression whose loss is a per-sample mean, so accumulation is exact.
const mlp: ModelBuilder = (g: Graph) => {
  const x = g.input('x', 'float32', ['batch', 4]);
  const y = g.input('y', 'float32', ['batch', 2]);
  const h = F.tanh(F.linear(x, g.param('fc1.weight', [8, 4], normal(0.5)), g.param('fc1.bias', [8], zeros)));
  const out = F.linear(h, g.param('fc2.weight', [2, 8], normal(0.5)), g.param('fc2.bias', [2], zeros));
  const diff = F.sub(out, y);
  return { loss: F.reduceMean(F.mul(diff, diff)), outputs: { prediction: out } };
};

function batch(rows: number, offset = 0): Record<string, ort.Tensor> {
  const x = Float32Array.from({ length: rows * 4 }, (_, i) => Math.sin(i + offset * 4));
  // A smooth function of x that the MLP can fit.
  const y = Float32Array.from({ length: rows * 2 }, (_, i) => {
    const r = Math.floor(i / 2) * 4;
    return i % 2 ? Math.tanh(x[r + 2]! + x[r + 3]!) : 0.5 * x[r]! - x[r + 1]!;
  });
  return { x: new ort.Tensor('float32', x, [rows, 4]), y: new ort.Tensor('float32', y, [rows, 2]) };
}

const rows = (b: Record<string, ort.Tensor>, from: number, to: number) => ({
  x: new ort.Tensor('float32', (b.x!.data as Float32Array).slice(from * 4, to * 4), [to - from, 4]),
  y: new ort.Tensor('float32', (b.y!.data as Float32Array).slice(from * 2, to * 2), [to - from, 2]),
});

const snapshot = (t: Trainer) => new Map([...t.params].map(([k, v]) => [k, Float32Array.from(v)]));

function assertClose(a: Map<string, Float32Array>, b: Map<string, Float32Array>, tol: number): void {
  for (const [k, v] of a) {
    const w = b.get(k)!;
    for (let i = 0; i < v.length; i++)
      assert.ok(Math.abs(v[i]! - w[i]!) <= tol, `${k}[${i}]: ${v[i]} vs ${w[i]}`);
  }
}

test('training reduces the loss and is deterministic for a seed', async () => {
  const run = async () => {
    const t = await Trainer.create(mlp, { seed: 3, runtime: { threads: 1 } });
    const losses = [];
    for (let s = 0; s < 100; s++) losses.push((await t.trainStep(batch(16), 0.05)).loss);
    return { losses, params: snapshot(t) };
  };
  const a = await run();
  const b = await run();
  assert.ok(a.losses.at(-1)! < 0.25 * a.losses[0]!, `loss ${a.losses[0]} → ${a.losses.at(-1)}`);
  assert.deepEqual(a.losses, b.losses);
  assertClose(a.params, b.params, 0);
});

test('gradient accumulation over micro-batches equals one large batch', async () => {
  const big = batch(12);
  const one = await Trainer.create(mlp, { seed: 1 });
  const acc = await Trainer.create(mlp, { seed: 1 });
  for (let s = 0; s < 3; s++) {
    const r1 = await one.trainStep(big, 0.01);
    const r2 = await acc.trainStep([rows(big, 0, 4), rows(big, 4, 8), rows(big, 8, 12)], 0.01);
    assert.ok(Math.abs(r1.loss - r2.loss) < 1e-5, `step ${s}: ${r1.loss} vs ${r2.loss}`);
    assert.ok(Math.abs(r1.gradNorm - r2.gradNorm) < 1e-4);
  }
  assertClose(snapshot(one), snapshot(acc), 1e-5);
});

test('a checkpoint resumes training exactly where it stopped', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kep-trainer-'));
  const straight = await Trainer.create(mlp, { seed: 5 });
  for (let s = 0; s < 6; s++) await straight.trainStep(batch(8, s), 0.02);

  const first = await Trainer.create(mlp, { seed: 5 });
  for (let s = 0; s < 3; s++) await first.trainStep(batch(8, s), 0.02);
  first.saveCheckpoint(join(dir, 'ckpt.safetensors'), { epoch: 1 });

  const resumed = await Trainer.create(mlp, { seed: 99 }); // different init: everything must come from the file
  assert.deepEqual(resumed.loadCheckpoint(join(dir, 'ckpt.safetensors')), { epoch: 1 });
  assert.equal(resumed.step, 3);
  for (let s = 3; s < 6; s++) await resumed.trainStep(batch(8, s), 0.02);
  assertClose(snapshot(straight), snapshot(resumed), 0);
});

test('frozen and unconnected parameters are left alone', async () => {
  const builder: ModelBuilder = (g) => {
    const x = g.input('x', 'float32', ['batch', 4]);
    const y = g.input('y', 'float32', ['batch', 2]);
    const w = g.param('w', [2, 4], normal(0.5));
    const frozen = g.param('frozen', [2], normal(1), { trainable: false });
    g.param('orphan', [3], normal(1));
    const diff = F.sub(F.add(F.linear(x, w), frozen), y);
    return { loss: F.reduceMean(F.mul(diff, diff)) };
  };
  const t = await Trainer.create(builder, { seed: 2 });
  assert.deepEqual(t.unused, ['orphan']);
  const before = snapshot(t);
  await t.trainStep(batch(4), 0.1);
  const after = snapshot(t);
  assert.deepEqual(after.get('frozen'), before.get('frozen'));
  assert.deepEqual(after.get('orphan'), before.get('orphan'));
  assert.notDeepEqual(after.get('w'), before.get('w'));
});

test('a non-finite loss stops training with the step number', async () => {
  const t = await Trainer.create(mlp, { seed: 1 });
  const bad = batch(4);
  (bad.x!.data as Float32Array)[0] = Number.NaN;
  const before = snapshot(t);
  await assert.rejects(
    () => t.trainStep(bad, 0.01),
    /loss is NaN at step 0; stopping \(parameters not updated\)/,
  );
  assertClose(snapshot(t), before, 0);
  assert.equal(t.step, 0);
});

test('eval runs and ONNX export use the trained weights', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kep-export-'));
  const t = await Trainer.create(mlp, { seed: 4 });
  for (let s = 0; s < 5; s++) await t.trainStep(batch(8), 0.05);
  const b = batch(3, 9);
  const live = (await t.run({ x: b.x! }, ['prediction'])).prediction!;
  const path = join(dir, 'mlp.onnx');
  t.exportOnnx(path, ['prediction']);
  const session = await ort.InferenceSession.create(path);
  assert.deepEqual(session.inputNames, ['x']);
  const exported = (await session.run({ x: b.x! })).prediction!;
  assert.deepEqual(Array.from(exported.data as Float32Array), Array.from(live.data as Float32Array));
});
