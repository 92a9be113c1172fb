// Every differentiable op's gradient against central finite differences.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type CheckInput, gradCheck } from './gradcheck.ts';
import { gradients } from './autodiff.ts';
import { Graph, type Tensor } from './graph.ts';
import { compile, ort } from './runtime.ts';
import * as F from './ops/index.ts';
import { differentiableOps } from './vjp.ts';

type Case = [string, (g: Graph, xs: Tensor[]) => Tensor, CheckInput[], string[], { eps?: number }?];
const f = (...shape: number[]): CheckInput => ({ shape });
const away = (...shape: number[]): CheckInput => {
  const n = shape.reduce((a, b) => a * b, 1);
  // Values at least 0.1 from zero and from each other, so kinks (Relu, Abs, Max) stay out of reach of eps.
  return {
    shape,
    data: Array.from({ length: n }, (_, i) => (i % 2 ? -1 : 1) * (0.15 + 0.37 * ((i * 7) % n))),
  };
};
const positive = (...shape: number[]): CheckInput => {
  const n = shape.reduce((a, b) => a * b, 1);
  return { shape, data: Array.from({ length: n }, (_, i) => 0.5 + ((i * 13) % n) / n) };
};
const ids = (shape: number[], data: number[]): CheckInput => ({ shape, dtype: 'int64', data });

const cases: Case[] = [
  ['Add (broadcast)', (_, [a, b]) => F.add(a!, b!), [f(2, 3), f(3)], ['Add', 'ReduceSum']],
  ['Add (keepdim broadcast)', (_, [a, b]) => F.add(a!, b!), [f(2, 3), f(2, 1)], ['Add']],
  ['Sub', (_, [a, b]) => F.sub(a!, b!), [f(2, 3), f(1, 3)], ['Sub']],
  ['Mul', (_, [a, b]) => F.mul(a!, b!), [f(4, 1, 3), f(2, 3)], ['Mul']],
  ['Div', (_, [a, b]) => F.div(a!, b!), [f(2, 3), positive(2, 3)], ['Div']],
  ['Pow', (_, [a, b]) => F.pow(a!, b!), [positive(2, 3), f(3)], ['Pow']],
  ['Max', (_, [a, b]) => F.maximum(a!, b!), [away(2, 3), f(3)], ['Max']],
  ['Min', (_, [a, b]) => F.minimum(a!, b!), [away(2, 3), f(3)], ['Min']],
  ['Neg', (_, [a]) => F.neg(a!), [f(5)], ['Neg']],
  ['Exp', (_, [a]) => F.exp(a!), [f(5)], ['Exp']],
  ['Log', (_, [a]) => F.log(a!), [positive(5)], ['Log']],
  ['Tanh', (_, [a]) => F.tanh(a!), [f(5)], ['Tanh']],
  ['Erf', (_, [a]) => F.erf(a!), [f(5)], ['Erf']],
  ['Sqrt', (_, [a]) => F.sqrt(a!), [positive(5)], ['Sqrt']],
  ['Reciprocal', (_, [a]) => F.reciprocal(a!), [positive(5)], ['Reciprocal']],
  ['Abs', (_, [a]) => F.abs(a!), [away(6)], ['Abs']],
  ['Relu', (_, [a]) => F.relu(a!), [away(6)], ['Relu']],
  ['Sigmoid', (_, [a]) => F.sigmoid(a!), [f(5)], ['Sigmoid']],
  ['Softplus', (_, [a]) => F.softplus(a!), [f(5)], ['Softplus']],
  ['Identity', (_, [a]) => F.identity(a!), [f(3)], ['Identity']],
  // float16 rounding needs a wide step; the function is linear, so a wide step is exact.
  ['Cast', (_, [a]) => F.cast(F.cast(a!, 'float16'), 'float32'), [f(3)], ['Cast'], { eps: 0.25 }],
  ['Where', (_, [a, b]) => F.where(F.greater(a!, 0), a!, b!), [away(2, 3), f(3)], ['Where']],
  ['MatMul 2-D', (_, [a, b]) => F.matmul(a!, b!), [f(2, 3), f(3, 4)], ['MatMul']],
  ['MatMul batched × weight', (_, [a, b]) => F.matmul(a!, b!), [f(2, 3, 4), f(4, 5)], ['MatMul', 'Gemm']],
  ['MatMul batch broadcast', (_, [a, b]) => F.matmul(a!, b!), [f(2, 2, 3, 4), f(2, 1, 4, 2)], ['MatMul']],
  [
    'Gemm',
    (_, [a, b, c]) => F.gemm(a!, b!, { transB: true, alpha: 0.5, beta: 2, c: c! }),
    [f(2, 3), f(4, 3), f(4)],
    ['Gemm'],
  ],
  ['Gemm transA', (_, [a, b]) => F.gemm(a!, b!, { transA: true }), [f(3, 2), f(3, 4)], ['Gemm']],
  ['Transpose', (_, [a]) => F.transpose(a!, [2, 0, 1]), [f(2, 3, 4)], ['Transpose']],
  ['Reshape', (_, [a]) => F.reshape(a!, [3, -1]), [f(2, 3, 2)], ['Reshape']],
  [
    'Unsqueeze/Squeeze',
    (_, [a]) => F.squeeze(F.unsqueeze(a!, [0, 2]), [0]),
    [f(2, 3)],
    ['Unsqueeze', 'Squeeze'],
  ],
  ['Expand', (_, [a]) => F.expand(a!, [2, 3, 4]), [f(3, 1)], ['Expand']],
  ['Concat', (_, [a, b]) => F.concat([a!, b!, a!], 1), [f(2, 1), f(2, 3)], ['Concat']],
  ['Split', (_, [a]) => F.mul(F.split(a!, 1, [1, 3])[1]!, 2), [f(2, 4)], ['Split']],
  [
    'Slice',
    (_, [a]) =>
      F.slice(a!, [
        { axis: 1, start: 1, end: 3 },
        { axis: 0, start: -1 },
      ]),
    [f(3, 4)],
    ['Slice'],
  ],
  [
    'Gather axis 0 (embedding)',
    (_, [t, i]) => F.gather(t!, i!, 0),
    [f(5, 3), ids([2, 2], [1, 4, 1, 0])],
    ['Gather'],
  ],
  ['Gather axis 1', (_, [t, i]) => F.gather(t!, i!, 1), [f(2, 5, 3), ids([3], [4, 0, 4])], ['Gather']],
  [
    'GatherElements',
    (_, [t, i]) => F.gatherElements(t!, i!, 1),
    [f(2, 4), ids([2, 2], [3, 3, 0, 1])],
    ['GatherElements'],
  ],
  ['ReduceSum', (_, [a]) => F.reduceSum(a!, [1], false), [f(2, 3, 2)], ['ReduceSum']],
  ['ReduceMean keepdims', (_, [a]) => F.reduceMean(a!, [0, 2], true), [f(2, 3, 2)], ['ReduceMean']],
  ['ReduceMax', (_, [a]) => F.reduceMax(a!, [1]), [away(2, 4)], ['ReduceMax']],
  ['ReduceMin', (_, [a]) => F.reduceMin(a!, [0], true), [away(3, 2)], ['ReduceMin']],
  ['ReduceLogSumExp', (_, [a]) => F.reduceLogSumExp(a!, [1]), [f(2, 4)], ['ReduceLogSumExp']],
  ['Softmax', (_, [a]) => F.softmax(a!, 1), [f(2, 4)], ['Softmax']],
  ['LogSoftmax', (_, [a]) => F.logSoftmax(a!, -1), [f(2, 4)], ['LogSoftmax']],
  [
    'LayerNorm',
    (_, [x, s, b]) => F.layerNorm(x!, s!, b!, 1e-5),
    [f(2, 3, 5), f(5), f(5)],
    ['LayerNormalization'],
  ],
  ['GELU (exact)', (_, [a]) => F.gelu(a!), [f(6)], []],
  ['L2 normalise', (_, [a]) => F.l2Normalize(a!, -1), [f(3, 4)], []],
  ['Cross-entropy', (_, [a, l]) => F.crossEntropy(a!, l!), [f(3, 4), ids([3], [0, 3, 1])], []],
  [
    'Conv (stride, padding)',
    (_, [x, w, b]) => F.conv2d(x!, w!, b!, { stride: [2, 2], padding: [1, 1] }),
    [f(2, 2, 5, 5), f(3, 2, 3, 3), f(3)],
    ['Conv'],
  ],
  [
    'Conv (patchify)',
    (_, [x, w]) => F.conv2d(x!, w!, undefined, { stride: [2, 2] }),
    [f(1, 3, 4, 4), f(2, 3, 2, 2)],
    ['Conv'],
  ],
  [
    'Conv (dilation)',
    (_, [x, w]) => F.conv2d(x!, w!, undefined, { dilation: [2, 2] }),
    [f(1, 1, 5, 5), f(1, 1, 2, 2)],
    ['Conv'],
  ],
  [
    'Conv (grouped input grad)',
    (_, [x, w]) => F.conv2d(x!, w!, undefined, { groups: 2 }),
    [f(1, 4, 3, 3), { shape: [4, 2, 2, 2], noGrad: true }],
    ['Conv'],
  ],
];

const covered = new Set<string>();
for (const [name, build, inputs, ops, opts] of cases) {
  for (const op of ops) covered.add(op);
  test(`gradient: ${name}`, async () => {
    const { maxError, worst } = await gradCheck(build, inputs, opts);
    assert.ok(maxError < 1e-2, `max relative error ${maxError} at ${JSON.stringify(worst)}`);
  });
}

// Dropout draws a new mask every run, so finite differences do not apply: check dL/dx = w·mask/(1−p).
test('gradient: Dropout', async () => {
  const g = new Graph('dropout');
  const x = g.input('x', 'float32', [64]);
  const w = g.input('w', 'float32', [64]);
  const y = F.dropout(x, 0.25, true, 7);
  const loss = F.reduceSum(F.mul(y, w));
  g.output('y', y);
  g.output('dx', gradients(g, loss, [x]).get('x')!);
  const xs = Float32Array.from({ length: 64 }, (_, i) => 1 + i);
  const ws = Float32Array.from({ length: 64 }, (_, i) => (i % 3) - 1.5);
  const out = await (
    await compile(g)
  ).run({ x: new ort.Tensor('float32', xs, [64]), w: new ort.Tensor('float32', ws, [64]) });
  const ys = out.y!.data as Float32Array;
  const dx = out.dx!.data as Float32Array;
  let dropped = 0;
  for (let i = 0; i < 64; i++) {
    const kept = ys[i] !== 0;
    if (!kept) dropped++;
    assert.ok(Math.abs(dx[i]! - (kept ? ws[i]! / 0.75 : 0)) < 1e-5, `element ${i}`);
    if (kept) assert.ok(Math.abs(ys[i]! - xs[i]! / 0.75) < 1e-4);
  }
  assert.ok(dropped > 4 && dropped < 32, `dropped ${dropped} of 64 at p=0.25`);
});

test('every op with a gradient rule has a finite-difference case', () => {
  const missing = differentiableOps().filter((op) => !covered.has(op) && op !== 'Dropout'); // Dropout: its own test above;
  assert.deepEqual(missing, []);
});
