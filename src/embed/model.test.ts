import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Graph } from '../engine/graph.ts';
import { fromFloat32, writeSafetensors } from '../engine/safetensors.ts';
import { encodeImage, encodeText, logitScale } from '../models/kep.ts';
import { getModel } from '../models/registry.ts';
import { characterVocabulary } from '../text/vocab-builder.ts';
import { parameterValues } from '../weights/model-weights.ts';
import { loadVisionLanguageModel } from './model.ts';
import { writeModelFile } from './model-folder.ts';

function norms(x: Float32Array, dim: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < x.length; i += dim) out.push(Math.hypot(...x.subarray(i, i + dim)));
  return out;
}

function pixels(count: number, size: number, seed: number): Float32Array {
  const p = new Float32Array(count * 3 * size * size);
  for (let i = 0; i < p.length; i++) p[i] = Math.sin(i * 0.37 + seed);
  return p;
}

test('a registry model without weights is untrained, tokenises with a character vocabulary and embeds', async () => {
  const m = await loadVisionLanguageModel({ name: 'kep-tiny', threads: 1 });
  assert.equal(m.untrained, true);
  assert.match(m.source, /untrained/);
  assert.equal(m.embedDim, 16);
  assert.equal(m.preprocess.size, 32);
  assert.ok(Math.abs(m.logitScale - 25) < 1e-4);
  const img = await m.embedImages(pixels(3, 32, 0), 3);
  assert.equal(img.length, 3 * 16);
  for (const n of norms(img, 16)) assert.ok(Math.abs(n - 1) < 1e-5);
  const txt = await m.embedTexts(['adenocarcinoma of the lung', 'normal colon mucosa']);
  assert.equal(txt.length, 2 * 16);
  for (const n of norms(txt, 16)) assert.ok(Math.abs(n - 1) < 1e-5);
  await assert.rejects(() => m.embedImages(new Float32Array(10), 1), /3×32×32/);
  await m.release();
});

test('an image-only registry model embeds images and refuses texts clearly', async () => {
  const m = await loadVisionLanguageModel({ name: 'vit-tiny-16', threads: 1 });
  const img = await m.embedImages(pixels(1, m.preprocess.size, 1), 1);
  assert.equal(img.length, m.embedDim);
  await assert.rejects(() => m.embedTexts(['x']), /no text tower/);
  await m.release();
});

test('a model folder loads its weights, vocabulary and logit scale, and matches the same weights loaded by name', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kep-model-'));
  const entry = getModel('kep-tiny');
  assert.equal(entry.kind, 'kep');
  if (entry.kind !== 'kep') return;
  const g = new Graph('all');
  g.output('i', encodeImage(g, g.input('pixels', 'float32', ['b', 3, 32, 32]), entry.config));
  g.output(
    't',
    encodeText(g, g.input('ids', 'int64', ['b', 's']), g.input('m', 'int64', ['b', 's']), entry.config),
  );
  g.output('s', logitScale(g, entry.config));
  const { values } = await parameterValues(g, { seed: 7 });
  values.set('logit_scale', new Float32Array([Math.log(50)]));
  const tensors = new Map([...values].map(([k, v]) => [k, fromFloat32(v, [...g.params.get(k)!.shape])]));
  writeSafetensors(join(dir, 'model.safetensors'), tensors);
  writeFileSync(join(dir, 'vocab.txt'), `${characterVocabulary().join('\n')}\n`);
  writeModelFile(dir, {
    model: 'kep-tiny',
    text: entry.config.text,
    pooling: 'cls',
    embedDim: entry.config.embedDim,
    preprocess: {
      size: 32,
      resize: 'shortest',
      interpolation: 'bicubic',
      crop: 'center',
      mean: [0.5, 0.5, 0.5],
      std: [0.25, 0.25, 0.25],
    },
    maxLength: 64,
    vocab: 'vocab.txt',
    origin: 'test',
  });
  const folder = await loadVisionLanguageModel({ dir, threads: 1 });
  const named = await loadVisionLanguageModel({
    name: 'kep-tiny',
    weights: join(dir, 'model.safetensors'),
    keyMap: 'kep',
    vocab: join(dir, 'vocab.txt'),
    threads: 1,
  });
  const random = await loadVisionLanguageModel({ name: 'kep-tiny', threads: 1 });
  assert.equal(folder.untrained, false);
  assert.ok(Math.abs(folder.logitScale - 50) < 1e-3);
  assert.deepEqual(folder.preprocess.mean, [0.5, 0.5, 0.5]);
  const p = pixels(2, 32, 3);
  assert.deepEqual(await folder.embedImages(p, 2), await named.embedImages(p, 2));
  assert.notDeepEqual(await folder.embedImages(p, 2), await random.embedImages(p, 2));
  const texts = ['squamous cell carcinoma', 'benign'];
  assert.deepEqual(await folder.embedTexts(texts), await named.embedTexts(texts));
  for (const m of [folder, named, random]) await m.release();
});

test('bad model folders fail naming the file and field', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kep-model-bad-'));
  await assert.rejects(() => loadVisionLanguageModel({ dir }), /not a kep model folder/);
  writeFileSync(join(dir, 'kep-model.json'), '{"format": "kep-model/1", "model": "kep-tiny"}');
  await assert.rejects(() => loadVisionLanguageModel({ dir }), /kep-model\.json: .*text/);
  writeFileSync(join(dir, 'kep-model.json'), '{"format": ');
  await assert.rejects(() => loadVisionLanguageModel({ dir }), /kep-model\.json: not valid JSON/);
  await assert.rejects(() =>
    loadVisionLanguageModel({ name: 'kep-tiny', weights: join(dir, 'none.safetensors') }),
  );
  await assert.rejects(() => loadVisionLanguageModel({ name: 'bert-small' }), /no image tower/);
});
