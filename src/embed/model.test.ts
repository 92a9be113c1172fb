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
import { towerGraphs } from '../models/factory.ts';
import { withImageSize } from '../models/spec.ts';
import { createModel, loadVisionLanguageModel } from './model.ts';
import { readModelFile, writeModelFile } from './model-folder.ts';

/** kep-model.json exactly as the writer of format kep-model/1 wrote it (before specs). */
function writeLegacyModelFile(dir: string, file: Record<string, unknown>): void {
  writeFileSync(
    join(dir, 'kep-model.json'),
    `${JSON.stringify({ format: 'kep-model/1', ...file }, null, 2)}\n`,
  );
}

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
  // A folder as kep wrote it before kep-model.json held the spec (format kep-model/1): it migrates.
  writeLegacyModelFile(dir, {
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

test('a kep-model/2 folder holds the whole spec and loads without the registry; createModel takes a name, a folder or a spec', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kep-model-v2-'));
  const entry = getModel('kep-tiny');
  if (entry.kind !== 'kep') throw new Error('kep-tiny is a KEP model');
  // A name the registry does not know, and a ViT size it does not have: only the spec can say them.
  const spec = withImageSize(
    { ...entry, name: 'my-kep', tokenizer: { ...entry.tokenizer, vocabulary: 'vocab.txt' } },
    48,
  );
  const { values } = await parameterValues(towerGraphs(spec).all, { seed: 3 });
  const g = towerGraphs(spec).all;
  writeSafetensors(
    join(dir, 'model.safetensors'),
    new Map([...values].map(([k, v]) => [k, fromFloat32(v, [...g.params.get(k)!.shape])])),
  );
  writeFileSync(join(dir, 'vocab.txt'), `${characterVocabulary().join('\n')}\n`);
  writeModelFile(dir, { spec, origin: 'test' });
  assert.deepEqual(readModelFile(dir).spec, spec);
  const folder = await createModel(dir);
  assert.equal(folder.name, 'my-kep');
  assert.equal(folder.preprocess.size, 48);
  assert.deepEqual(folder.spec, spec);
  const bySpec = await createModel({
    spec,
    weights: join(dir, 'model.safetensors'),
    keyMap: 'kep',
    vocab: join(dir, 'vocab.txt'),
  });
  const p = pixels(1, 48, 5);
  assert.deepEqual(await folder.embedImages(p, 1), await bySpec.embedImages(p, 1));
  assert.deepEqual(await folder.embedTexts(['a b']), await bySpec.embedTexts(['a b']));
  const named = await createModel('kep-tiny');
  assert.equal(named.untrained, true);
  for (const m of [folder, bySpec, named]) await m.release();
});

test('a kep-model/1 folder migrates to a spec: the registry image tower at its recorded size, its own text tower', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kep-model-v1-'));
  const entry = getModel('kep-tiny');
  if (entry.kind !== 'kep') throw new Error('kep-tiny is a KEP model');
  const text = { ...entry.config.text, vocabSize: 77 };
  writeLegacyModelFile(dir, {
    model: 'kep-tiny',
    text,
    pooling: 'mean',
    embedDim: 16,
    preprocess: {
      size: 40,
      resize: 'shortest',
      interpolation: 'bicubic',
      crop: 'center',
      mean: [0.1, 0.2, 0.3],
      std: [1, 1, 1],
    },
    maxLength: 24,
    vocab: 'vocab.txt',
    origin: 'old run',
  });
  const file = readModelFile(dir);
  assert.equal(file.migratedFrom, 'kep-model/1');
  assert.equal(file.origin, 'old run');
  const s = file.spec;
  assert.equal(s.name, 'kep-tiny');
  assert.deepEqual(s.config.text, text);
  assert.equal(s.config.image.kind, 'vit');
  if (s.config.image.kind === 'vit') assert.equal(s.config.image.config.imageSize, 40);
  assert.deepEqual(s.preprocess, {
    size: 40,
    mean: [0.1, 0.2, 0.3],
    std: [1, 1, 1],
    interpolation: 'bicubic',
  });
  assert.deepEqual(s.tokenizer, { maxLength: 24, vocabulary: 'vocab.txt', pooling: 'mean', lowerCase: true });
});
