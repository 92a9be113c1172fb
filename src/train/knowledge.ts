// S1: training the knowledge encoder (../shared/docs/kep-method.md §2). Samples → a held-out split
// for evaluation → a WordPiece vocabulary built from the training texts (no pretrained vocabulary
// is reachable here; a pretrained BERT folder brings its own) → P×K batches → BERT → pooler → MLP →
// L2 norm, trained with AdaSP (or the batch-hard triplet loss), evaluated by re-identification
// against the BM25 baseline. Everything lands in one folder that `kep eval knowledge` and
// `kep knowledge link` read back.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { latestCheckpoint, loadCheckpoint } from '../engine/checkpoint.ts';
import { Graph } from '../engine/graph.ts';
import { compile, type CompiledGraph, ort } from '../engine/runtime.ts';
import { type ModelBuild, Trainer } from '../engine/trainer.ts';
import { type EvalSets, type GalleryMetrics, buildGalleries, evaluate } from '../eval/galleries.ts';
import {
  DEFAULT_HYBRID_WEIGHT,
  type HybridReport,
  evaluateWithHybrid,
  fitHybridWeight,
} from '../eval/hybrid.ts';
import type { BertConfig } from '../models/bert.ts';
import { INPUT_IDS, INPUT_MASK, textInputs, textTower, towerGraphs } from '../models/factory.ts';
import type { TextEncoderConfig } from '../models/kep.ts';
import { type TextEncoderSpec, modelSpecSchema } from '../models/spec.ts';
import { adaspLoss, tripletLoss } from '../nn/metric-losses.ts';
import { buildVocabulary, writeVocab } from '../text/vocab-builder.ts';
import { BertTokenizer } from '../text/wordpiece.ts';
import { removeStaleTemps, writeFileAtomic } from '../util/atomic.ts';
import { ensureDir } from '../util/fs-errors.ts';
import { readJsonFile } from '../util/json-file.ts';
import { log } from '../util/log.ts';
import { type LoopSummary, loopConfig, runTraining } from './loop.ts';
import { PKSampler } from './pk-sampler.ts';
import { loadPretrainedBert } from './pretrained-bert.ts';
import { type TrainingSample, groupIdentities } from './samples.ts';
import { DEFAULT_HOLDOUT_SOURCE, SPLITS, splitSamples } from './held-out-splits.ts';
import { type HybridWeight, readHybridWeight, writeHybridWeight } from './hybrid-weight.ts';
import { splitForEvaluation } from './split.ts';
import { checkResume, parameterShapes } from './resume.ts';

// Defaults: the small encoder that fits this 2-core machine, chosen by measurement
// (docs/knowledge-encoder.md): mean pooling (a random BERT's [CLS] is the same vector for every
// text, and training from it measured worse than no training at all), P×K = 64×4 (diseases
// average 3.5 texts, so K = 8 was mostly repeats), 32 tokens (names and synonyms are short;
// definitions keep their opening, which names the disease).
export const knowledgeConfigSchema = z.strictObject({
  layers: z.number().int().positive().default(2),
  hidden: z.number().int().positive().default(128),
  heads: z.number().int().positive().default(2),
  intermediate: z.number().int().positive().default(512),
  embedDim: z.number().int().positive().default(512),
  maxLength: z.number().int().min(8).max(512).default(32),
  vocabSize: z.number().int().min(16).default(8000),
  dropout: z.number().min(0).max(0.9).default(0.1),
  pooling: z.enum(['cls', 'mean']).default('mean'),
  p: z.number().int().positive().default(64),
  k: z.number().int().min(2).default(4),
  loss: z.enum(['adasp', 'triplet']).default('adasp'),
  temperature: z.number().positive().default(0.04),
  lr: z.number().positive().default(1e-3),
  warmup: z.number().int().nonnegative().default(50),
  weightDecay: z.number().nonnegative().default(0.2),
  steps: z.number().int().positive().default(2000),
  evalEvery: z.number().int().positive().default(200),
  checkpointEvery: z.number().int().positive().default(50),
  heldOut: z.number().min(0).max(0.9).default(0.2),
  /** Which texts are held out for evaluation (src/train/held-out-splits.ts; docs/evaluation.md). */
  split: z.enum(SPLITS).default('in-distribution'),
  /** The source family the cross-source split holds out. */
  holdoutSource: z.string().min(1).default(DEFAULT_HOLDOUT_SOURCE),
  /** Fraction of each kind of the training texts kept out of training to choose the hybrid ranker's
   * weight on (at most CALIBRATION_CAP texts per kind; none when it would give < 20 queries). */
  calibration: z.number().min(0).max(0.5).default(0.05),
  seed: z.number().int().default(0),
  threads: z.number().int().positive().optional(),
  /** A pretrained Hugging Face BERT folder to start from (its sizes and vocabulary replace the ones
   * above; see src/train/pretrained-bert.ts). */
  init: z.string().optional(),
  /** Position embeddings (default maxLength; a pretrained BERT brings its own, usually 512). */
  maxPositions: z.number().int().positive().optional(),
});
export type KnowledgeConfig = z.infer<typeof knowledgeConfigSchema>;

const ENCODER_FILE = 'encoder.json';
const encoderFileSchema = z.strictObject({
  format: z.literal('kep-knowledge-encoder/1'),
  config: knowledgeConfigSchema,
  vocab: z.string(),
  /** The encoder's whole spec (absent in folders written before specs: derived from config). */
  spec: modelSpecSchema.optional(),
});

export function modelConfig(cfg: KnowledgeConfig, vocabSize: number): TextEncoderConfig {
  const text: BertConfig = {
    // A pretrained BERT's embedding table may have rows its tokenizer never produces.
    vocabSize: cfg.init ? Math.max(vocabSize, cfg.vocabSize) : vocabSize,
    hidden: cfg.hidden,
    layers: cfg.layers,
    heads: cfg.heads,
    intermediate: cfg.intermediate,
    maxPositions: cfg.maxPositions ?? cfg.maxLength,
    typeVocabSize: 2,
    eps: 1e-12,
  };
  return { text, embedDim: cfg.embedDim, pooling: cfg.pooling };
}

/** The encoder a run's settings describe, as a spec (what encoder.json stores). */
export function knowledgeEncoderSpec(cfg: KnowledgeConfig, vocabSize: number): TextEncoderSpec {
  const { text, embedDim } = modelConfig(cfg, vocabSize);
  return {
    name: 'knowledge-encoder',
    kind: 'text-encoder',
    description: `S1 knowledge encoder (${cfg.layers} layers, hidden ${cfg.hidden}, ${cfg.pooling} pooling)`,
    keyMap: 'kep',
    config: { text, embedDim },
    tokenizer: { maxLength: cfg.maxLength, vocabulary: 'vocab.txt', pooling: cfg.pooling, lowerCase: true },
  };
}

type TextFeeds = { input_ids: ort.Tensor; attention_mask: ort.Tensor };

/** Tokenised texts as int64 [n, seq] feeds. */
function feeds(tokenizer: BertTokenizer, texts: string[], maxLength: number): TextFeeds {
  const b = tokenizer.encodeBatch(texts, { maxLength, padding: 'longest', truncation: true });
  return {
    [INPUT_IDS]: new ort.Tensor('int64', b.ids, b.shape),
    [INPUT_MASK]: new ort.Tensor('int64', b.mask, b.shape),
  } as TextFeeds;
}

/** Embeddings of many texts, in batches, as one row-major matrix. */
async function embedAll(
  run: (f: TextFeeds) => Promise<Float32Array>,
  tokenizer: BertTokenizer,
  texts: string[],
  maxLength: number,
  batch = 256,
): Promise<Float32Array> {
  const parts: Float32Array[] = [];
  for (let i = 0; i < texts.length; i += batch)
    parts.push(await run(feeds(tokenizer, texts.slice(i, i + batch), maxLength)));
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export interface KnowledgeRun {
  summary: LoopSummary;
  /** BM25 on the held-out galleries (the report's `baseline`). */
  baseline: GalleryMetrics;
  evalSets: EvalSets;
  /** The hybrid weight chosen on the calibration slice (undefined: no slice; the default applies). */
  hybridAlpha: number | undefined;
  /** The final parameters on the held-out galleries: encoder, BM25 and hybrid at the fitted weight. */
  report: HybridReport;
}

/** At most this many texts of each kind in the calibration slice (its score rows are held in memory). */
export const CALIBRATION_CAP = 1000;
const MIN_CALIBRATION_QUERIES = 20;

/** The training texts minus a calibration slice, held out like the in-distribution split (twins
 * removed) with its own seed stream, for choosing the hybrid weight on texts the encoder never saw. */
export function carveCalibration<S extends TrainingSample>(
  train: S[],
  cfg: Pick<KnowledgeConfig, 'calibration' | 'seed'>,
): { train: S[]; calibration: S[] } {
  if (cfg.calibration === 0) return { train, calibration: [] };
  const counts = new Map<string, number>();
  for (const s of train) counts.set(s.kind, (counts.get(s.kind) ?? 0) + 1);
  const fraction = Object.fromEntries(
    [...counts].map(([k, n]) => [k, Math.min(cfg.calibration, CALIBRATION_CAP / n)]),
  );
  const r = splitForEvaluation(train, { fraction, seed: cfg.seed + 1 });
  const queries = r.heldOut.filter((s) => s.kind === 'name').length;
  return queries < MIN_CALIBRATION_QUERIES
    ? { train, calibration: [] }
    : { train: r.train, calibration: r.heldOut };
}

export async function trainKnowledgeEncoder(
  samples: TrainingSample[],
  outDir: string,
  cfg: KnowledgeConfig,
  opts: { minutes?: number; samplesFile?: string } = {},
): Promise<KnowledgeRun> {
  // The split first: a file that cannot be split is refused before anything is written.
  const split = splitSamples(samples, {
    split: cfg.split,
    holdoutSource: cfg.holdoutSource,
    fraction: cfg.heldOut,
    seed: cfg.seed,
    file: opts.samplesFile ?? 'samples',
  });
  // heldOut 0 (a run on all its data, as the demo's synthetic-world encoder) has no split to report.
  if (split.heldOut.length > 0) log.info(`split ${split.description}`);
  else log.info('no held-out split (heldOut 0): every text trains, nothing is evaluated');
  const evalSets = buildGalleries(split.heldOut, { seed: cfg.seed });
  const carved = carveCalibration(split.train, cfg);
  const trainSamples = carved.train;
  // Everything is read and checked before the run folder changes: a refused resume (another
  // embedDim, another hidden size…) leaves encoder.json, vocab.txt and the checkpoints as they were.
  let initial: Map<string, Float32Array> | undefined;
  const vocabPath = join(outDir, 'vocab.txt');
  let pendingVocab: string[] | undefined;
  if (cfg.init) {
    const pre = await loadPretrainedBert(cfg.init);
    log.info(`initialising from ${cfg.init}: ${pre.report}`);
    if (pre.config.typeVocabSize !== 2 || pre.config.eps !== 1e-12)
      throw new Error(
        `${cfg.init}/config.json: type_vocab_size 2 and layer_norm_eps 1e-12 expected (BERT's)`,
      );
    if (cfg.maxLength > pre.config.maxPositions)
      throw new Error(
        `maxLength ${cfg.maxLength} exceeds ${cfg.init}'s ${pre.config.maxPositions} positions`,
      );
    cfg = {
      ...cfg,
      layers: pre.config.layers,
      hidden: pre.config.hidden,
      heads: pre.config.heads,
      intermediate: pre.config.intermediate,
      maxPositions: pre.config.maxPositions,
      vocabSize: pre.config.vocabSize,
    };
    initial = pre.params;
    // The pretrained vocabulary, in id order, so the run folder is self-contained.
    if (!existsSync(vocabPath)) pendingVocab = [...pre.tokenizer.vocab.keys()];
  }
  // Built once per output folder, so a resumed run keeps the token ids its checkpoint was trained with.
  if (!existsSync(vocabPath) && !pendingVocab)
    pendingVocab = buildVocabulary(
      trainSamples.map((s) => s.text),
      { size: cfg.vocabSize },
    ).tokens;
  const tokenizer = pendingVocab
    ? new BertTokenizer(pendingVocab, {}, vocabPath)
    : BertTokenizer.fromVocabFile(vocabPath);

  const grouping = groupIdentities(trainSamples);
  const sampler = new PKSampler(grouping.identities, { p: cfg.p, k: cfg.k, seed: cfg.seed });
  const spec = knowledgeEncoderSpec(cfg, tokenizer.vocabSize);
  const builder = (g: Graph, mode: 'train' | 'eval'): ModelBuild => {
    const emb = textTower(g, spec, textInputs(g), { training: mode === 'train', dropout: cfg.dropout });
    if (mode === 'eval') return { outputs: { embedding: emb } };
    const loss =
      cfg.loss === 'adasp'
        ? adaspLoss(emb, cfg.p, cfg.k, { temperature: cfg.temperature, normalize: false })
        : tripletLoss(emb, cfg.p, cfg.k, { normalize: false });
    return { loss };
  };
  const probe = new Graph('knowledge-shapes');
  builder(probe, 'eval');
  const encoderFile = join(outDir, ENCODER_FILE);
  checkResume({
    outDir,
    expected: parameterShapes(probe),
    settings: cfg,
    ...(existsSync(encoderFile) ? { recorded: recordedConfig(encoderFile) } : {}),
  });

  // ---- From here on the run folder changes.
  ensureDir(outDir);
  removeStaleTemps(outDir);
  removeStaleTemps(join(outDir, 'checkpoints'));
  if (pendingVocab) writeVocab(vocabPath, pendingVocab);
  writeFileAtomic(
    encoderFile,
    `${JSON.stringify({ format: 'kep-knowledge-encoder/1', config: cfg, vocab: 'vocab.txt', spec }, null, 2)}\n`,
  );
  const trainer = await Trainer.create(builder, {
    seed: cfg.seed,
    ...(initial ? { initial } : {}),
    optimizer: { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: cfg.weightDecay },
    ...(cfg.threads ? { runtime: { threads: cfg.threads } } : {}),
  });
  const encode = embeddingsPerStep(
    () => trainer.step,
    (texts) =>
      embedAll(
        async (f) => (await trainer.run(f, ['embedding'])).embedding!.data as Float32Array,
        tokenizer,
        texts,
        cfg.maxLength,
      ),
  );
  const perEpoch = sampler.batchesPerEpoch;
  const summary = await runTraining(
    trainer,
    loopConfig(cfg, opts.minutes),
    {
      batches: (step) => {
        const batch = sampler.batch(Math.floor(step / perEpoch), step % perEpoch);
        return [feeds(tokenizer, batch.texts, cfg.maxLength)];
      },
      itemsPerStep: cfg.p * cfg.k,
      evaluate: async () => {
        const metrics = await evaluate(encode, evalSets);
        return Object.fromEntries(
          Object.entries(metrics).flatMap(([kind, m]) => [
            [`${kind}.rank1`, m.rank1],
            [`${kind}.mAP`, m.mAP],
          ]),
        );
      },
      meta: { format: 'kep-knowledge-encoder/1' },
    },
    outDir,
  );
  const hybridAlpha = await fitHybrid(encode, carved.calibration, cfg.seed, outDir);
  // The loop's last evaluation embedded these galleries at these parameters: the cache serves them.
  const report = await evaluateWithHybrid(encode, evalSets, hybridAlpha ?? DEFAULT_HYBRID_WEIGHT);
  await trainer.release();
  // BM25 is computed once, inside the report.
  return { summary, baseline: report.baseline, evalSets, hybridAlpha, report };
}

/** `encode`, remembering each text list's embeddings until the parameters change (the step moves),
 * so the final report does not embed the held-out galleries a second time (30k texts on the
 * cross-source split). Keyed by the list itself: the galleries are the same arrays both times. */
export function embeddingsPerStep(
  step: () => number,
  encode: (texts: string[]) => Promise<Float32Array>,
): (texts: string[]) => Promise<Float32Array> {
  let at = Number.NaN;
  const memo = new Map<string[], Float32Array>();
  return async (texts) => {
    if (step() !== at) {
      memo.clear();
      at = step();
    }
    const hit = memo.get(texts);
    if (hit) return hit;
    const rows = await encode(texts);
    memo.set(texts, rows);
    return rows;
  };
}

/** Chooses the hybrid weight on the calibration slice and stores it in the run folder. */
async function fitHybrid(
  encode: (texts: string[]) => Promise<Float32Array>,
  calibration: TrainingSample[],
  seed: number,
  outDir: string,
): Promise<number | undefined> {
  if (calibration.length === 0) {
    log.info('hybrid weight: no calibration slice (too little data); the default applies');
    return undefined;
  }
  const fit = await fitHybridWeight(encode, buildGalleries(calibration, { seed }));
  writeHybridWeight(outDir, fit);
  log.info(
    `hybrid weight ${fit.alpha} (encoder) / ${(1 - fit.alpha).toFixed(2)} (BM25), mean mAP ${(100 * fit.meanMAP).toFixed(1)} % on ${fit.queries} calibration queries`,
  );
  return fit.alpha;
}

/** The settings an earlier run of the folder recorded (for a refused resume's message). */
function recordedConfig(file: string): Record<string, unknown> | undefined {
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { config?: Record<string, unknown> }).config;
  } catch {
    return undefined;
  }
}

export interface KnowledgeEncoderFolder {
  config: KnowledgeConfig;
  tokenizer: BertTokenizer;
  vocabPath: string;
  /** The text encoder the folder's weights are for (tower 'text'). */
  textConfig: TextEncoderConfig;
  /** The same encoder as a spec (stored in encoder.json; derived from its settings in older folders). */
  spec: TextEncoderSpec;
  /** The newest complete checkpoint and its parameters (`text.…`, `text_head.…`). */
  checkpoint: string;
  params: Map<string, Float32Array>;
}

function readEncoderFile(dir: string): { config: KnowledgeConfig; vocab: string; spec: TextEncoderSpec } {
  const file = join(dir, ENCODER_FILE);
  if (!existsSync(file)) throw new Error(`${dir}: not a knowledge encoder folder (no ${ENCODER_FILE})`);
  const { config, vocab, spec } = readJsonFile(file, encoderFileSchema);
  if (spec && spec.kind !== 'text-encoder')
    throw new Error(`${file}: spec.kind is "${spec.kind}", not "text-encoder"`);
  if (spec) return { config, vocab, spec };
  // Written before encoder.json stored its spec: the settings and the vocabulary describe it fully.
  const tokens = BertTokenizer.fromVocabFile(join(dir, vocab)).vocabSize;
  return { config, vocab, spec: knowledgeEncoderSpec(config, tokens) };
}

/** The spec a knowledge encoder folder stores (`kep models spec DIR`). */
export function readKnowledgeEncoderSpec(dir: string): TextEncoderSpec {
  return readEncoderFile(dir).spec;
}

/** Reads a folder written by `kep train knowledge` (also how S2 initialises its text towers). */
export function readKnowledgeEncoderFolder(dir: string): KnowledgeEncoderFolder {
  const { config, vocab, spec } = readEncoderFile(dir);
  const vocabPath = join(dir, vocab);
  const tokenizer = BertTokenizer.fromVocabFile(vocabPath, { doLowerCase: spec.tokenizer.lowerCase });
  const found = latestCheckpoint(join(dir, 'checkpoints'), {
    onSkip: (p, e) => log.warn(`skipping incomplete checkpoint ${p}: ${e.message}`),
  });
  if (!found) throw new Error(`${dir}: no complete checkpoint in ${join(dir, 'checkpoints')}`);
  const state = loadCheckpoint(found.path);
  const params = new Map([...state.params].map(([k, t]) => [k, t.data]));
  return {
    config,
    tokenizer,
    vocabPath,
    textConfig: { ...spec.config, pooling: spec.tokenizer.pooling },
    spec,
    checkpoint: found.path,
    params,
  };
}

/** A trained encoder folder, ready to embed text. */
export class KnowledgeEncoder {
  private constructor(
    readonly dir: string,
    readonly config: KnowledgeConfig,
    readonly tokenizer: BertTokenizer,
    private readonly session: CompiledGraph,
    /** The hybrid ranker's weight of this encoder (fitted at training, or the default). */
    readonly hybrid: HybridWeight,
  ) {}

  static async load(dir: string): Promise<KnowledgeEncoder> {
    const folder = readKnowledgeEncoderFolder(dir);
    const { config, tokenizer } = folder;
    const g = towerGraphs(folder.spec).text!;
    const paramData = new Map<string, Float32Array>();
    for (const name of g.params.keys()) {
      const t = folder.params.get(name);
      if (!t) throw new Error(`${folder.checkpoint}: no tensor ${name}`);
      // Checked here, not left to ONNX Runtime: its message would name neither file.
      const want = g.params.get(name)!.shape;
      if (t.length !== want.reduce((a, b) => a * b, 1))
        throw new Error(
          `${folder.checkpoint}: ${name} has ${t.length} values, but ${join(dir, ENCODER_FILE)} describes [${want.join(', ')}]: ` +
            'the settings file and the checkpoint are from different runs',
        );
      paramData.set(name, t);
    }
    const session = await compile(
      g,
      { paramData, outputs: ['embedding'] },
      config.threads ? { threads: config.threads } : {},
    );
    return new KnowledgeEncoder(dir, config, tokenizer, session, readHybridWeight(dir));
  }

  embed(texts: string[]): Promise<Float32Array> {
    return embedAll(
      async (f) => (await this.session.run(f)).embedding!.data as Float32Array,
      this.tokenizer,
      texts,
      this.config.maxLength,
    );
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
