import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ort } from '../engine/runtime.ts';
import { writeSafetensors, fromFloat32 } from '../engine/safetensors.ts';
import { Trainer } from '../engine/trainer.ts';
import { buildProgram } from '../cli/main.ts';
import { kepTrainingLoss } from './kep.ts';
import { getModel, registry } from './registry.ts';
import { Graph } from '../engine/graph.ts';
import { parameterValues } from './load-weights.ts';

test('the registry has the named models the project promises', () => {
  for (const name of [
    'vit-b-16',
    'vit-b-32',
    'ctranspath',
    'vit-tiny-16',
    'bert-base',
    'bert-small',
    'kep-32',
    'kep-16',
    'kep-ctp',
  ])
    assert.ok(registry.has(name), name);
  assert.throws(() => getModel('vit-h-14'), /unknown model "vit-h-14"; known: vit-b-16/);
});

function batch(n: number, size: number, seq: number) {
  const px = Float32Array.from({ length: n * 3 * size * size }, (_, i) => Math.sin(i * 0.37));
  const ids = BigInt64Array.from({ length: n * seq }, (_, i) =>
    BigInt(i % seq === 0 ? 2 : ((i * 7) % 900) + 5),
  );
  const mask = BigInt64Array.from({ length: n * seq }, (_, i) => (i % seq < seq - (i % 3) ? 1n : 0n));
  return {
    pixels: new ort.Tensor('float32', px, [n, 3, size, size]),
    ids: new ort.Tensor('int64', ids, [n, seq]),
    mask: new ort.Tensor('int64', mask, [n, seq]),
  };
}

test('KEP S2 training moves the image and text towers and the scale, never the knowledge tower', async () => {
  const entry = getModel('kep-tiny');
  if (entry.kind !== 'kep') throw new Error('kep-tiny is a KEP model');
  const trainer = await Trainer.create(
    (g) => {
      const pixels = g.input('pixels', 'float32', ['batch', 3, 32, 32]);
      const ids = g.input('ids', 'int64', ['batch', 'seq']);
      const mask = g.input('mask', 'int64', ['batch', 'seq']);
      return { loss: kepTrainingLoss(g, pixels, ids, mask, entry.config) };
    },
    { seed: 1 },
  );
  const before = new Map([...trainer.params].map(([k, v]) => [k, Float32Array.from(v)]));
  const b = batch(6, 32, 8);
  const losses: number[] = [];
  for (let s = 0; s < 8; s++) losses.push((await trainer.trainStep(b, 3e-3)).loss);
  assert.ok(losses.at(-1)! < losses[0]!, `loss ${losses[0]} → ${losses.at(-1)}`);
  const changed = (prefix: string) =>
    [...trainer.params]
      .filter(([k]) => k.startsWith(prefix))
      .some(([k, v]) => v.some((x, i) => x !== before.get(k)![i]));
  assert.ok(
    changed('image.') &&
      changed('image_head.') &&
      changed('text.') &&
      changed('text_head.') &&
      changed('logit_scale'),
  );
  assert.ok(!changed('knowledge.') && !changed('knowledge_head.'), 'the knowledge tower is frozen');
  await trainer.release();
});

const hasOnnx = spawnSync('/usr/bin/python3', ['-c', 'import onnx'], { stdio: 'ignore' }).status === 0;

test('kep export onnx writes runnable image and text towers, with weights from a checkpoint', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kep-export-'));
  // A checkpoint in kep's own names, as a trainer writes it. It also holds the knowledge tower and
  // the logit scale, which the inference towers do not use: hence --non-strict below.
  const entry = getModel('kep-tiny');
  if (entry.kind !== 'kep') throw new Error('kep-tiny is a KEP model');
  const tg = new Graph('t');
  const input = (name: string, dtype: 'float32' | 'int64', shape: (string | number)[]) =>
    tg.input(name, dtype, shape);
  kepTrainingLoss(
    tg,
    input('pixels', 'float32', ['batch', 3, 32, 32]),
    input('ids', 'int64', ['batch', 'seq']),
    input('mask', 'int64', ['batch', 'seq']),
    entry.config,
  );
  const { values } = await parameterValues(tg, { seed: 7 });
  const weights = join(dir, 'kep-tiny.safetensors');
  const exportArgs = [
    'node',
    'kep',
    'export',
    'onnx',
    '--model',
    'kep-tiny',
    '--weights',
    weights,
    '--out',
    dir,
  ];
  // Flat shapes: the load fails and says why …
  writeSafetensors(weights, new Map([...values].map(([k, v]) => [k, fromFloat32(v, [v.length])])), {});
  await assert.rejects(() => buildProgram().exitOverride().parseAsync(exportArgs), /shape|mismatch/i);
  // … and the right shapes load.
  writeSafetensors(
    weights,
    new Map([...tg.params.values()].map((p) => [p.name, fromFloat32(values.get(p.name)!, p.shape)])),
    {},
  );
  await buildProgram()
    .exitOverride()
    .parseAsync([
      'node',
      'kep',
      'export',
      'onnx',
      '--model',
      'kep-tiny',
      '--weights',
      weights,
      '--non-strict',
      '--out',
      dir,
    ]);
  const b = batch(2, 32, 8);
  const image = await ort.InferenceSession.create(join(dir, 'kep-tiny-image.onnx'));
  const text = await ort.InferenceSession.create(join(dir, 'kep-tiny-text.onnx'));
  const ie = (await image.run({ pixels: b.pixels })).embedding!;
  const te = (await text.run({ input_ids: b.ids, attention_mask: b.mask })).embedding!;
  assert.deepEqual(ie.dims, [2, 16]);
  assert.deepEqual(te.dims, [2, 16]);
  const norm = Math.hypot(...Array.from(ie.data as Float32Array).slice(0, 16));
  assert.ok(Math.abs(norm - 1) < 1e-5, 'embeddings are L2-normalised');
  if (hasOnnx) {
    const check = spawnSync(
      '/usr/bin/python3',
      [
        '-c',
        'import onnx,sys\nfor p in sys.argv[1:]: onnx.checker.check_model(onnx.load(p), full_check=True)',
        join(dir, 'kep-tiny-image.onnx'),
        join(dir, 'kep-tiny-text.onnx'),
      ],
      { encoding: 'utf8' },
    );
    assert.equal(check.status, 0, check.stderr);
  }
});
