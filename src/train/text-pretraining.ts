// Language pre-training of the text tower (issue 11 §3): BERT's masked-language model with
// whole-word masking on a plain-text corpus, with a WordPiece vocabulary built from that corpus.
// The run folder doubles as a Hugging Face BERT folder (config.json, vocab.txt, model.safetensors
// under bert.* / cls.predictions.* names), so `kep train knowledge --init DIR` starts S1 from it
// exactly as from a downloaded BERT. See docs/text-pretraining.md.
import { log } from '../util/log.ts';
import { existsSync, mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { Rng } from '../engine/init.ts';
import { fromFloat32, writeSafetensors } from '../engine/safetensors.ts';
import { Trainer } from '../engine/trainer.ts';
import type { BertConfig } from '../models/bert.ts';
import { mlmObjective } from '../models/bert-mlm.ts';
import type { CorpusFile } from '../text/corpus.ts';
import { buildVocabulary, writeVocab } from '../text/vocab-builder.ts';
import { BertTokenizer } from '../text/wordpiece.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { createProgress } from '../util/progress.ts';
import { attributionOf } from './corpus-attributions.ts';
import { type LoopSummary, loopConfig, runTraining } from './loop.ts';
import {
  type MaskingOptions,
  type PackedSequences,
  SequenceOrder,
  type TokenRoles,
  mlmBatch,
  packSequences,
  replacementIds,
} from './mlm-data.ts';

// Defaults: see docs/text-pretraining.md for the throughput measurements behind the model size.
export const textPretrainingConfigSchema = z.strictObject({
  layers: z.number().int().positive().max(48).default(4),
  hidden: z.number().int().positive().max(4096).default(128),
  heads: z.number().int().positive().max(64).default(2),
  /** Default 4 × hidden, as BERT. */
  intermediate: z.number().int().positive().max(16384).optional(),
  seqLength: z.number().int().min(8).max(512).default(128),
  /** Position embeddings (default seqLength; S1 can then use up to this many tokens). */
  maxPositions: z.number().int().positive().max(4096).optional(),
  vocabSize: z.number().int().min(64).max(100_000).default(16000),
  batchSize: z.number().int().positive().max(4096).default(32),
  maskProbability: z.number().gt(0).lt(1).default(0.15),
  maxPredictions: z.number().int().positive().default(20),
  dropout: z.number().min(0).max(0.9).default(0.1),
  lr: z.number().positive().default(5e-4),
  warmup: z.number().int().nonnegative().default(200),
  weightDecay: z.number().nonnegative().default(0.01),
  steps: z.number().int().positive().default(5000),
  evalEvery: z.number().int().positive().default(200),
  checkpointEvery: z.number().int().positive().default(100),
  /** Share of each corpus file's paragraphs held out for validation (chosen by a hash of the text). */
  heldOut: z.number().min(0).max(0.5).default(0.01),
  /** Validation sequences evaluated (the first ones of the held-out slice). */
  evalSequences: z.number().int().positive().max(100_000).default(256),
  /** How many times the tree's texts enter the training stream (each time in a new order). */
  treeWeight: z.number().int().min(0).max(1000).default(4),
  seed: z.number().int().default(0),
  threads: z.number().int().positive().optional(),
});
export type TextPretrainingConfig = z.infer<typeof textPretrainingConfigSchema>;

export interface TextCorpus {
  files: CorpusFile[];
  /** Texts of a knowledge tree (or samples file), repeated treeWeight times in training. */
  tree?: { path: string; texts: string[] };
}

export const MANIFEST_FILE = 'kep-text-model.json';

export function bertConfigOf(cfg: TextPretrainingConfig, vocabSize: number): BertConfig {
  return {
    vocabSize,
    hidden: cfg.hidden,
    layers: cfg.layers,
    heads: cfg.heads,
    intermediate: cfg.intermediate ?? 4 * cfg.hidden,
    maxPositions: cfg.maxPositions ?? cfg.seqLength,
    typeVocabSize: 2,
    eps: 1e-12,
  };
}

/** FNV-1a of a text mixed with the seed, as a fraction in [0, 1): a stable held-out draw. */
function hashFraction(text: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
  return ((h ^ (h >>> 12)) >>> 0) / 4294967296;
}

export interface SplitCorpus {
  train: string[];
  valid: string[];
  perFile: { train: number; valid: number }[];
}

/** Corpus paragraphs split by hash; the tree's texts all train, repeated, each copy reshuffled. */
export function splitCorpus(corpus: TextCorpus, cfg: TextPretrainingConfig): SplitCorpus {
  const train: string[] = [];
  const valid: string[] = [];
  const perFile = corpus.files.map((f) => {
    let v = 0;
    for (const p of f.paragraphs)
      if (hashFraction(p, cfg.seed) < cfg.heldOut) {
        valid.push(p);
        v++;
      } else train.push(p);
    return { train: f.paragraphs.length - v, valid: v };
  });
  const tree = corpus.tree?.texts ?? [];
  for (let k = 0; k < cfg.treeWeight && tree.length; k++) {
    const rng = new Rng(cfg.seed, `tree-copy-${k}`);
    const copy = [...tree];
    for (let i = copy.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [copy[i], copy[j]] = [copy[j]!, copy[i]!];
    }
    train.push(...copy);
  }
  return { train, valid, perFile };
}

export function tokenRoles(tokenizer: BertTokenizer): TokenRoles {
  const id = (t: string): number => {
    const i = tokenizer.vocab.get(t);
    if (i === undefined) throw new Error(`the vocabulary has no ${t} token`);
    return i;
  };
  const continuation = new Uint8Array(tokenizer.vocabSize);
  for (const [t, i] of tokenizer.vocab) if (t.startsWith('##')) continuation[i] = 1;
  const special = new Set(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].map(id));
  return {
    cls: id('[CLS]'),
    sep: id('[SEP]'),
    pad: id('[PAD]'),
    mask: id('[MASK]'),
    special,
    continuation,
    vocabSize: tokenizer.vocabSize,
  };
}

/** Tokenises (each distinct text once) and packs, with a progress line. */
function tokenizeAndPack(
  tokenizer: BertTokenizer,
  texts: readonly string[],
  cfg: TextPretrainingConfig,
  roles: TokenRoles,
  label: string,
): PackedSequences {
  const cache = new Map<string, number[]>();
  const progress = createProgress({ label, total: texts.length });
  function* ids(): Generator<number[]> {
    for (let i = 0; i < texts.length; i++) {
      const t = texts[i]!;
      let v = cache.get(t);
      if (!v) {
        v = tokenizer.encode(t, { addSpecialTokens: false, truncation: false }).ids;
        cache.set(t, v);
      }
      if (i % 1000 === 0) progress.update(i);
      yield v;
    }
  }
  try {
    return packSequences(ids(), cfg.seqLength, roles);
  } finally {
    progress.stop();
  }
}

export interface TextRun {
  summary: LoopSummary;
  trainSequences: number;
  validSequences: number;
  trainTokens: number;
}

function maskingOf(cfg: TextPretrainingConfig): MaskingOptions {
  return { probability: cfg.maskProbability, maxPredictions: cfg.maxPredictions };
}

interface Prepared {
  tokenizer: BertTokenizer;
  roles: TokenRoles;
  train: PackedSequences;
  valid: PackedSequences;
  split: SplitCorpus;
}

function prepare(corpus: TextCorpus, outDir: string, cfg: TextPretrainingConfig): Prepared {
  const split = splitCorpus(corpus, cfg);
  if (split.train.length === 0)
    throw new Error('no training text: every paragraph went to the held-out slice');
  mkdirSync(outDir, { recursive: true });
  const vocabPath = join(outDir, 'vocab.txt');
  // Built once per folder, so a resumed run keeps the ids its checkpoints were trained with.
  if (!existsSync(vocabPath)) {
    log.info(`building a ${cfg.vocabSize}-token WordPiece vocabulary from ${split.train.length} texts…`);
    writeVocab(vocabPath, buildVocabulary(split.train, { size: cfg.vocabSize, lowercase: true }).tokens);
  }
  const tokenizer = BertTokenizer.fromVocabFile(vocabPath);
  const roles = tokenRoles(tokenizer);
  const train = tokenizeAndPack(tokenizer, split.train, cfg, roles, 'tokenising');
  const validAll = tokenizeAndPack(tokenizer, split.valid, cfg, roles, 'tokenising held-out');
  if (validAll.count === 0) log.info('no paragraph fell in the held-out slice: no validation');
  const n = Math.min(validAll.count, cfg.evalSequences);
  const valid = { ...validAll, count: n, tokens: validAll.tokens.subarray(0, n * cfg.seqLength) };
  return { tokenizer, roles, train, valid, split };
}

/** Masked-token loss and accuracy on the held-out sequences, with a mask fixed per sequence. */
async function evaluateHeldOut(
  trainer: Trainer,
  p: Prepared,
  cfg: TextPretrainingConfig,
  replacements: Int32Array,
): Promise<Record<string, number>> {
  let lossSum = 0;
  let correct = 0;
  let total = 0;
  for (let start = 0; start < p.valid.count; start += cfg.batchSize) {
    const rows = Array.from({ length: Math.min(cfg.batchSize, p.valid.count - start) }, (_, k) => start + k);
    const rng = new Rng(cfg.seed, `mlm-valid-${start}`);
    const batch = mlmBatch(p.valid, rows, p.roles, maskingOf(cfg), rng, replacements);
    if (batch.predictions === 0) continue;
    const out = await trainer.run(batch.feeds, ['loss', 'correct']);
    lossSum += Number(out.loss!.data[0]) * batch.predictions;
    correct += Number(out.correct!.data[0]);
    total += batch.predictions;
  }
  return total ? { 'valid.accuracy': correct / total, 'valid.loss': lossSum / total } : {};
}

export async function pretrainText(
  corpus: TextCorpus,
  outDir: string,
  cfg: TextPretrainingConfig,
  opts: { minutes?: number } = {},
): Promise<TextRun> {
  const p = prepare(corpus, outDir, cfg);
  const model = bertConfigOf(cfg, p.tokenizer.vocabSize);
  if (cfg.seqLength > model.maxPositions)
    throw new Error(`seqLength ${cfg.seqLength} exceeds maxPositions ${model.maxPositions}`);
  log.info(
    `${p.train.count} training sequences of ${cfg.seqLength} tokens (${p.train.used} tokens), ${p.valid.count} held-out`,
  );
  const trainer = await Trainer.create(
    (g, mode) => {
      const inputs = {
        ids: g.input('ids', 'int64', ['batch', 'seq']),
        mask: g.input('mask', 'int64', ['batch', 'seq']),
        positions: g.input('positions', 'int64', ['masked']),
        labels: g.input('labels', 'int64', ['masked']),
      };
      const out = mlmObjective(g, inputs, model, { training: mode === 'train', dropout: cfg.dropout });
      return { loss: out.loss, outputs: { correct: out.correct } };
    },
    {
      seed: cfg.seed,
      optimizer: { beta1: 0.9, beta2: 0.999, eps: 1e-6, weightDecay: cfg.weightDecay },
      ...(cfg.threads ? { runtime: { threads: cfg.threads } } : {}),
    },
  );
  const order = new SequenceOrder(p.train.count, cfg.batchSize, cfg.seed);
  const replacements = replacementIds(p.roles);
  let predictions = 0;
  let last = { loss: 0, accuracy: 0 };
  const summary = await runTraining(
    trainer,
    loopConfig(cfg, opts.minutes),
    {
      batches: (step) => {
        const rng = new Rng(cfg.seed, `mlm-mask-${step}`);
        const batch = mlmBatch(p.train, order.rows(step), p.roles, maskingOf(cfg), rng, replacements);
        predictions = batch.predictions;
        return [batch.feeds];
      },
      itemsPerStep: cfg.batchSize * cfg.seqLength,
      afterStep: (r) => {
        last = { loss: r.loss, accuracy: Number(r.outputs.correct!.data[0]) / Math.max(1, predictions) };
      },
      stepReport: () => ({ loss: last.loss, terms: { maskedAccuracy: last.accuracy } }),
      evaluate: () => evaluateHeldOut(trainer, p, cfg, replacements),
      meta: { format: 'kep-text-pretraining/1' },
    },
    outDir,
  );
  writeModelFolder(outDir, trainer, model, cfg, corpus, p, summary);
  await trainer.release();
  return { summary, trainSequences: p.train.count, validSequences: p.valid.count, trainTokens: p.train.used };
}

/** config.json with Hugging Face BERT's keys. */
export function hfBertConfig(model: BertConfig, cfg: TextPretrainingConfig): Record<string, unknown> {
  return {
    architectures: ['BertForMaskedLM'],
    model_type: 'bert',
    vocab_size: model.vocabSize,
    hidden_size: model.hidden,
    num_hidden_layers: model.layers,
    num_attention_heads: model.heads,
    intermediate_size: model.intermediate,
    max_position_embeddings: model.maxPositions,
    type_vocab_size: model.typeVocabSize,
    layer_norm_eps: model.eps,
    hidden_act: 'gelu',
    hidden_dropout_prob: cfg.dropout,
    attention_probs_dropout_prob: cfg.dropout,
    initializer_range: 0.02,
    pad_token_id: 0,
    tie_word_embeddings: true,
  };
}

function writeModelFolder(
  outDir: string,
  trainer: Trainer,
  model: BertConfig,
  cfg: TextPretrainingConfig,
  corpus: TextCorpus,
  p: Prepared,
  summary: LoopSummary,
): void {
  const values = trainer.params;
  // Every parameter, the pooler included (unused by the MLM loss, kept at its initial values): the
  // strict hf-bert loader of S1 expects a complete BertModel.
  const tensors = new Map(
    trainer.specs.map((s) => [s.name, fromFloat32(values.get(s.name)!, s.shape)] as const),
  );
  writeSafetensors(join(outDir, 'model.safetensors'), tensors, { format: 'pt' });
  const json = (name: string, v: unknown): void =>
    writeFileAtomic(join(outDir, name), `${JSON.stringify(v, null, 2)}\n`);
  json('config.json', hfBertConfig(model, cfg));
  json('tokenizer_config.json', {
    tokenizer_class: 'BertTokenizer',
    do_lower_case: true,
    model_max_length: model.maxPositions,
  });
  json(MANIFEST_FILE, {
    format: 'kep-text-model/1',
    corpus: corpus.files.map((f, i) => ({
      file: f.path,
      bytes: f.bytes,
      paragraphs: f.paragraphs.length,
      ...p.split.perFile[i],
      ...attributionOf(basename(f.path)),
    })),
    tree: corpus.tree
      ? { file: corpus.tree.path, texts: corpus.tree.texts.length, repeated: cfg.treeWeight }
      : null,
    vocabulary: { file: 'vocab.txt', size: p.tokenizer.vocabSize, lowercase: true },
    data: {
      trainSequences: p.train.count,
      trainTokens: p.train.used,
      validSequences: p.valid.count,
      seqLength: cfg.seqLength,
    },
    settings: cfg,
    run: summary,
  });
}
