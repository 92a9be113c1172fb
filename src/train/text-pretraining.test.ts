import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { latestCheckpoint, loadCheckpoint } from '../engine/checkpoint.ts';
import { readSafetensors, toFloat32 } from '../engine/safetensors.ts';
import type { CorpusFile } from '../text/corpus.ts';
import { knowledgeConfigSchema, trainKnowledgeEncoder } from './knowledge.ts';
import { readMetrics } from './loop.ts';
import { loadPretrainedBert } from './pretrained-bert.ts';
import {
  MANIFEST_FILE,
  type TextPretrainingConfig,
  pretrainText,
  textPretrainingConfigSchema,
} from './text-pretraining.ts';

// A small corpus with structure a tiny model can pick up: organ words follow their cell words.
function corpus(): CorpusFile[] {
  const pairs = [
    ['hepatocytes', 'liver'],
    ['alveolar', 'lung'],
    ['nephron', 'kidney'],
    ['keratinocytes', 'skin'],
    ['osteoblasts', 'bone'],
  ];
  const paragraphs: string[] = [];
  for (let i = 0; i < 160; i++) {
    const [cell, organ] = pairs[i % pairs.length]!;
    paragraphs.push(
      `The ${cell} of the ${organ} are arranged in sheets number ${i % 7}. Tumours of the ${organ} spread.`,
    );
  }
  return [{ path: '/corpus/synthetic.txt', bytes: 1, paragraphs }];
}

const tiny: TextPretrainingConfig = textPretrainingConfigSchema.parse({
  layers: 1,
  hidden: 16,
  heads: 2,
  seqLength: 32,
  vocabSize: 120,
  batchSize: 4,
  steps: 6,
  warmup: 1,
  lr: 3e-3,
  evalEvery: 3,
  checkpointEvery: 2,
  heldOut: 0.1,
  evalSequences: 8,
  dropout: 0, // ONNX Runtime's dropout streams restart with a new session, so resume-equality needs none
  treeWeight: 2,
  threads: 1,
});

const losses = (dir: string): unknown[][] =>
  readMetrics(join(dir, 'metrics.jsonl')).flatMap((l): unknown[][] =>
    l.loss !== undefined ? [[l.step, l.loss, l.terms?.maskedAccuracy]] : l.eval ? [[l.step, l.eval]] : [],
  );

test('a tiny MLM run writes a Hugging Face BERT folder that S1 loads unchanged and trains from', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kep-mlm-'));
  const tree = { path: '/tree.json', texts: ['clear cell renal cell carcinoma', 'sheets of clear cells'] };
  const run = await pretrainText({ files: corpus(), tree }, dir, tiny);
  assert.equal(run.summary.lastStep, 6);
  for (const f of ['config.json', 'vocab.txt', 'tokenizer_config.json', 'model.safetensors', MANIFEST_FILE])
    assert.ok(existsSync(join(dir, f)), f);
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(config.hidden_size, 16);
  assert.equal(config.max_position_embeddings, 32);
  const manifest = JSON.parse(readFileSync(join(dir, MANIFEST_FILE), 'utf8')) as {
    corpus: { file: string; licence: string; train: number; valid: number }[];
    tree: { texts: number; repeated: number };
  };
  assert.equal(manifest.corpus[0]!.file, '/corpus/synthetic.txt');
  assert.match(manifest.corpus[0]!.licence, /unknown/);
  assert.equal(manifest.corpus[0]!.train + manifest.corpus[0]!.valid, 160);
  assert.ok(manifest.corpus[0]!.valid > 0);
  assert.deepEqual(manifest.tree, { file: '/tree.json', texts: 2, repeated: 2 });
  const metrics = readMetrics(join(dir, 'metrics.jsonl'));
  assert.ok(metrics.some((l) => typeof l.terms?.maskedAccuracy === 'number'));
  const evals = metrics.filter((l) => l.eval);
  assert.deepEqual(
    evals.map((l) => l.step),
    [3, 6],
  );
  assert.ok(evals.every((l) => l.eval!['valid.loss']! > 0 && l.eval!['valid.accuracy']! >= 0));

  // The safetensors hold HF names, the tied head's bias included; loadPretrainedBert gets them as they are.
  const file = readSafetensors(join(dir, 'model.safetensors'));
  assert.ok(
    file.tensors.has('cls.predictions.bias') && file.tensors.has('cls.predictions.transform.dense.weight'),
  );
  const pre = await loadPretrainedBert(dir);
  assert.equal(pre.config.hidden, 16);
  assert.equal(pre.tokenizer.vocabSize, config.vocab_size);
  const ckpt = loadCheckpoint(latestCheckpoint(join(dir, 'checkpoints'))!.path);
  for (const [name, v] of pre.params) {
    const saved = ckpt.params.get(`bert.${name.slice('text.'.length)}`)!.data;
    assert.deepEqual(v, saved, name);
  }
  assert.deepEqual(
    toFloat32(file.tensors.get('bert.embeddings.word_embeddings.weight')!),
    ckpt.params.get('bert.embeddings.word_embeddings.weight')!.data,
  );

  // S1 starts from it and takes a step; with a vanishing learning rate the weights are the pretrained ones.
  const s1 = mkdtempSync(join(tmpdir(), 'kep-mlm-s1-'));
  const samples = ['liver', 'lung', 'kidney', 'skin'].flatMap((o) => [
    { text: `carcinoma of the ${o}`, label: o, kind: 'name' as const },
    { text: `${o} tumour`, label: o, kind: 'synonym' as const },
    { text: `tumours of the ${o} spread`, label: o, kind: 'definition' as const },
  ]);
  const s1cfg = knowledgeConfigSchema.parse({
    init: dir,
    steps: 1,
    lr: 1e-20,
    warmup: 0,
    weightDecay: 0,
    p: 2,
    k: 2,
    maxLength: 16,
    embedDim: 8,
    heldOut: 0.5,
    dropout: 0,
    threads: 1,
  });
  const s1run = await trainKnowledgeEncoder(samples, s1, s1cfg);
  assert.equal(s1run.summary.lastStep, 1);
  const s1state = loadCheckpoint(latestCheckpoint(join(s1, 'checkpoints'))!.path);
  const w = s1state.params.get('text.encoder.layer.0.attention.self.query.weight')!.data;
  const w0 = pre.params.get('text.encoder.layer.0.attention.self.query.weight')!;
  for (let i = 0; i < w.length; i++) assert.ok(Math.abs(w[i]! - w0[i]!) < 1e-6);
});

test('an MLM run interrupted mid-way resumes to the same loss curve as an uninterrupted one', async () => {
  // Enough steps after the first checkpoint that the signal lands mid-run even on a busy machine.
  const long = { ...tiny, steps: 12 };
  const straight = mkdtempSync(join(tmpdir(), 'kep-mlm-a-'));
  await pretrainText({ files: corpus() }, straight, long);
  const reference = losses(straight);
  assert.equal(reference.filter((l) => typeof l[1] === 'number').length, 12);

  const cut = mkdtempSync(join(tmpdir(), 'kep-mlm-b-'));
  // SIGINT once the first checkpoint exists: the loop finishes its step, saves and returns.
  const timer = setInterval(() => {
    if (existsSync(join(cut, 'checkpoints', 'step-000002.safetensors'))) {
      clearInterval(timer);
      process.emit('SIGINT');
    }
  }, 5);
  const first = await pretrainText({ files: corpus() }, cut, long);
  clearInterval(timer);
  assert.equal(first.summary.stoppedBy, 'signal');
  assert.ok(first.summary.lastStep < 12, `stopped at ${first.summary.lastStep}`);
  const second = await pretrainText({ files: corpus() }, cut, long);
  assert.ok(second.summary.resumedFrom);
  assert.equal(second.summary.lastStep, 12);
  assert.deepEqual(losses(cut), reference);
  assert.deepEqual(
    readSafetensors(join(cut, 'model.safetensors')).tensors.get('cls.predictions.bias')!.data,
    readSafetensors(join(straight, 'model.safetensors')).tensors.get('cls.predictions.bias')!.data,
  );
});
