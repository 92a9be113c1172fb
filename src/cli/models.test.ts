import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Graph } from '../engine/graph.ts';
import { ort } from '../engine/runtime.ts';
import { fromFloat32, writeSafetensors } from '../engine/safetensors.ts';
import { kepTrainingLoss } from '../models/kep.ts';
import { getModel } from '../models/registry.ts';
import { parameterValues } from '../weights/model-weights.ts';
import { kepTestBatch as batch } from '../models/testing.ts';
import { buildProgram } from './main.ts';

/** onnx.checker's full check, where Debian's python3-onnx is installed (CI installs it). */
function checkOnnx(...paths: string[]): void {
  if (!hasOnnx) return;
  const check = spawnSync(
    '/usr/bin/python3',
    [
      '-c',
      'import onnx,sys\nfor p in sys.argv[1:]: onnx.checker.check_model(onnx.load(p), full_check=True)',
      ...paths,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(check.status, 0, check.stderr);
}

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
    .parseAsync([...exportArgs, '--non-strict']);
  const b = batch(2, 32, 8);
  const image = await ort.InferenceSession.create(join(dir, 'kep-tiny-image.onnx'));
  const text = await ort.InferenceSession.create(join(dir, 'kep-tiny-text.onnx'));
  const ie = (await image.run({ pixels: b.pixels })).embedding!;
  const te = (await text.run({ input_ids: b.ids, attention_mask: b.mask })).embedding!;
  assert.deepEqual(ie.dims, [2, 16]);
  assert.deepEqual(te.dims, [2, 16]);
  const norm = Math.hypot(...Array.from(ie.data as Float32Array).slice(0, 16));
  assert.ok(Math.abs(norm - 1) < 1e-5, 'embeddings are L2-normalised');
  checkOnnx(join(dir, 'kep-tiny-image.onnx'), join(dir, 'kep-tiny-text.onnx'));

  // --precision int8: the same towers with int8 linear layers, run by plain ONNX Runtime, close to fp32.
  await buildProgram()
    .exitOverride()
    .parseAsync([...exportArgs, '--non-strict', '--precision', 'int8']);
  const image8 = await ort.InferenceSession.create(join(dir, 'kep-tiny-image-int8.onnx'));
  const text8 = await ort.InferenceSession.create(join(dir, 'kep-tiny-text-int8.onnx'));
  const ops = (path: string) => readFileSync(path).includes('DynamicQuantizeMatMul');
  assert.ok(ops(join(dir, 'kep-tiny-image-int8.onnx')) && ops(join(dir, 'kep-tiny-text-int8.onnx')));
  const cos = (a: ort.Tensor, b: ort.Tensor) => {
    const x = a.data as Float32Array;
    const y = b.data as Float32Array;
    let s = 0;
    for (let i = 0; i < 16; i++) s += x[i]! * y[i]!;
    return s;
  };
  const ie8 = (await image8.run({ pixels: b.pixels })).embedding!;
  const te8 = (await text8.run({ input_ids: b.ids, attention_mask: b.mask })).embedding!;
  assert.ok(cos(ie, ie8) > 0.99, `image int8 vs fp32 cosine ${cos(ie, ie8)}`);
  assert.ok(cos(te, te8) > 0.99, `text int8 vs fp32 cosine ${cos(te, te8)}`);
  checkOnnx(join(dir, 'kep-tiny-image-int8.onnx'), join(dir, 'kep-tiny-text-int8.onnx'));
});
