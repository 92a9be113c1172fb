import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { loadCheckpoint, latestCheckpoint } from '../engine/checkpoint.ts';
import { ImageLoader } from '../data/image-loader.ts';
import { readLabelled } from '../data/labelled.ts';
import { readPairs } from '../data/pairs.ts';
import { readPromptFile } from '../data/prompt-sets.ts';
import { COLOURS, type SyntheticSetFiles, writeSyntheticSet } from '../data/synthetic.ts';
import { loadVisionLanguageModel } from '../embed/model.ts';
import type { VisionLanguageModel } from '../embed/types.ts';
import { TextEmbeddingCache, argmaxRows, classEmbeddings, cosineScores } from '../eval/class-embeddings.ts';
import { precisionAgreement } from '../eval/precision-agreement.ts';
import { readMetrics } from './loop.ts';
import { trainSyntheticWorldEncoder } from './synthetic-encoder.ts';
import { vlpConfigSchema, trainVisionLanguage } from './vlp.ts';

const root = mkdtempSync(join(tmpdir(), 'kep-vlp-'));
let train: SyntheticSetFiles;
let heldOut: SyntheticSetFiles;
let s1Dir: string;

before(async () => {
  // Five colour classes (chance 0.2) drawn in three shapes on two backgrounds: colour is what a
  // test-sized ViT learns in a few hundred steps; shapes need a real one.
  const opts = { classBy: 'colour', colours: COLOURS } as const;
  train = await writeSyntheticSet(join(root, 'train'), { count: 320, seed: 1, ...opts });
  heldOut = await writeSyntheticSet(join(root, 'val'), { count: 100, seed: 2, ...opts });
  // A tiny knowledge encoder that has learned the synonyms the captions use.
  s1Dir = join(root, 's1');
  await trainSyntheticWorldEncoder(s1Dir, 1);
});

/** Held-out image embeddings, class embeddings and zero-shot accuracy (first prompt set). */
async function zeroShot(
  model: VisionLanguageModel,
): Promise<{ accuracy: number; rows: Float32Array; classes: Float32Array }> {
  const set = await readLabelled(heldOut.labels);
  const loader = new ImageLoader(
    set.items.map((i) => i.path),
    { preprocess: model.preprocess, batchSize: 45, workers: 0 },
  );
  const features: Float32Array[] = [];
  for await (const b of loader.batches()) features.push(await model.embedImages(b.pixels, b.count));
  await loader.close();
  const all = new Float32Array(features.reduce((s, f) => s + f.length, 0));
  let off = 0;
  for (const f of features) {
    all.set(f, off);
    off += f.length;
  }
  const prompts = readPromptFile(heldOut.prompts)[0]!;
  const classes = await classEmbeddings(prompts, new TextEmbeddingCache(model));
  const pred = argmaxRows(cosineScores(all, classes), classes.labels.length);
  let correct = 0;
  set.items.forEach((item, i) => {
    if (classes.labels[pred[i]!] === item.label) correct++;
  });
  return { accuracy: correct / set.items.length, rows: all, classes: classes.matrix };
}

const common = {
  model: 'kep-tiny',
  batch: 32,
  steps: 250,
  lr: 1e-3,
  warmup: 10,
  freezeEpochs: 0,
  evalEvery: 1000,
  checkpointEvery: 1000,
  threads: 1,
  workers: 1,
};

for (const loss of ['kep', 'clip'] as const) {
  test(`${loss} training on generated pairs lowers its loss and classifies held-out images zero-shot`, async (t) => {
    const out = join(root, `run-${loss}`);
    const pairs = await readPairs(train.pairs);
    const run = await trainVisionLanguage(
      { pairs, initText: s1Dir },
      out,
      vlpConfigSchema.parse({ ...common, loss }),
    );
    assert.equal(run.summary.lastStep, 250);
    const lines = readMetrics(join(out, 'metrics.jsonl')).filter((l) => l.loss !== undefined);
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    const first = lines.slice(0, 10);
    const last = lines.slice(-10);
    assert.ok(mean(last.map((l) => l.loss!)) < 0.85 * mean(first.map((l) => l.loss!)), 'loss falls');
    if (loss === 'kep') {
      // The knowledge term is there and falls; CLIP has none.
      assert.ok(mean(last.map((l) => l.terms!.tk!)) < mean(first.map((l) => l.terms!.tk!)));
    } else assert.equal(lines[0]!.terms!.tk, undefined);
    // The run folder is a model folder: consumers load it as such.
    const model = await loadVisionLanguageModel({ dir: out, threads: 1 });
    const fp32 = await zeroShot(model);
    const acc = fp32.accuracy;
    await model.release();
    if (loss === 'kep') {
      // The trained model under int8 (issue 14's bound): embeddings close to fp32's, same predictions.
      const int8Model = await loadVisionLanguageModel({ dir: out, threads: 1, precision: 'int8' });
      const int8 = await zeroShot(int8Model);
      await int8Model.release();
      const a = precisionAgreement(fp32, int8, model.embedDim);
      assert.ok(a.cosineMean >= 0.99 && a.cosineMin >= 0.97, JSON.stringify(a));
      assert.ok(a.agreement >= 0.99, `int8 agrees with fp32 on ${a.agreement} of the images`);
      t.diagnostic(
        `int8 vs fp32 on the trained kep-tiny: cosine mean ${a.cosineMean.toFixed(4)}, min ${a.cosineMin.toFixed(4)}, agreement ${a.agreement}; accuracy fp32 ${fp32.accuracy}, int8 ${int8.accuracy}`,
      );
    }
    // Chance is 0.2. Measured: KEP 0.90, CLIP 0.47 — both start from the S1 encoder, and without the
    // knowledge term CLIP's text tower drifts away from the colour synonyms the prompts use.
    assert.ok(acc > (loss === 'kep' ? 0.6 : 0.4), `${loss}: held-out zero-shot accuracy ${acc}`);
  });
}

test('a knowledge weight of 0 is the CLIP loss: same steps, same parameters', async () => {
  const pairs = await readPairs(train.pairs);
  const cfg = { ...common, steps: 3 };
  await trainVisionLanguage(
    { pairs, initText: s1Dir },
    join(root, 'w0'),
    vlpConfigSchema.parse({ ...cfg, knowledgeWeight: 0 }),
  );
  await trainVisionLanguage(
    { pairs, initText: s1Dir },
    join(root, 'clip3'),
    vlpConfigSchema.parse({ ...cfg, loss: 'clip' }),
  );
  const a = loadCheckpoint(latestCheckpoint(join(root, 'w0', 'checkpoints'))!.path);
  const b = loadCheckpoint(latestCheckpoint(join(root, 'clip3', 'checkpoints'))!.path);
  for (const [name, t] of b.params) assert.deepEqual(a.params.get(name)!.data, t.data, name);
});

test('GradCache micro-batches give the whole-batch gradient', async () => {
  const pairs = await readPairs(train.pairs);
  // AdamW with a huge eps takes a step proportional to the gradient: Δθ ≈ −(lr/eps)·g.
  const cfg = { ...common, steps: 1, warmup: 0, lr: 1, eps: 1e3, weightDecay: 0, loss: 'kep' as const };
  await trainVisionLanguage({ pairs, initText: s1Dir }, join(root, 'whole'), vlpConfigSchema.parse(cfg));
  await trainVisionLanguage(
    { pairs, initText: s1Dir },
    join(root, 'cached'),
    vlpConfigSchema.parse({ ...cfg, microBatch: 8 }),
  );
  const a = loadCheckpoint(latestCheckpoint(join(root, 'whole', 'checkpoints'))!.path);
  const b = loadCheckpoint(latestCheckpoint(join(root, 'cached', 'checkpoints'))!.path);
  const init = loadCheckpoint(latestCheckpoint(join(s1Dir, 'checkpoints'))!.path);
  let maxDelta = 0;
  let maxDiff = 0;
  for (const [name, t] of a.params) {
    if (name.startsWith('knowledge')) continue;
    const other = b.params.get(name)!.data;
    const start = init.params.get(name)?.data;
    for (let i = 0; i < t.data.length; i++) {
      if (start) maxDelta = Math.max(maxDelta, Math.abs(t.data[i]! - start[i]!));
      maxDiff = Math.max(maxDiff, Math.abs(t.data[i]! - other[i]!));
    }
  }
  assert.ok(maxDelta > 1e-6, `the step moved the text tower (${maxDelta})`);
  assert.ok(
    maxDiff < 1e-3 * maxDelta + 1e-9,
    `whole vs micro-batched: ${maxDiff} against steps of ${maxDelta}`,
  );
});

test('dropout with micro-batches is refused', async () => {
  const pairs = await readPairs(train.pairs);
  await assert.rejects(
    () =>
      trainVisionLanguage(
        { pairs },
        join(root, 'bad'),
        vlpConfigSchema.parse({ ...common, microBatch: 8, dropout: 0.1 }),
      ),
    /GradCache needs dropout 0/,
  );
});

test('the starting model folder carries the S1 text tower unchanged beside a random image tower', async () => {
  const { KnowledgeEncoder } = await import('./knowledge.ts');
  const { writeStartingModel } = await import('./vlp.ts');
  const dir = join(root, 'start');
  await writeStartingModel(dir, { model: 'kep-tiny', initText: s1Dir });
  const model = await loadVisionLanguageModel({ dir, threads: 1 });
  const s1 = await KnowledgeEncoder.load(s1Dir);
  const texts = ['crimson', 'a cobalt ring', 'leaf-green wedge on a dim background'];
  const a = await model.embedTexts(texts);
  const b = await s1.embed(texts);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) < 1e-5);
  assert.match(model.source, /image tower untrained/);
  assert.equal(model.untrained, true);
  assert.equal((await model.embedImages(new Float32Array(3 * 32 * 32), 1)).length, model.embedDim);
  await model.release();
  await s1.release();
});
