import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gradients } from '../engine/autodiff.ts';
import { gradCheck } from '../engine/gradcheck.ts';
import { Graph, type Tensor } from '../engine/graph.ts';
import { normal, Rng } from '../engine/init.ts';
import * as F from '../engine/ops/index.ts';
import { compile, ort } from '../engine/runtime.ts';
import { Trainer } from '../engine/trainer.ts';
import { adaptiveWeight, adaspFromTerms, adaspLoss, adaspTerms, tripletLoss } from './metric-losses.ts';

// ---- float64 references, written from the formulas with plain loops (no log-space tricks) ----

type Matrix = number[][];

function normalizeRows(x: Matrix): Matrix {
  return x.map((row) => {
    const norm = Math.sqrt(row.reduce((s, v) => s + v * v, 0));
    return row.map((v) => v / Math.max(norm, 1e-12));
  });
}

function cosines(x: Matrix): Matrix {
  const f = normalizeRows(x);
  return f.map((a) => f.map((b) => a.reduce((s, v, i) => s + v * b[i]!, 0)));
}

interface AdaspRef {
  loss: number;
  weights: number[];
}

function adaspRef(x: Matrix, p: number, k: number, tau: number, variant = 'adasp'): AdaspRef {
  const cos = cosines(x);
  const S = (i: number, j: number) => cos[i]![j]! / tau;
  const members = (g: number) => Array.from({ length: k }, (_, t) => g * k + t);
  let total = 0;
  const weights: number[] = [];
  for (let g = 0; g < p; g++) {
    let sumHard = 0;
    let sumSoft = 0;
    for (const i of members(g)) {
      let inner = 0;
      for (const j of members(g)) inner += Math.exp(-S(i, j));
      sumHard += inner;
      sumSoft += 1 / inner;
    }
    const l = -Math.log(sumHard);
    const s = Math.log(sumSoft);
    let neg = 0;
    for (let m = 0; m < p; m++) {
      if (m === g) continue;
      for (const i of members(g)) for (const j of members(m)) neg += Math.exp(S(i, j));
    }
    const a = tau * s;
    const b = tau * l;
    let w = b < 0 ? 0 : (2 * a * b) / (a + b);
    if (variant === 'sp-h') w = 1;
    if (variant === 'sp-lh') w = 0;
    weights.push(w);
    const pk = Math.exp(w * l + (1 - w) * s);
    total += -Math.log(pk / (pk + neg));
  }
  return { loss: total / p, weights };
}

function tripletRef(x: Matrix, p: number, k: number): number {
  const cos = cosines(x);
  const n = p * k;
  let total = 0;
  for (let i = 0; i < n; i++) {
    let ap = -Infinity;
    let an = Infinity;
    for (let j = 0; j < n; j++) {
      const d = (1 - cos[i]![j]!) / 2;
      const same = Math.floor(i / k) === Math.floor(j / k);
      if (same && i !== j) ap = Math.max(ap, d);
      if (!same) an = Math.min(an, d);
    }
    total += Math.log1p(Math.exp(ap - an));
  }
  return total / n;
}

// ---- inputs ----

const P = 3;
const K = 4;
const D = 5;

function randomMatrix(rows: number, cols: number, seed: number, scale = 1): Matrix {
  const rng = new Rng(seed, 'metric-losses');
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => scale * rng.normal()));
}

/**
 * Identity centres (scaled by spread, shifted by common in every coordinate) plus per-sample
 * noise; small noise makes tight groups (b > 0 for AdaSP), small spread similar identities.
 */
function clustered(
  p: number,
  k: number,
  d: number,
  seed: number,
  noise: number,
  spread = 1,
  common = 0,
): Matrix {
  const centres = randomMatrix(p, d, seed, spread);
  const jitter = randomMatrix(p * k, d, seed + 1000, noise);
  return jitter.map((row, i) => row.map((v, c) => v + centres[Math.floor(i / k)]![c]! + common));
}

interface Case {
  name: string;
  x: Matrix;
  p: number;
  k: number;
}

function cases(): Case[] {
  const out: Case[] = [];
  for (const seed of [1, 2, 3])
    out.push({ name: `random seed ${seed}`, x: randomMatrix(P * K, D, seed), p: P, k: K });
  for (const seed of [4, 5])
    out.push({ name: `tight groups seed ${seed}`, x: clustered(P, K, D, seed, 0.15), p: P, k: K });
  const identical = randomMatrix(P * K, D, 6);
  for (let t = 1; t < K; t++) identical[t] = [...identical[0]!];
  out.push({ name: 'identical features in a group', x: identical, p: P, k: K });
  // Every row close to one direction: cosines near 1 across identities too.
  out.push({ name: 'similar across groups', x: clustered(P, K, D, 7, 0.01, 0.02, 1), p: P, k: K });
  out.push({ name: 'P=2, K=2', x: randomMatrix(4, 3, 8), p: 2, k: 2 });
  return out;
}

const flat = (x: Matrix): Float32Array => Float32Array.from(x.flat());

async function forward(build: (x: Tensor) => Tensor, x: Matrix, batchDim?: string): Promise<number> {
  const g = new Graph('metric');
  const input = g.input('x', 'float32', [batchDim ?? x.length, x[0]!.length]);
  g.output('loss', build(input));
  const session = await compile(g);
  const out = await session.run({ x: new ort.Tensor('float32', flat(x), [x.length, x[0]!.length]) });
  return Number(out.loss!.data[0]);
}

const relDiff = (a: number, b: number): number => Math.abs(a - b) / Math.max(1, Math.abs(b));

// ---- forward values ----

test('AdaSP matches the loop reference (τ = 0.04), both weight regimes covered', async (t) => {
  let worst = 0;
  let zeroWeights = 0;
  let positiveWeights = 0;
  for (const c of cases()) {
    const ref = adaspRef(c.x, c.p, c.k, 0.04);
    zeroWeights += ref.weights.filter((w) => w === 0).length;
    positiveWeights += ref.weights.filter((w) => w > 0).length;
    const got = await forward((x) => adaspLoss(x, c.p, c.k), c.x);
    const err = relDiff(got, ref.loss);
    worst = Math.max(worst, err);
    assert.ok(err < 1e-4, `${c.name}: ${got} vs ${ref.loss}`);
  }
  assert.ok(
    zeroWeights > 0 && positiveWeights > 0,
    `weights: ${zeroWeights} zero, ${positiveWeights} positive`,
  );
  t.diagnostic(`max relative difference ${worst.toExponential(2)}`);
});

test('AdaSP variants and other temperatures match the loop reference', async (t) => {
  let worst = 0;
  for (const c of cases())
    for (const [variant, tau] of [
      ['sp-h', 0.04],
      ['sp-lh', 0.04],
      ['adasp', 0.1],
    ] as const) {
      const ref = adaspRef(c.x, c.p, c.k, tau, variant).loss;
      const got = await forward((x) => adaspLoss(x, c.p, c.k, { variant, temperature: tau }), c.x);
      worst = Math.max(worst, relDiff(got, ref));
      assert.ok(relDiff(got, ref) < 1e-4, `${c.name} ${variant} τ=${tau}: ${got} vs ${ref}`);
    }
  t.diagnostic(`max relative difference ${worst.toExponential(2)}`);
});

test('AdaSP stays finite and exact where exp(S) overflows float32 (τ = 0.01, P·K = 256)', async (t) => {
  // exp(1/0.01) = 2.7e43 > float32's 3.4e38: a direct implementation returns Inf/NaN here.
  const x = clustered(32, 8, 16, 9, 0.01, 0.02, 1);
  const ref = adaspRef(x, 32, 8, 0.01).loss;
  const got = await forward((f) => adaspLoss(f, 32, 8, { temperature: 0.01 }), x);
  assert.ok(Number.isFinite(got));
  assert.ok(relDiff(got, ref) < 1e-4, `${got} vs ${ref}`);
  t.diagnostic(`loss ${got}, reference ${ref}, relative difference ${relDiff(got, ref).toExponential(2)}`);
});

test('triplet loss matches the loop reference', async (t) => {
  let worst = 0;
  for (const c of cases()) {
    const ref = tripletRef(c.x, c.p, c.k);
    const got = await forward((x) => tripletLoss(x, c.p, c.k), c.x);
    worst = Math.max(worst, relDiff(got, ref));
    assert.ok(relDiff(got, ref) < 1e-4, `${c.name}: ${got} vs ${ref}`);
  }
  t.diagnostic(`max relative difference ${worst.toExponential(2)}`);
});

test('normalize: false on unit rows gives the same losses', async () => {
  const x = normalizeRows(randomMatrix(P * K, D, 10));
  for (const build of [
    [(f: Tensor) => adaspLoss(f, P, K), (f: Tensor) => adaspLoss(f, P, K, { normalize: false })],
    [(f: Tensor) => tripletLoss(f, P, K), (f: Tensor) => tripletLoss(f, P, K, { normalize: false })],
  ]) {
    const [a, b] = [await forward(build[0]!, x), await forward(build[1]!, x)];
    assert.ok(Math.abs(a - b) < 1e-5, `${a} vs ${b}`);
  }
});

test('a symbolic batch dim is pinned to P·K at run time', async () => {
  const x = randomMatrix(P * K, D, 11);
  const stat = await forward((f) => adaspLoss(f, P, K), x);
  const sym = await forward((f) => adaspLoss(f, P, K), x, 'batch');
  assert.ok(Math.abs(stat - sym) < 1e-6);
  const trip = await forward((f) => tripletLoss(f, P, K), x, 'batch');
  assert.ok(relDiff(trip, tripletRef(x, P, K)) < 1e-4);
  await assert.rejects(
    forward((f) => adaspLoss(f, P, K), x.slice(0, 10), 'batch'),
    /requested shape:\{12,-1\}/,
  );
});

// ---- gradients ----

const gradInput = (x: Matrix) => ({ shape: [x.length, x[0]!.length], data: flat(x) });

test('gradients match finite differences (features un-normalised, through the L2 normalisation)', async (t) => {
  const tight = clustered(P, K, D, 12, 0.15);
  const loose = randomMatrix(P * K, D, 13);
  const checks: [string, Matrix, (g: Graph, xs: Tensor[]) => Tensor][] = [
    ['sp-h', loose, (_, [x]) => adaspLoss(x!, P, K, { variant: 'sp-h' })],
    ['sp-lh', tight, (_, [x]) => adaspLoss(x!, P, K, { variant: 'sp-lh' })],
    ['adasp, all w = 0', loose, (_, [x]) => adaspLoss(x!, P, K)],
    ['triplet', loose, (_, [x]) => tripletLoss(x!, P, K)],
    ['triplet, tight groups', tight, (_, [x]) => tripletLoss(x!, P, K)],
  ];
  assert.ok(adaspRef(loose, P, K, 0.04).weights.every((w) => w === 0));
  for (const [name, x, build] of checks) {
    const r = await gradCheck(build, [gradInput(x)], { eps: 1e-3 });
    t.diagnostic(`${name}: max error ${r.maxError.toExponential(2)}`);
    assert.ok(r.maxError < 1e-2, `${name}: ${JSON.stringify(r.worst)}`);
  }
});

test('AdaSP gradient with the adaptive weight held fixed matches finite differences', async (t) => {
  // The weight has no gradient, so the check perturbs only the copy that feeds the terms.
  // Overlapping identities: 0 < w < 1 and gradients of order 10, so the check is not vacuous.
  const x = clustered(P, K, D, 14, 0.3, 0.5);
  const w = adaspRef(x, P, K, 0.04).weights;
  assert.ok(
    w.every((v) => v > 0 && v < 1),
    `weights ${w}`,
  );
  const r = await gradCheck(
    (_, [live, frozen]) => adaspFromTerms(adaspTerms(live!, P, K), adaptiveWeight(adaspTerms(frozen!, P, K))),
    [gradInput(x), { ...gradInput(x), noGrad: true }],
    { eps: 1e-3 },
  );
  t.diagnostic(`max error ${r.maxError.toExponential(2)}`);
  assert.ok(r.maxError < 1e-2, JSON.stringify(r.worst));
});

test('no gradient flows through the adaptive weight', async () => {
  const x = clustered(P, K, D, 14, 0.3, 0.5);
  assert.ok(adaspRef(x, P, K, 0.04).weights.every((v) => v > 0));
  const g = new Graph('stopgrad');
  const input = g.input('x', 'float32', [P * K, D]);
  const full = adaspLoss(input, P, K);
  const fixed = adaspFromTerms(
    adaspTerms(input, P, K),
    adaptiveWeight(adaspTerms(F.stopGradient(input), P, K)),
  );
  // The same loss with the weight as a differentiable function: its gradient must differ.
  const terms = adaspTerms(input, P, K);
  const tau = terms.temperature;
  const [a, b] = [F.mul(terms.soft, tau), F.mul(terms.hard, tau)];
  const leaky = adaspFromTerms(terms, F.div(F.mul(F.mul(a, b), 2), F.add(a, b)));
  g.output('g_full', gradients(g, full, [input]).get('x')!);
  g.output('g_fixed', gradients(g, fixed, [input]).get('x')!);
  g.output('g_leaky', gradients(g, leaky, [input]).get('x')!);
  const out = await (await compile(g)).run({ x: new ort.Tensor('float32', flat(x), [P * K, D]) });
  const [gf, gx, gl] = (['g_full', 'g_fixed', 'g_leaky'] as const).map((k) => out[k]!.data as Float32Array);
  let same = 0;
  let leak = 0;
  for (let i = 0; i < gf!.length; i++) {
    same = Math.max(same, Math.abs(gf![i]! - gx![i]!));
    leak = Math.max(leak, Math.abs(gf![i]! - gl![i]!));
  }
  assert.ok(same < 1e-5, `full vs fixed weight: ${same}`);
  assert.ok(leak > 1e-3, `a differentiable weight would change the gradient (${leak})`);
});

// ---- training ----

for (const [name, loss] of [
  ['AdaSP', (f: Tensor) => adaspLoss(f, 4, 3)],
  ['triplet', (f: Tensor) => tripletLoss(f, 4, 3)],
] as const) {
  test(`${name}: a learnable embedding table trained with Trainer clusters by identity`, async () => {
    const n = 12;
    const trainer = await Trainer.create(
      (g) => {
        const ids = g.input('ids', 'int64', [n]);
        const features = F.l2Normalize(F.embedding(g.param('table', [n, 8], normal(1)), ids));
        return { loss: loss(features), outputs: { features } };
      },
      { seed: 16, runtime: { threads: 1 }, optimizer: { weightDecay: 0 } },
    );
    const batch = {
      ids: new ort.Tensor(
        'int64',
        BigInt64Array.from({ length: n }, (_, i) => BigInt(i)),
        [n],
      ),
    };
    const losses: number[] = [];
    let features: Float32Array = new Float32Array(0);
    for (let s = 0; s < 40; s++) {
      const r = await trainer.trainStep(batch, 0.05);
      losses.push(r.loss);
      features = r.outputs.features!.data as Float32Array;
    }
    await trainer.release();
    assert.ok(losses.at(-1)! < 0.5 * losses[0]!, `loss ${losses[0]} → ${losses.at(-1)}`);
    // Every row's nearest other row belongs to its own identity.
    const row = (i: number) => features.subarray(i * 8, i * 8 + 8);
    for (let i = 0; i < n; i++) {
      let best = -1;
      let bestCos = -Infinity;
      for (let j = 0; j < n; j++) {
        if (j === i) continue;
        const c = row(i).reduce((s, v, t) => s + v * row(j)[t]!, 0);
        if (c > bestCos) [best, bestCos] = [j, c];
      }
      assert.equal(Math.floor(best / 3), Math.floor(i / 3), `row ${i}'s nearest is ${best}`);
    }
  });
}

// ---- build-time errors ----

test('bad P, K or feature shapes fail when the graph is built, with the numbers', () => {
  const g = new Graph('errors');
  const x = g.input('x', 'float32', [10, D]);
  assert.throws(() => adaspLoss(x, 3, 4), /the batch has 10 rows but P×K = 3×4 = 12/);
  assert.throws(() => tripletLoss(x, 3, 4), /tripletLoss.*10 rows but P×K = 3×4 = 12/);
  assert.throws(() => adaspLoss(x, 1, 10), /P must be an integer ≥ 2/);
  assert.throws(() => tripletLoss(x, 10, 1), /K must be an integer ≥ 2/);
  assert.throws(() => adaspLoss(x, 2.5, 4), /P must be an integer/);
  assert.throws(() => adaspLoss(g.input('y', 'float32', [2, 5, 4]), 2, 5), /features must be \[P·K, D\]/);
  assert.throws(() => adaspLoss(x, 2, 5, { temperature: 0 }), /temperature must be a positive number/);
});
