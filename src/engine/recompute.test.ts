import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gradients, transformerBlockOf } from './autodiff.ts';
import { Graph } from './graph.ts';
import { Rng, initialize } from './init.ts';
import * as F from './ops/index.ts';
import { compile, ort } from './runtime.ts';
import { bert, bertConfigs } from '../models/bert.ts';
import { vit, vitConfigs } from '../models/vit.ts';

function build(recompute: boolean, dropout = 0): { g: Graph; forwardNodes: number } {
  const g = new Graph('vit-tiny');
  const pixels = g.input('pixels', 'float32', ['batch', 3, 32, 32]);
  const labels = g.input('labels', 'int64', ['batch']);
  const cfg = { ...vitConfigs['vit-tiny-16'], depth: 3, numClasses: 5 };
  let logits = vit(g, pixels, cfg, { training: true });
  if (dropout) logits = F.dropout(logits, dropout, true);
  const loss = F.crossEntropy(logits, labels);
  const forwardNodes = g.nodes.length;
  const params = [...g.params.values()].map((p) => g.value(p.name));
  const grads = gradients(g, loss, params, recompute ? { recompute: transformerBlockOf } : {});
  g.output('loss', loss);
  for (const [k, t] of grads) g.output(`grad.${k}`, t);
  return { g, forwardNodes };
}

const feeds = (g: Graph): Record<string, ort.Tensor> => {
  const f: Record<string, ort.Tensor> = {
    pixels: new ort.Tensor(
      'float32',
      initialize({ kind: 'normal', std: 1 }, 4 * 3 * 32 * 32, new Rng(1, 'px')),
      [4, 3, 32, 32],
    ),
    labels: new ort.Tensor('int64', BigInt64Array.from([0n, 3n, 1n, 4n]), [4]),
  };
  for (const p of g.params.values())
    f[p.name] = new ort.Tensor(
      'float32',
      initialize(
        p.init,
        p.shape.reduce((a, b) => a * b, 1),
        new Rng(0, p.name),
      ),
      p.shape,
    );
  return f;
};

test('transformerBlockOf names the innermost numbered block', () => {
  const node = (name: string) => ({ name, op: 'Add', domain: '', inputs: [], outputs: [], attrs: {} });
  assert.equal(transformerBlockOf(node('image.blocks.3.attn.MatMul_7')), 'image.blocks.3');
  assert.equal(transformerBlockOf(node('image.layers.1.blocks.0.mlp.Add_9')), 'image.layers.1.blocks.0');
  assert.equal(transformerBlockOf(node('text.encoder.layer.11.output.Add_3')), 'text.encoder.layer.11');
  assert.equal(transformerBlockOf(node('image.norm.LayerNormalization_5')), undefined);
  assert.equal(transformerBlockOf(node('image_head.0.MatMul_2')), undefined);
});

test('recomputation per block gives the same gradients and the backward reads only block boundaries', async () => {
  const plain = build(false);
  const ckpt = build(true);
  const a = await compile(plain.g, {}, { threads: 1 });
  const b = await compile(ckpt.g, {}, { threads: 1 });
  const ra = await a.run(feeds(plain.g));
  const rb = await b.run(feeds(ckpt.g));
  await a.release();
  await b.release();
  assert.equal(Object.keys(ra).length, Object.keys(rb).length);
  for (const [k, t] of Object.entries(ra)) {
    const x = t.data as Float32Array;
    const y = rb[k]!.data as Float32Array;
    const scale = Math.max(1e-6, ...Array.from(x, Math.abs));
    const err = Math.max(...Array.from(x, (v, i) => Math.abs(v - y[i]!)));
    assert.ok(err <= 1e-5 * scale, `${k}: max difference ${err} (scale ${scale})`);
  }
  // Every forward value produced inside a block that a backward node reads must be that block's output
  // (consumed outside the block): the inner activations are recomputed.
  const g = ckpt.g;
  const blockOf = new Map<string, string>();
  for (const n of g.nodes.slice(0, ckpt.forwardNodes)) {
    const blk = transformerBlockOf(n);
    if (blk) for (const o of n.outputs) blockOf.set(o, blk);
  }
  const usedOutside = new Set<string>();
  for (const n of g.nodes.slice(0, ckpt.forwardNodes))
    for (const v of n.inputs)
      if (blockOf.has(v) && blockOf.get(v) !== transformerBlockOf(n)) usedOutside.add(v);
  // Values computed from weights alone (a linear layer's Wᵀ) are not activations.
  const fromWeights = (v: string): boolean =>
    g.producerOf(v)!.inputs.every((i) => !i || g.params.has(i) || g.constants.has(i));
  const innerReads = new Set<string>();
  for (const n of g.nodes.slice(ckpt.forwardNodes))
    for (const v of n.inputs) if (blockOf.has(v) && !usedOutside.has(v) && !fromWeights(v)) innerReads.add(v);
  assert.deepEqual([...innerReads], []);
  // Without recomputation the backward reads plenty of them (the test can fail).
  const plainReads = plain.g.nodes
    .slice(plain.forwardNodes)
    .flatMap((n) => n.inputs)
    .filter((v) => /blocks\.\d+\./.test(v));
  assert.ok(plainReads.length > 20);
});

test('random ops are not recomputed (a dropout mask is drawn once)', () => {
  const g = new Graph('drop');
  const x = g.input('x', 'float32', ['batch', 8]);
  const w = g.param('blocks.0.w', [8, 8], { kind: 'normal', std: 0.1 });
  const h = g.scope('blocks.0', () => F.dropout(F.tanh(F.linear(x, w)), 0.5, true));
  const loss = F.reduceSum(F.mul(h, h), [0, 1], false);
  const before = g.nodes.filter((n) => n.op === 'Dropout').length;
  gradients(g, loss, [g.value('blocks.0.w')], { recompute: transformerBlockOf });
  assert.equal(g.nodes.filter((n) => n.op === 'Dropout').length, before);
  assert.ok(g.nodes.some((n) => n.name.includes('recompute') && n.op === 'Tanh'));
});

test('recomputation through masked BERT layers gives the same gradients', async () => {
  const cfg = {
    ...bertConfigs['bert-small'],
    vocabSize: 50,
    hidden: 16,
    layers: 2,
    heads: 2,
    intermediate: 32,
  };
  const run = async (recompute: boolean): Promise<Record<string, ort.Tensor>> => {
    const g = new Graph('bert-tiny');
    const ids = g.input('ids', 'int64', ['batch', 'seq']);
    const mask = g.input('mask', 'int64', ['batch', 'seq']);
    const { pooled } = bert(g, ids, mask, cfg, { training: true });
    const loss = F.reduceSum(F.mul(pooled, pooled), [0, 1], false);
    const grads = gradients(
      g,
      loss,
      [...g.params.values()].map((p) => g.value(p.name)),
      recompute ? { recompute: transformerBlockOf } : {},
    );
    for (const [k, t] of grads) g.output(`grad.${k}`, t);
    const f: Record<string, ort.Tensor> = {
      ids: new ort.Tensor(
        'int64',
        BigInt64Array.from({ length: 10 }, (_, i) => BigInt((i * 7) % 50)),
        [2, 5],
      ),
      mask: new ort.Tensor('int64', BigInt64Array.from([1, 1, 1, 1, 1, 1, 1, 1, 0, 0].map(BigInt)), [2, 5]),
    };
    for (const p of g.params.values())
      f[p.name] = new ort.Tensor(
        'float32',
        initialize(
          p.init,
          p.shape.reduce((a, b) => a * b, 1),
          new Rng(0, p.name),
        ),
        p.shape,
      );
    const s = await compile(g, {}, { threads: 1 });
    try {
      return await s.run(f);
    } finally {
      await s.release();
    }
  };
  const [a, b] = [await run(false), await run(true)];
  assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort());
  for (const [k, t] of Object.entries(a)) {
    const x = t.data as Float32Array;
    const y = b[k]!.data as Float32Array;
    const scale = Math.max(1e-6, ...Array.from(x, Math.abs));
    const err = Math.max(...Array.from(x, (v, i) => Math.abs(v - y[i]!)));
    assert.ok(err <= 1e-5 * scale, `${k}: max difference ${err} (scale ${scale})`);
  }
});
