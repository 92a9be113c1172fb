// Parity with PyTorch: fixtures written by scripts/fixtures/engine_parity.py (torch 1.13) hold the
// inputs, weights, outputs and gradients; the same layers built here must match them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { gradients } from '../engine/autodiff.ts';
import { Graph, type Tensor } from '../engine/graph.ts';
import * as F from '../engine/ops/index.ts';
import { compile, ort } from '../engine/runtime.ts';
import { readSafetensors, toBigInt64, toFloat32 } from '../engine/safetensors.ts';
import { Trainer } from '../engine/trainer.ts';
import { bertLayer, linear, maskToBias, vitBlock } from './layers.ts';
import { kepLoss, symmetricInfoNce } from './losses.ts';

const fixture = (
  name: string,
): { get: (k: string) => ort.Tensor; keys: string[]; meta: Record<string, number> } => {
  const path = fileURLToPath(new URL(`../../test/fixtures/engine/${name}.safetensors`, import.meta.url));
  const file = readSafetensors(path);
  return {
    keys: [...file.tensors.keys()],
    meta: JSON.parse(file.metadata.json ?? '{}') as Record<string, number>,
    get: (k) => {
      const t = file.tensors.get(k);
      if (!t) throw new Error(`${path}: no tensor ${k}`);
      return t.dtype === 'I64'
        ? new ort.Tensor('int64', toBigInt64(t), t.shape)
        : new ort.Tensor('float32', toFloat32(t), t.shape);
    },
  };
};

function maxAbsDiff(a: ort.Tensor, b: ort.Tensor): number {
  assert.deepEqual(a.dims, b.dims);
  const x = a.data as Float32Array;
  const y = b.data as Float32Array;
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return m;
}

/** max |a−b| / max|b|: a relative error that is not dominated by tiny elements. */
function relError(a: ort.Tensor, b: ort.Tensor): number {
  const scale = Math.max(...Array.from(b.data as Float32Array, Math.abs), 1e-12);
  return maxAbsDiff(a, b) / scale;
}

async function checkLayer(
  name: string,
  build: (g: Graph, x: Tensor) => Tensor,
  extraInputs: (g: Graph) => void = () => {},
) {
  const fx = fixture(name);
  const g = new Graph(name);
  const x = g.input('input.x', 'float32', fx.get('input.x').dims);
  extraInputs(g);
  const proj = g.input('input.proj', 'float32', fx.get('input.proj').dims);
  const y = build(g, x);
  const loss = F.reduceSum(F.mul(y, proj));
  g.output('y', y);
  g.output('loss', loss);
  const params = [...g.params.keys()];
  const grads = gradients(g, loss, [x, ...params.map((p) => g.value(p))]);
  for (const [k, t] of grads) g.output(`grad.${k}`, t);
  const session = await compile(g);
  const feeds = Object.fromEntries(session.inputNames.map((n) => [n, fx.get(n)]));
  const out = await session.run(feeds);
  assert.ok(maxAbsDiff(out.y!, fx.get('result.y')) <= 1e-4, `${name} forward differs`);
  assert.deepEqual(
    params.sort(),
    fx.keys.filter((k) => !k.includes('.') || !/^(input|result|grad)\./.test(k)).sort(),
    'parameter names match PyTorch state-dict keys',
  );
  for (const k of [...params, 'input.x']) {
    if (k === 'attention.self.key.bias') {
      // Softmax ignores a shift shared by all keys, so this gradient is exactly zero in theory and
      // both sides hold only rounding noise: check that it is noise-sized.
      assert.ok(
        maxAbsDiff(out[`grad.${k}`]!, fx.get(`grad.${k}`)) <= 1e-5,
        `${name}: ${k} gradient is not ~0`,
      );
      continue;
    }
    const err = relError(out[`grad.${k}`]!, fx.get(`grad.${k}`));
    assert.ok(err <= 1e-3, `${name}: gradient of ${k} differs by ${err.toExponential(2)} (relative)`);
  }
}

test('ViT block matches PyTorch (forward ≤ 1e-4, gradients ≤ 1e-3 relative)', async () => {
  const { meta } = fixture('vit_block');
  await checkLayer('vit_block', (g, x) =>
    vitBlock(g, '', x, { dim: meta.dim!, heads: meta.heads!, mlpDim: meta.mlp!, eps: meta.eps! }),
  );
});

test('BERT layer with a padding mask matches PyTorch', async () => {
  const { meta } = fixture('bert_layer');
  let mask: Tensor | undefined;
  await checkLayer(
    'bert_layer',
    (g, x) =>
      bertLayer(g, '', x, {
        hidden: meta.hidden!,
        heads: meta.heads!,
        intermediate: meta.intermediate!,
        eps: meta.eps!,
        maskBias: maskToBias(mask!),
      }),
    (g) => {
      mask = g.input('input.mask', 'int64', [2, 6]);
    },
  );
});

test("KEP's contrastive loss matches PyTorch, with a frozen knowledge head", async () => {
  const fx = fixture('contrastive');
  const { n, image_dim: di, text_dim: dt, dim } = fx.meta as Record<string, number>;
  const g = new Graph('contrastive');
  const img = g.input('input.image', 'float32', ['batch', di!]);
  const txt = g.input('input.text', 'float32', ['batch', dt!]);
  const i = F.l2Normalize(linear(g, 'image', img, di!, dim!));
  const t = F.l2Normalize(linear(g, 'text', txt, dt!, dim!));
  const k = F.stopGradient(F.l2Normalize(linear(g, 'knowledge', txt, dt!, dim!)));
  const scale = g.param('logit_scale', [], { kind: 'constant', value: Math.log(1 / 0.07) });
  const loss = kepLoss(i, t, k, scale);
  g.output('loss', loss);
  g.output('l_it', symmetricInfoNce(i, t, F.exp(scale)));
  g.freeze('knowledge.');
  const trainable = g.trainableParams().map((p) => g.value(p.name));
  for (const [name, d] of gradients(g, loss, trainable)) g.output(`grad.${name}`, d);
  const session = await compile(g);
  const out = await session.run(Object.fromEntries(session.inputNames.map((name) => [name, fx.get(name)])));
  assert.equal(n, 8);
  assert.ok(maxAbsDiff(out.loss!, fx.get('result.loss')) <= 1e-4);
  assert.ok(maxAbsDiff(out.l_it!, fx.get('result.l_it')) <= 1e-4);
  for (const p of g.trainableParams())
    assert.ok(relError(out[`grad.${p.name}`]!, fx.get(`grad.${p.name}`)) <= 1e-3, `gradient of ${p.name}`);
});

test('fused AdamW train steps match torch.optim.AdamW', async () => {
  const fx = fixture('adamw_steps');
  const meta = fx.meta as unknown as {
    model: Record<string, number>;
    lr: number;
    beta1: number;
    beta2: number;
    eps: number;
    weight_decay: number;
  };
  const builder = (g: Graph) => {
    const x = g.input('x', 'float32', [2, 5, meta.model.dim!]);
    const proj = g.input('proj', 'float32', [2, 5, meta.model.dim!]);
    const y = vitBlock(g, '', x, {
      dim: meta.model.dim!,
      heads: meta.model.heads!,
      mlpDim: meta.model.mlp!,
      eps: meta.model.eps!,
    });
    return { loss: F.reduceSum(F.mul(y, proj)) };
  };
  const initial = new Map(
    fx.keys.filter((k) => k.startsWith('init.')).map((k) => [k.slice(5), fx.get(k).data as Float32Array]),
  );
  const trainer = await Trainer.create(builder, {
    initial,
    optimizer: { beta1: meta.beta1, beta2: meta.beta2, eps: meta.eps, weightDecay: meta.weight_decay },
  });
  const batch = { x: fx.get('input.x'), proj: fx.get('input.proj') };
  const losses: number[] = [];
  for (let s = 0; s < 3; s++) losses.push((await trainer.trainStep(batch, meta.lr)).loss);
  const expected = Array.from(fx.get('result.losses').data as Float32Array);
  losses.forEach((l, s) =>
    assert.ok(Math.abs(l - expected[s]!) <= 1e-3 * Math.max(1, Math.abs(expected[s]!)), `loss at step ${s}`),
  );
  for (const [name, value] of trainer.params) {
    const want = fx.get(`final.${name}`);
    let got = value;
    let ref = want.data as Float32Array;
    if (name === 'attn.qkv.bias') {
      // The key third has a zero gradient in theory (softmax shift invariance); Adam turns its
      // rounding noise into ±lr steps whose sign is arbitrary, so compare the query and value thirds.
      const d = meta.model.dim!;
      got = Float32Array.from([...value.subarray(0, d), ...value.subarray(2 * d)]);
      ref = Float32Array.from([...ref.subarray(0, d), ...ref.subarray(2 * d)]);
    }
    const err = maxAbsDiff(
      new ort.Tensor('float32', got, [got.length]),
      new ort.Tensor('float32', ref, [ref.length]),
    );
    assert.ok(err <= 1e-4, `${name} after 3 steps differs by ${err}`);
  }
  await trainer.release();
});
