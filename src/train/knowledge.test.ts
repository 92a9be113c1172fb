import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildProgram } from '../cli/main.ts';
import { evaluateWithHybrid } from '../eval/hybrid.ts';
import {
  KnowledgeEncoder,
  embeddingsPerStep,
  knowledgeConfigSchema,
  trainKnowledgeEncoder,
} from './knowledge.ts';
import type { TrainingSample } from './samples.ts';

// A small synthetic corpus: 40 "diseases", each a name, synonyms and a definition built from its
// own words, so that a tiny encoder has something learnable within a few steps.
function corpus(): TrainingSample[] {
  const roots = ['adeno', 'sarco', 'lympho', 'melano', 'glio', 'blasto', 'fibro', 'myo', 'osteo', 'chondro'];
  const sites = ['breast', 'lung', 'kidney', 'liver'];
  const out: TrainingSample[] = [];
  for (const r of roots)
    for (const s of sites) {
      const label = `D:${r}-${s}`;
      out.push({ text: `${s} ${r}ma`, label, kind: 'name' });
      out.push({ text: `${r}ma of the ${s}`, label, kind: 'synonym' });
      out.push({ text: `${s} ${r}matous tumour`, label, kind: 'synonym' });
      out.push({ text: `primary ${r}ma arising in the ${s}`, label, kind: 'synonym' });
      out.push({ text: `A ${r}ma that is located in the ${s}.`, label, kind: 'definition' });
      out.push({ text: `Sheets of ${r} cells infiltrating ${s} tissue.`, label, kind: 'histology' });
    }
  return out;
}

const tiny = knowledgeConfigSchema.parse({
  layers: 1,
  hidden: 32,
  heads: 2,
  intermediate: 64,
  embedDim: 32,
  maxLength: 24,
  vocabSize: 300,
  p: 8,
  k: 4,
  steps: 6,
  evalEvery: 3,
  checkpointEvery: 3,
  warmup: 1,
  lr: 2e-3,
  heldOut: 0.3,
  dropout: 0,
});

test('S1 trains, checkpoints and evaluates a knowledge encoder; the folder reloads and embeds', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kep-s1-'));
  const run = await trainKnowledgeEncoder(corpus(), dir, tiny);
  assert.equal(run.summary.lastStep, 6);
  for (const f of [
    'vocab.txt',
    'encoder.json',
    'metrics.jsonl',
    'summary.svg',
    'checkpoints/step-000006.safetensors',
  ])
    assert.ok(existsSync(join(dir, f)), f);
  assert.ok(run.summary.finalEval && 'synonym.rank1' in run.summary.finalEval);
  const encoder = await KnowledgeEncoder.load(dir);
  // The report the run returns is what the saved folder measures (same galleries, same weight).
  const reloaded = await evaluateWithHybrid((t) => encoder.embed(t), run.evalSets, encoder.hybrid.alpha);
  for (const kind of Object.keys(reloaded.galleries))
    for (const column of ['galleries', 'baseline', 'hybrid'] as const)
      assert.ok(
        Math.abs(run.report[column][kind]!.mAP - reloaded[column][kind]!.mAP) < 1e-6,
        `${column}.${kind}: ${run.report[column][kind]!.mAP} vs ${reloaded[column][kind]!.mAP}`,
      );
  const e = await encoder.embed(['breast adenoma', 'lung gliomatous tumour', 'x']);
  await encoder.release();
  assert.equal(e.length, 3 * 32);
  assert.ok(Math.abs(Math.hypot(...e.subarray(0, 32)) - 1) < 1e-5);

  // The eval CLI's JSON contract, on a file the encoder never saw.
  const samplesPath = join(dir, 'other.jsonl');
  writeFileSync(
    samplesPath,
    corpus()
      .slice(0, 60)
      .map((s) => JSON.stringify(s))
      .join('\n') + '\n',
  );
  let printed = '';
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string) => ((printed += chunk), true)) as typeof process.stdout.write;
  try {
    await buildProgram()
      .exitOverride()
      .parseAsync(['node', 'kep', 'eval', 'knowledge', '--encoder', dir, '--samples', samplesPath, '--json']);
  } finally {
    process.stdout.write = write;
  }
  const report = JSON.parse(printed) as {
    galleries: Record<string, Record<string, number>>;
    baseline: Record<string, Record<string, number>>;
  };
  for (const side of [report.galleries, report.baseline])
    for (const kind of ['synonym', 'definition', 'histology', 'synonym_prompt']) {
      const m = side[kind]!;
      for (const key of ['rank1', 'rank5', 'mAP', 'n'])
        assert.equal(typeof m[key], 'number', `${kind}.${key}`);
    }
});

test('embeddings are remembered per text list until the step moves', async () => {
  let step = 0;
  let calls = 0;
  const encode = embeddingsPerStep(
    () => step,
    async (texts) => (calls++, new Float32Array(texts.length).fill(step)),
  );
  const a = ['x', 'y'];
  assert.deepEqual([...(await encode(a))], [0, 0]);
  await encode(a);
  assert.equal(calls, 1, 'same list, same step: served from memory');
  await encode(['x', 'y']);
  assert.equal(calls, 2, 'another list with the same texts is embedded');
  step = 1;
  assert.deepEqual([...(await encode(a))], [1, 1]);
  assert.equal(calls, 3, 'a new step forgets the old embeddings');
});

test('S1 can start from a pretrained Hugging Face BERT folder: its sizes, vocabulary and weights', async () => {
  const { Graph } = await import('../engine/graph.ts');
  const { bert } = await import('../models/bert.ts');
  const { parameterValues } = await import('../weights/model-weights.ts');
  const { fromFloat32, writeSafetensors } = await import('../engine/safetensors.ts');
  const { characterVocabulary } = await import('../text/vocab-builder.ts');
  const { latestCheckpoint, loadCheckpoint } = await import('../engine/checkpoint.ts');
  const hf = mkdtempSync(join(tmpdir(), 'kep-hf-bert-'));
  const vocab = [...characterVocabulary(), 'breast', 'lung', 'kidney', 'liver', 'tumour'];
  const cfg = {
    vocabSize: vocab.length + 3, // rows the tokenizer never uses, as in real checkpoints
    hidden: 24,
    layers: 2,
    heads: 2,
    intermediate: 48,
    maxPositions: 40,
    typeVocabSize: 2,
    eps: 1e-12,
  };
  const g = new Graph('hf');
  bert(g, g.input('ids', 'int64', ['b', 's']), g.input('mask', 'int64', ['b', 's']), cfg);
  const { values } = await parameterValues(g, { seed: 11 });
  writeSafetensors(
    join(hf, 'model.safetensors'),
    new Map([...values].map(([k, v]) => [`bert.${k}`, fromFloat32(v, [...g.params.get(k)!.shape])])),
  );
  writeFileSync(join(hf, 'vocab.txt'), `${vocab.join('\n')}\n`);
  writeFileSync(
    join(hf, 'config.json'),
    JSON.stringify({
      model_type: 'bert',
      vocab_size: cfg.vocabSize,
      hidden_size: 24,
      num_hidden_layers: 2,
      num_attention_heads: 2,
      intermediate_size: 48,
      max_position_embeddings: 40,
      type_vocab_size: 2,
      layer_norm_eps: 1e-12,
      hidden_act: 'gelu',
    }),
  );
  const dir = mkdtempSync(join(tmpdir(), 'kep-s1-init-'));
  // A vanishing learning rate and no decay: after one step the weights are the pretrained ones.
  await trainKnowledgeEncoder(
    corpus(),
    dir,
    knowledgeConfigSchema.parse({ ...tiny, init: hf, steps: 1, lr: 1e-20, weightDecay: 0, warmup: 0 }),
  );
  const state = loadCheckpoint(latestCheckpoint(join(dir, 'checkpoints'))!.path);
  for (const [name, v] of values) {
    const got = state.params.get(`text.${name}`)!.data;
    assert.equal(got.length, v.length, name);
    for (let i = 0; i < v.length; i += 97) assert.ok(Math.abs(got[i]! - v[i]!) < 1e-6, name);
  }
  const encoder = await KnowledgeEncoder.load(dir);
  assert.equal(encoder.config.layers, 2);
  assert.equal(encoder.config.hidden, 24);
  assert.equal(encoder.tokenizer.vocabSize, vocab.length);
  assert.equal((await encoder.embed(['lung tumour'])).length, tiny.embedDim);
  await encoder.release();

  writeFileSync(join(hf, 'config.json'), JSON.stringify({ hidden_size: 24 }));
  await assert.rejects(
    () =>
      trainKnowledgeEncoder(
        corpus(),
        mkdtempSync(join(tmpdir(), 'kep-s1-bad-')),
        knowledgeConfigSchema.parse({ ...tiny, init: hf }),
      ),
    /config\.json: vocab_size/,
  );
});
