import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { Graph, type Tensor } from './graph.ts';
import * as F from './ops/index.ts';
import { Rng, initialParameters, initialize } from './init.ts';
import { serializeGraph } from './onnx.ts';
import { inNumberedBlock, quantizeGraph, quantizeSymmetric } from './quantize.ts';
import { compile, ort } from './runtime.ts';
import { bert, bertConfigs } from '../models/bert.ts';
import { swin, swinConfigs } from '../models/swin.ts';
import { vit, vitConfigs } from '../models/vit.ts';

type Feeds = Record<string, ort.Tensor>;

function randomParams(g: Graph): Map<string, Float32Array> {
  return initialParameters(g.params.values());
}

function pixels(batch: number, size: number): ort.Tensor {
  const n = batch * 3 * size * size;
  return new ort.Tensor('float32', initialize({ kind: 'normal', std: 1 }, n, new Rng(1, 'px')), [
    batch,
    3,
    size,
    size,
  ]);
}

function cosines(a: Float32Array, b: Float32Array, dim: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < a.length / dim; r++) {
    let [ab, aa, bb] = [0, 0, 0];
    for (let i = r * dim; i < (r + 1) * dim; i++) {
      ab += a[i]! * b[i]!;
      aa += a[i]! * a[i]!;
      bb += b[i]! * b[i]!;
    }
    out.push(ab / Math.sqrt(aa * bb));
  }
  return out;
}

async function runBytes(bytes: Uint8Array, feeds: Feeds): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  try {
    const r = await s.run(feeds);
    return r[s.outputNames[0]!]!.data as Float32Array;
  } finally {
    await s.release();
  }
}

const ops = (bytes: Uint8Array): string[] =>
  (onnxProto.onnx.ModelProto.decode(bytes).graph?.node ?? []).map((n) => n.opType ?? '');

function vitTiny(numClasses = 5): Graph {
  const g = new Graph('vit-tiny');
  const x = g.input('pixels', 'float32', ['batch', 3, 32, 32]);
  g.output('logits', vit(g, x, { ...vitConfigs['vit-tiny-16'], numClasses }));
  return g;
}

async function agreement(
  g: Graph,
  feeds: Feeds,
  dim: number,
): Promise<{ cos: number[]; bytes: Uint8Array; fp32: Float32Array; int8: Float32Array }> {
  const paramData = randomParams(g);
  const q = quantizeGraph(g, paramData);
  const fp32 = await runBytes(serializeGraph(g, { paramData }).bytes, feeds);
  const int8 = await runBytes(q.bytes, feeds);
  return { cos: cosines(fp32, int8, dim), bytes: q.bytes, fp32, int8 };
}

test('quantizeSymmetric: codes within ±qmax, each channel reaching it, error ≤ half a step', () => {
  const w = Float32Array.from([0.5, -1, 0.25, 0, 3, -0.1, 0.2, 2.9, 0, 0, 0, 0]);
  const { codes, scales } = quantizeSymmetric(w, 4, 63);
  assert.deepEqual(Array.from(scales.slice(0, 2)), [Math.fround(1 / 63), Math.fround(3 / 63)]);
  assert.equal(scales[2], 1, 'an all-zero channel keeps a finite scale');
  for (let c = 0; c < 3; c++) {
    const row = Array.from(codes.slice(c * 4, c * 4 + 4));
    assert.ok(row.every((q) => Math.abs(q) <= 63));
    if (c < 2) assert.equal(Math.max(...row.map(Math.abs)), 63);
    for (let i = 0; i < 4; i++)
      assert.ok(Math.abs(row[i]! * scales[c]! - w[c * 4 + i]!) <= scales[c]! / 2 + 1e-7);
  }
});

test('inNumberedBlock picks the transformer blocks, not stems or heads', () => {
  for (const n of [
    'blocks.3.mlp.fc1.weight',
    'image.blocks.11.attn.qkv.weight',
    'text.encoder.layer.5.attention.self.query.weight',
    'image.layers.2.blocks.1.attn.proj.weight',
    'layers.0.downsample.reduction.weight',
  ])
    assert.ok(inNumberedBlock(n), n);
  for (const n of ['head.weight', 'image_head.0.weight', 'text_head.2.weight', 'text.pooler.dense.weight'])
    assert.ok(!inNumberedBlock(n), n);
});

test('int8 ViT: block linears become DynamicQuantizeMatMul, the head stays fp32, outputs agree', async () => {
  const g = vitTiny();
  const { cos, bytes } = await agreement(g, { pixels: pixels(4, 32) }, 5);
  const q = quantizeGraph(g, randomParams(g));
  // 2 blocks × (qkv, proj, fc1, fc2)
  assert.equal(q.report.quantized.length, 8);
  assert.deepEqual(q.report.kept, ['head.weight']);
  const kinds = ops(bytes);
  assert.equal(kinds.filter((o) => o === 'DynamicQuantizeMatMul').length, 8);
  assert.ok(kinds.includes('LayerNormalization') && kinds.includes('Softmax') && kinds.includes('Erf'));
  assert.ok(Math.min(...cos) > 0.99, `cosines ${cos.join(', ')}`);
  assert.ok(bytes.length < serializeGraph(g, { paramData: randomParams(g) }).bytes.length);
});

test('int8 BERT (masked) and Swin with the conv stem agree with fp32', async () => {
  const cfg = {
    ...bertConfigs['bert-small'],
    vocabSize: 100,
    hidden: 32,
    layers: 2,
    heads: 2,
    intermediate: 64,
  };
  const gb = new Graph('bert-tiny');
  const ids = gb.input('ids', 'int64', ['batch', 'seq']);
  const mask = gb.input('mask', 'int64', ['batch', 'seq']);
  gb.output('hidden', bert(gb, ids, mask, cfg).hidden);
  const [batch, seq] = [3, 7];
  const idv = BigInt64Array.from({ length: batch * seq }, (_, i) => BigInt((i * 37 + 5) % 100));
  const mv = BigInt64Array.from({ length: batch * seq }, (_, i) =>
    i % seq < seq - ((i / seq) | 0) ? 1n : 0n,
  );
  const feeds = {
    ids: new ort.Tensor('int64', idv, [batch, seq]),
    mask: new ort.Tensor('int64', mv, [batch, seq]),
  };
  const b = await agreement(gb, feeds, 32);
  assert.ok(Math.min(...b.cos) > 0.99, `BERT cosines ${b.cos.join(', ')}`);
  assert.equal(ops(b.bytes).filter((o) => o === 'DynamicQuantizeMatMul').length, 12);

  const gs = new Graph('swin-tiny');
  const x: Tensor = gs.input('pixels', 'float32', ['batch', 3, 32, 32]);
  gs.output('features', swin(gs, x, swinConfigs['swin-tiny-test']));
  const s = await agreement(gs, { pixels: pixels(2, 32) }, 32);
  assert.ok(Math.min(...s.cos) > 0.99, `Swin cosines ${s.cos.join(', ')}`);
  assert.ok(ops(s.bytes).includes('Conv'), 'the conv stem stays fp32');
});

test('quantisation is deterministic: same bytes, same outputs', async () => {
  const g = vitTiny();
  const paramData = randomParams(g);
  const a = quantizeGraph(g, paramData).bytes;
  const b = quantizeGraph(g, paramData).bytes;
  assert.deepEqual(a, b);
  const feeds = { pixels: pixels(2, 32) };
  assert.deepEqual(await runBytes(a, feeds), await runBytes(a, feeds));
});

test('compile takes precision int8 for inference sessions, and refuses it without weights', async () => {
  const g = vitTiny();
  const paramData = randomParams(g);
  const s = await compile(g, { paramData }, { threads: 1, precision: 'int8' });
  try {
    assert.ok(ops(s.serialized.bytes).includes('DynamicQuantizeMatMul'));
    const r = await s.run({ pixels: pixels(1, 32) });
    assert.deepEqual(r.logits!.dims, [1, 5]);
  } finally {
    await s.release();
  }
  await assert.rejects(compile(g, {}, { precision: 'int8' }), /vit-tiny: precision int8 needs the weights/);
  await assert.rejects(
    compile(g, { paramData }, { precision: 'int8', executionProvider: 'cuda' }),
    /precision int8 is a CPU path.*--precision fp32 with --device cuda/,
  );
});

const python = '/usr/bin/python3';
const hasOnnx = spawnSync(python, ['-c', 'import onnx'], { stdio: 'ignore' }).status === 0;

test(
  'the int8 file passes onnx.checker (full check)',
  { skip: !hasOnnx && 'python3-onnx not installed' },
  () => {
    const g = vitTiny();
    const dir = mkdtempSync(join(tmpdir(), 'kep-int8-'));
    const file = join(dir, 'vit-int8.onnx');
    writeFileSync(file, quantizeGraph(g, randomParams(g)).bytes);
    const check = spawnSync(
      python,
      [
        '-c',
        'import onnx,sys\nonnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)\nprint("ok")',
        file,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(check.status, 0, check.stderr);
    assert.equal(check.stdout.trim(), 'ok');
  },
);

test('a weight shared by two linear layers is quantised once', async () => {
  const g = new Graph('tied');
  const x = g.input('x', 'float32', ['batch', 8]);
  const w = g.param('blocks.0.w', [8, 8], { kind: 'normal', std: 0.3 });
  g.output('y', F.linear(F.tanh(F.linear(x, w)), w));
  const paramData = randomParams(g);
  const q = quantizeGraph(g, paramData);
  const model = onnxProto.onnx.ModelProto.decode(q.bytes);
  assert.deepEqual(
    (model.graph?.initializer ?? []).map((t) => t.name),
    ['blocks.0.w.int8', 'blocks.0.w.int8.scale'],
  );
  const feeds = {
    x: new ort.Tensor('float32', initialize({ kind: 'normal', std: 1 }, 16, new Rng(2, 'x')), [2, 8]),
  };
  const cos = cosines(
    await runBytes(serializeGraph(g, { paramData }).bytes, feeds),
    await runBytes(q.bytes, feeds),
    8,
  );
  assert.ok(Math.min(...cos) > 0.99, `cosines ${cos.join(', ')}`);
});
