import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gradients } from '../engine/autodiff.ts';
import { Graph, type Tensor } from '../engine/graph.ts';
import { Rng, initialize } from '../engine/init.ts';
import * as F from '../engine/ops/index.ts';
import { compile, ort } from '../engine/runtime.ts';
import { bert, type BertConfig } from './bert.ts';
import { MLM_WORD_EMBEDDINGS, mlmHead, mlmObjective } from './bert-mlm.ts';

const cfg: BertConfig = {
  vocabSize: 23,
  hidden: 8,
  layers: 1,
  heads: 2,
  intermediate: 16,
  maxPositions: 6,
  typeVocabSize: 2,
  eps: 1e-12,
};
const [B, S] = [2, 6];
const ids = [2, 7, 4, 9, 3, 0, 2, 11, 12, 4, 15, 3];
const mask = ids.map((t) => (t === 0 ? 0 : 1));
const positions = [2, 3, 8, 10]; // flat b·S + i
const labels = [5, 9, 13, 21];

function inputs(g: Graph) {
  return {
    ids: g.input('ids', 'int64', [B, S]),
    mask: g.input('mask', 'int64', [B, S]),
    positions: g.input('positions', 'int64', ['m']),
    labels: g.input('labels', 'int64', ['m']),
  };
}

/** The textbook version: the head over every token, cross-entropy weighted by a 0/1 mask. */
function referenceLoss(g: Graph): Tensor {
  const x = inputs(g);
  const full = g.input('full_labels', 'int64', [B, S]);
  const weight = g.input('weight', 'float32', [B, S]);
  const { hidden } = g.scope('bert', () => bert(g, x.ids, x.mask, cfg));
  const logits = mlmHead(g, hidden, g.value(MLM_WORD_EMBEDDINGS), cfg); // [B, S, V]
  const logp = F.gatherElements(F.logSoftmax(logits, -1), F.unsqueeze(full, [2]), 2);
  const picked = F.mul(F.reshape(logp, [B, S]), weight);
  return F.neg(F.div(F.reduceSum(picked), F.reduceSum(weight)));
}

async function lossAndGrads(build: (g: Graph) => Tensor) {
  const g = new Graph('mlm');
  const loss = build(g);
  const all = [...g.params.keys()];
  const grads = gradients(
    g,
    loss,
    all.map((n) => g.value(n)),
  );
  const names = all.filter((n) => grads.has(n)); // the pooler plays no part in the MLM loss
  g.output('loss', loss);
  for (const n of names) g.output(`d.${n}`, grads.get(n)!);
  const session = await compile(g);
  const feeds: Record<string, ort.Tensor> = {
    ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [B, S]),
    mask: new ort.Tensor('int64', BigInt64Array.from(mask.map(BigInt)), [B, S]),
    positions: new ort.Tensor('int64', BigInt64Array.from(positions.map(BigInt)), [positions.length]),
    labels: new ort.Tensor('int64', BigInt64Array.from(labels.map(BigInt)), [labels.length]),
  };
  const full = new BigInt64Array(B * S);
  const weight = new Float32Array(B * S);
  positions.forEach((p, k) => {
    full[p] = BigInt(labels[k]!);
    weight[p] = 1;
  });
  feeds.full_labels = new ort.Tensor('int64', full, [B, S]);
  feeds.weight = new ort.Tensor('float32', weight, [B, S]);
  for (const [n, p] of g.params) {
    const size = p.shape.reduce((a, b) => a * b, 1);
    feeds[n] = new ort.Tensor('float32', initialize(p.init, size, new Rng(3, n)), p.shape);
  }
  for (const k of Object.keys(feeds)) if (!session.inputNames.includes(k)) delete feeds[k];
  const out = await session.run(feeds);
  await session.release();
  return { names, out };
}

test('the gathered MLM loss and its gradients equal the full-vocabulary reference over masked positions', async () => {
  const fast = await lossAndGrads((g) => mlmObjective(g, inputs(g), cfg).loss);
  const ref = await lossAndGrads(referenceLoss);
  assert.deepEqual(fast.names.sort(), ref.names.sort());
  assert.ok(!fast.names.includes('bert.pooler.dense.weight') && fast.names.length > 10);
  const l1 = Number(fast.out.loss!.data[0]);
  assert.ok(Math.abs(l1 - Number(ref.out.loss!.data[0])) < 1e-5, `${l1}`);
  assert.ok(l1 > 2 && l1 < 5, `a random head predicts near-uniformly (ln 23 ≈ 3.1), got ${l1}`);
  for (const n of fast.names) {
    const a = fast.out[`d.${n}`]!.data as Float32Array;
    const b = ref.out[`d.${n}`]!.data as Float32Array;
    const scale = Math.max(1e-6, ...Array.from(b, Math.abs));
    for (let i = 0; i < a.length; i++)
      assert.ok(Math.abs(a[i]! - b[i]!) <= 1e-4 * scale + 1e-7, `${n}[${i}]`);
  }
  // The decoder is tied: the word embeddings get gradient from the head too (rows never input).
  const dEmb = fast.out[`d.${MLM_WORD_EMBEDDINGS}`]!.data as Float32Array;
  const row21 = dEmb.subarray(21 * cfg.hidden, 22 * cfg.hidden);
  assert.ok(
    row21.some((v) => v !== 0),
    'label 21 never appears as input; its row learns through the decoder',
  );
});

test('the head and encoder carry Hugging Face BertForMaskedLM names', () => {
  const g = new Graph('names');
  mlmObjective(g, inputs(g), cfg);
  const names = [...g.params.keys()];
  for (const n of [
    'bert.embeddings.word_embeddings.weight',
    'bert.encoder.layer.0.attention.self.query.weight',
    'bert.pooler.dense.weight',
    'cls.predictions.transform.dense.weight',
    'cls.predictions.transform.LayerNorm.bias',
    'cls.predictions.bias',
  ])
    assert.ok(names.includes(n), n);
  assert.ok(
    !names.some((n) => n.includes('decoder')),
    'the decoder weight is the word embeddings, not a copy',
  );
  assert.equal(g.params.get('cls.predictions.bias')!.decay, false);
});
