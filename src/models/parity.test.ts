// Full-size models against PyTorch (torchvision's ViT; Swin/CTransPath after timm 0.5.4; BERT after
// Hugging Face). Weights come from formula-weights.ts on both sides; the fixtures hold outputs only
// (scripts/fixtures/models_parity.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { Graph, type Tensor } from '../engine/graph.ts';
import { compile, ort } from '../engine/runtime.ts';
import { readSafetensors, toBigInt64, toFloat32 } from '../engine/safetensors.ts';
import { bert, bertConfigs } from './bert.ts';
import { formulaValues } from './formula-weights.ts';
import { swin, swinConfigs } from './swin.ts';
import { type VitConfig, vit, vitConfigs } from './vit.ts';

const fixture = (name: string) =>
  readSafetensors(fileURLToPath(new URL(`../../test/fixtures/models/${name}.safetensors`, import.meta.url)));

function pixels(batch: number, size: number): ort.Tensor {
  const n = batch * 3 * size * size;
  return new ort.Tensor(
    'float32',
    Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.01)),
    [batch, 3, size, size],
  );
}

async function run(g: Graph, feeds: Record<string, ort.Tensor>, output: string): Promise<Float32Array> {
  const paramData = new Map([...g.params.values()].map((p) => [p.name, formulaValues(p.name, p.shape)]));
  const session = await compile(g, { paramData, outputs: [output] }, { threads: 2 });
  const out = (await session.run(feeds))[output]!.data as Float32Array;
  await session.release();
  return out;
}

function assertClose(got: Float32Array, want: Float32Array, tol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: size`);
  let max = 0;
  for (let i = 0; i < got.length; i++) max = Math.max(max, Math.abs(got[i]! - want[i]!));
  assert.ok(max <= tol, `${what}: max abs difference ${max.toExponential(2)} > ${tol}`);
}

async function imageModel(name: string, size: number, build: (g: Graph, x: Tensor) => Tensor): Promise<void> {
  const g = new Graph(name);
  const x = g.input('pixels', 'float32', ['batch', 3, size, size]);
  g.output('features', build(g, x));
  const got = await run(g, { pixels: pixels(2, size) }, 'features');
  assertClose(got, toFloat32(fixture(name).tensors.get('result.features')!), 1e-4, name);
}

test('ViT-B/16 matches torchvision (batch 2, max abs ≤ 1e-4)', () =>
  imageModel('vit-b-16', 224, (g, x) => vit(g, x, vitConfigs['vit-b-16'])));
test('ViT-B/32 matches torchvision', () =>
  imageModel('vit-b-32', 224, (g, x) => vit(g, x, vitConfigs['vit-b-32'])));
test('CLIP-style ViT (ln_pre, no patch bias, projection) matches PyTorch', () => {
  const cfg: VitConfig = {
    ...vitConfigs['clip-vit-b-32'],
    imageSize: 64,
    dim: 64,
    depth: 2,
    heads: 4,
    mlpDim: 256,
    numClasses: 32,
  };
  return imageModel('clip_style_vit', 64, (g, x) => vit(g, x, cfg));
});
test('CTransPath (Swin-T with conv stem) matches PyTorch', () =>
  imageModel('ctranspath', 224, (g, x) => swin(g, x, swinConfigs.ctranspath)));
test('test-sized Swin matches PyTorch', () =>
  imageModel('swin-tiny-test', 32, (g, x) => swin(g, x, swinConfigs['swin-tiny-test'])));

test('BERT-base with padding matches PyTorch (pooled and [CLS] hidden state)', async () => {
  const fx = fixture('bert-base');
  const ids = fx.tensors.get('input.ids')!;
  const mask = fx.tensors.get('input.mask')!;
  const g = new Graph('bert-base');
  const idsT = g.input('ids', 'int64', ['batch', 'seq']);
  const maskT = g.input('mask', 'int64', ['batch', 'seq']);
  const out = bert(g, idsT, maskT, bertConfigs['bert-base']);
  g.output('pooled', out.pooled);
  const feeds = {
    ids: new ort.Tensor('int64', toBigInt64(ids), ids.shape),
    mask: new ort.Tensor('int64', toBigInt64(mask), mask.shape),
  };
  assertClose(await run(g, feeds, 'pooled'), toFloat32(fx.tensors.get('result.pooled')!), 1e-4, 'pooled');
});

test('a torch.save checkpoint loads through the timm Swin key map and reproduces PyTorch', async () => {
  const { loadStateDict } = await import('../weights/load.ts');
  const { applyKeyMap, KEY_MAPS } = await import('../weights/keymaps.ts');
  const path = fileURLToPath(new URL('../../test/fixtures/models/swin-tiny-test.pth', import.meta.url));
  const g = new Graph('swin-from-checkpoint');
  const x = g.input('pixels', 'float32', ['batch', 3, 32, 32]);
  g.output('features', swin(g, x, swinConfigs['swin-tiny-test']));
  const loaded = await loadStateDict(path);
  const expected = new Map([...g.params.values()].map((p) => [p.name, p.shape]));
  const { tensors, report } = applyKeyMap(loaded.tensors, KEY_MAPS['timm-swin']!, expected, {
    strict: true,
    source: path,
  });
  assert.equal(report.missing.length, 0);
  assert.equal(report.loaded, g.params.size);
  const paramData = new Map(
    [...g.params.keys()].map((k) => [k, toFloat32(tensors.get(k)!, { convert: true })]),
  );
  const session = await compile(g, { paramData, outputs: ['features'] });
  const got = (await session.run({ pixels: pixels(2, 32) })).features!.data as Float32Array;
  await session.release();
  assertClose(
    got,
    toFloat32(fixture('swin-tiny-test').tensors.get('result.features')!),
    1e-4,
    'swin-tiny-test from .pth',
  );
});
