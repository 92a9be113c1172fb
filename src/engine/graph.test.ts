import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gradients } from './autodiff.ts';
import { Graph, GraphError } from './graph.ts';
import { Rng, initialize } from './init.ts';
import * as F from './ops/index.ts';
import { serializeGraph } from './onnx.ts';
import { compile, ort } from './runtime.ts';
import { dimProduct, dimDivide, broadcastShapes } from './shape.ts';
import { vit, vitConfigs } from '../models/vit.ts';
import { appendAdamW, defaultAdamW } from './optim.ts';

test('symbolic dimensions multiply, divide and broadcast', () => {
  assert.equal(dimProduct(['batch', 'seq', 4]), '4*batch*seq');
  assert.equal(dimDivide('4*batch*seq', 'seq*2'), '2*batch');
  assert.equal(dimDivide('batch', 'seq'), undefined);
  assert.deepEqual(broadcastShapes(['batch', 1, 8], [3, 1]), ['batch', 3, 8]);
  assert.equal(broadcastShapes([2, 3], [4, 3]), undefined);
});

test('a bad graph fails at build time, naming the op and the shapes', () => {
  const g = new Graph('bad');
  const a = g.input('a', 'float32', ['batch', 3]);
  const b = g.input('b', 'float32', [4, 5]);
  const ids = g.input('ids', 'int64', ['batch']);
  assert.throws(
    () => F.matmul(a, b),
    (e: Error) =>
      e instanceof GraphError &&
      /MatMul: inner dims differ \(3 vs 4\).*a float32\[batch, 3\].*b float32\[4, 5\]/.test(e.message),
  );
  assert.throws(
    () => F.add(a, b),
    /Add: shapes do not broadcast \(inputs: a float32\[batch, 3\], b float32\[4, 5\]\)/,
  );
  assert.throws(() => F.add(a, ids), /Add: dtypes differ/);
  assert.throws(() => F.exp(ids), /Exp: expects a float tensor/);
  assert.throws(() => F.reshape(b, [3, -1]), /Reshape: cannot infer -1 in \[3, -1\]/);
  assert.throws(() => F.reshape(b, [2, 2]), /does not hold the same number of elements/);
  assert.throws(() => F.transpose(b, [0, 0]), /Transpose: perm \[0, 0\] is not a permutation/);
  const img = g.input('img', 'float32', ['batch', 3, 8, 8]);
  assert.throws(
    () => F.conv2d(img, g.param('w', [4, 2, 3, 3], { kind: 'zeros' }), undefined),
    /Conv: input has 3 channels/,
  );
  assert.throws(
    () => F.layerNorm(a, g.param('gamma', [4], { kind: 'ones' }), undefined),
    /LayerNormalization: scale must be \[3\]/,
  );
  assert.throws(() => F.squeeze(b, [0]), /Squeeze: axis 0 has size 4/);
  // An op with no gradient rule is reported when differentiating, not when running.
  const x = g.input('x', 'float32', [3]);
  const [y] = g.node('Hardmax', [x], {}, [{ dtype: 'float32', shape: [3] }]);
  assert.throws(() => gradients(g, F.reduceSum(y!), [x]), /no gradient rule for op Hardmax/);
});

test('one session serves every batch size (symbolic dims become dim_param)', async () => {
  const g = new Graph('dyn');
  const x = g.input('x', 'float32', ['batch', 'seq', 6]);
  const flat = F.reshape(x, [-1, 6]);
  assert.deepEqual(flat.shape, ['batch*seq', 6]);
  const back = F.reshape(F.mul(flat, 2), ['batch', 'seq', 2, 3]);
  g.output('y', F.reduceSum(back, [3]));
  const s = await compile(g);
  for (const [b, t] of [
    [1, 2],
    [3, 5],
  ] as const) {
    const data = Float32Array.from({ length: b * t * 6 }, (_, i) => i);
    const out = (await s.run({ x: new ort.Tensor('float32', data, [b, t, 6]) })).y!;
    assert.deepEqual(out.dims, [b, t, 2]);
    assert.equal((out.data as Float32Array)[1], 2 * (3 + 4 + 5));
  }
});

// The ONNX files we write are checked by the reference implementation when it is installed
// (Debian's python3-onnx, which CI installs); the check is skipped, not faked, elsewhere.
const python = '/usr/bin/python3';
const hasOnnx = spawnSync(python, ['-c', 'import onnx'], { stdio: 'ignore' }).status === 0;

test(
  'inference and training graphs pass onnx.checker (full check, opset 17)',
  { skip: !hasOnnx && 'python3-onnx not installed' },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'kep-onnx-'));
    const cfg = vitConfigs['vit-tiny-16'];
    const build = (): { g: Graph; loss: ReturnType<typeof F.crossEntropy> } => {
      const g = new Graph('vit-tiny');
      const pixels = g.input('pixels', 'float32', ['batch', 3, 32, 32]);
      const labels = g.input('labels', 'int64', ['batch']);
      const logits = vit(g, pixels, { ...cfg, numClasses: 5 });
      g.output('logits', logits);
      return { g, loss: F.crossEntropy(logits, labels) };
    };
    const inf = build().g;
    const paramData = new Map(
      [...inf.params.values()].map((p) => [
        p.name,
        initialize(
          p.init,
          p.shape.reduce((a, b) => a * b, 1),
          new Rng(0, p.name),
        ),
      ]),
    );
    writeFileSync(join(dir, 'inference.onnx'), serializeGraph(inf, { paramData, outputs: ['logits'] }).bytes);
    const { g, loss } = build();
    const grads = gradients(
      g,
      loss,
      g.trainableParams().map((p) => g.value(p.name)),
    );
    const io = appendAdamW(
      g,
      g
        .trainableParams()
        .map((p) => ({ name: p.name, param: g.value(p.name), grad: grads.get(p.name)!, decay: p.decay })),
      defaultAdamW,
    );
    g.output('loss', loss);
    for (const [k, t] of io.params) g.output(`new.${k}`, t);
    writeFileSync(join(dir, 'train.onnx'), serializeGraph(g).bytes);
    const check = spawnSync(
      python,
      [
        '-c',
        `import onnx, sys\nfor p in sys.argv[1:]:\n    onnx.checker.check_model(onnx.load(p), full_check=True)\nprint('ok')`,
        join(dir, 'inference.onnx'),
        join(dir, 'train.onnx'),
      ],
      { encoding: 'utf8' },
    );
    assert.equal(check.status, 0, check.stderr);
    assert.equal(check.stdout.trim(), 'ok');
  },
);
