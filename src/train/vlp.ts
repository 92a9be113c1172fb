// S2: knowledge-enhanced vision–language pretraining (../shared/docs/kep-method.md §3) and its
// plain-CLIP baseline. Image–caption pairs → worker-thread image loading → image tower + text
// tower (from an S1 checkpoint or random) + a frozen copy of the S1 encoder (KEP only) → KepLoss.
//
// Large contrastive batches on small machines: a step's batch can be split into micro-batches,
// and then the gradient is computed the GradCache way (Gao et al. 2021) rather than by plain
// accumulation, which would give each micro-batch only its own negatives. (1) Embed every
// micro-batch without gradients; (2) compute the loss over the whole batch's embeddings and its
// gradient with respect to them; (3) re-run each micro-batch through the towers with the surrogate
// loss ⟨embedding, cached gradient⟩, whose parameter gradients sum to the full-batch gradient.
// This is exact only if the two forward passes agree, so dropout must be 0 when micro-batching.
import { existsSync, mkdirSync } from 'node:fs';
import { removeStaleTemps } from '../util/atomic.ts';
import { ensureDir } from '../util/fs-errors.ts';
import { join } from 'node:path';
import { z } from 'zod';
import { gradients } from '../engine/autodiff.ts';
import { latestCheckpoint } from '../engine/checkpoint.ts';
import { Graph, type Tensor } from '../engine/graph.ts';
import * as F from '../engine/ops/index.ts';
import { type CompiledGraph, type Feeds, compile, ort } from '../engine/runtime.ts';
import { fromFloat32, toFloat32, writeSafetensors } from '../engine/safetensors.ts';
import { Trainer } from '../engine/trainer.ts';
import { ImageLoader, type LoadedBatch, shuffledOrder } from '../data/image-loader.ts';
import type { PairSet } from '../data/pairs.ts';
import { MAX_IMAGE_SIZE, type PreprocessConfig } from '../data/preprocess.ts';
import { entryPreprocess } from '../embed/model.ts';
import { writeModelFile } from '../embed/model-folder.ts';
import type { VisionLanguageModel } from '../embed/types.ts';
import { type KepConfig, encodeImage, encodeText, logitScale } from '../models/kep.ts';
import { getModel } from '../models/registry.ts';
import { symmetricInfoNce } from '../nn/losses.ts';
import { buildVocabulary, writeVocab } from '../text/vocab-builder.ts';
import { BertTokenizer } from '../text/wordpiece.ts';
import { applyKeyMap } from '../weights/keymaps.ts';
import { loadStateDict } from '../weights/load.ts';
import { keyMapNamed, parameterValues } from '../weights/model-weights.ts';
import { readKnowledgeEncoderFolder } from './knowledge.ts';
import { type LoopSummary, runTraining } from './loop.ts';
import { checkResume, parameterShapes } from './resume.ts';

export const vlpConfigSchema = z.strictObject({
  /** A KEP registry model: its image tower (and its text tower when no S1 encoder is given). */
  model: z.string().default('kep-16'),
  /** Train (and evaluate) at this image size instead of the registry's (ViT towers only). */
  imageSize: z
    .number()
    .int()
    .min(8)
    .max(MAX_IMAGE_SIZE, `at most ${MAX_IMAGE_SIZE} px (memory grows with the square of the side)`)
    .optional(),
  loss: z.enum(['kep', 'clip']).default('kep'),
  knowledgeWeight: z.number().min(0).default(0.3),
  batch: z.number().int().min(2).default(32),
  /** Split each batch into micro-batches of this size (GradCache); default: the whole batch. */
  microBatch: z.number().int().positive().optional(),
  epochs: z.number().positive().default(30),
  /** Optimiser steps of the run (default: epochs × batches per epoch). */
  steps: z.number().int().positive().optional(),
  /** Epochs with the image backbone and the whole text tower frozen (image head and scale train). */
  freezeEpochs: z.number().min(0).default(2),
  lr: z.number().positive().default(1e-5),
  minLr: z.number().min(0).default(0),
  warmup: z.number().int().nonnegative().default(3000),
  weightDecay: z.number().nonnegative().default(0.2),
  beta1: z.number().min(0).max(1).default(0.9),
  beta2: z.number().min(0).max(1).default(0.98),
  eps: z.number().positive().default(1e-6),
  /** The logit scale is clamped to at most this after every step. */
  maxScale: z.number().positive().default(100),
  /**
   * Text pooling. An S1 encoder brings its own. A text tower from random weights defaults to 'mean':
   * with [CLS] pooling a random BERT gives nearly the same vector for every caption (measured:
   * cosine 0.99999 between captions of kep-tiny), the contrastive loss sits at ln(batch), and
   * training collapses instead of learning.
   */
  pooling: z.enum(['cls', 'mean']).optional(),
  /** Text-tower dropout; must be 0 with micro-batches (see the file comment). */
  dropout: z.number().min(0).max(0.9).default(0),
  /** Token limit (default: the S1 encoder's, else the registry model's). */
  maxLength: z.number().int().min(8).optional(),
  /** Vocabulary size when a vocabulary is built from the captions (no S1 encoder). */
  vocabSize: z.number().int().min(200).default(8000),
  evalEvery: z.number().int().positive().default(500),
  checkpointEvery: z.number().int().positive().default(200),
  seed: z.number().int().default(0),
  threads: z.number().int().positive().optional(),
  /** Image-decoding worker threads (default: the loader's). */
  workers: z.number().int().nonnegative().optional(),
});
export type VlpConfig = z.infer<typeof vlpConfigSchema>;

export interface VlpInputs {
  pairs: PairSet;
  /** An S1 folder (`kep train knowledge`): text tower, knowledge tower and vocabulary. */
  initText?: string;
  /** Pretrained image-backbone weights and their key map (e.g. a CLIP/BiomedCLIP/CTransPath file). */
  initImage?: { weights: string; keyMap: string };
  /** Periodic evaluation with the current weights (zero-shot, retrieval…). */
  evaluate?: (model: VisionLanguageModel, step: number) => Promise<Record<string, number>>;
  minutes?: number;
}

export interface VlpRun {
  summary: LoopSummary;
  config: VlpConfig;
  stepsPerEpoch: number;
  freezeSteps: number;
}

interface TextSetup {
  tokenizer: BertTokenizer;
  vocabFile: string;
  /** Tokens to write to vocabFile once the run folder may change (writeVocabulary). */
  pendingVocab?: string[];
  kep: KepConfig;
  maxLength: number;
  initial: Map<string, Float32Array>;
  origin: string;
}

function kepEntry(name: string): Extract<ReturnType<typeof getModel>, { kind: 'kep' }> {
  const entry = getModel(name);
  if (entry.kind !== 'kep')
    throw new Error(
      `--model ${name}: vision–language training needs a KEP model (kep-16, kep-32, kep-ctp, kep-tiny)`,
    );
  return entry;
}

function withImageSize(cfg: KepConfig, size: number | undefined): KepConfig {
  if (size === undefined) return cfg;
  if (cfg.image.kind !== 'vit') throw new Error('imageSize can only be changed for ViT image towers');
  return { ...cfg, image: { kind: 'vit', config: { ...cfg.image.config, imageSize: size } } };
}

/** Text tower, knowledge tower and tokenizer: from the S1 folder, or random with a caption vocabulary. */
function setUpText(
  cfg: VlpConfig,
  base: KepConfig,
  pairs: PairSet | undefined,
  outDir: string,
  initText?: string,
): TextSetup {
  const entry = kepEntry(cfg.model);
  if (initText) {
    const s1 = readKnowledgeEncoderFolder(initText);
    const s1Pooling = s1.textConfig.pooling ?? 'cls';
    if (cfg.pooling && cfg.pooling !== s1Pooling)
      throw new Error(
        `pooling ${cfg.pooling}: the S1 encoder in ${initText} was trained with ${s1Pooling} pooling`,
      );
    const vocabFile = join(outDir, 'vocab.txt');
    const tokens = [...s1.tokenizer.vocab.keys()];
    const initial = new Map<string, Float32Array>();
    for (const [name, data] of s1.params) {
      if (name.startsWith('optimizer.')) continue;
      initial.set(name, data);
      // The knowledge tower is a second copy of the same encoder, frozen for the whole run.
      if (name.startsWith('text.')) initial.set(`knowledge.${name.slice(5)}`, data);
      if (name.startsWith('text_head.')) initial.set(`knowledge_head.${name.slice(10)}`, data);
    }
    return {
      tokenizer: new BertTokenizer(tokens, {}, vocabFile),
      vocabFile,
      pendingVocab: tokens,
      kep: {
        ...base,
        text: s1.textConfig.text,
        embedDim: s1.textConfig.embedDim,
        pooling: s1Pooling,
      },
      maxLength: cfg.maxLength ?? s1.config.maxLength,
      initial,
      origin: `text tower from ${s1.checkpoint}`,
    };
  }
  const vocabFile = join(outDir, 'vocab.txt');
  // Built once per run folder, so a resumed run keeps its token ids.
  let pendingVocab: string[] | undefined;
  if (!existsSync(vocabFile)) {
    if (!pairs) throw new Error('a text tower from random weights needs captions for its vocabulary');
    const captions: string[] = [];
    for (let i = 0; i < pairs.size; i++) captions.push(pairs.caption(i));
    pendingVocab = buildVocabulary(captions, { size: cfg.vocabSize }).tokens;
  }
  const tokenizer = pendingVocab
    ? new BertTokenizer(pendingVocab, {}, vocabFile)
    : BertTokenizer.fromVocabFile(vocabFile);
  const maxLength = Math.min(cfg.maxLength ?? entry.maxLength, base.text.maxPositions);
  return {
    tokenizer,
    vocabFile,
    ...(pendingVocab ? { pendingVocab } : {}),
    kep: { ...base, text: { ...base.text, vocabSize: tokenizer.vocabSize }, pooling: cfg.pooling ?? 'mean' },
    maxLength,
    initial: new Map(),
    origin: 'text tower from random weights',
  };
}

function writeVocabulary(text: TextSetup): void {
  if (text.pendingVocab) writeVocab(text.vocabFile, text.pendingVocab);
}

/** Command-line spellings of the settings a refused resume names. */
const VLP_FLAGS: Record<string, string> = {
  imageSize: '--image-size',
  model: '--model',
  loss: '--loss',
  batch: '--batch',
  microBatch: '--micro-batch',
  steps: '--steps',
  seed: '--seed',
};

/** Pretrained backbone weights under `image.`, through the checkpoint's key map. */
async function imageInitial(
  kep: KepConfig,
  init: { weights: string; keyMap: string },
  size: number,
): Promise<Map<string, Float32Array>> {
  const g = new Graph('image-shapes');
  encodeImage(g, g.input('pixels', 'float32', ['batch', 3, size, size]), kep);
  const expected = new Map(
    [...g.params.values()].filter((p) => p.name.startsWith('image.')).map((p) => [p.name.slice(6), p.shape]),
  );
  const loaded = await loadStateDict(init.weights);
  const { tensors } = applyKeyMap(loaded.tensors, keyMapNamed(init.keyMap), expected, {
    strict: false,
    source: init.weights,
  });
  return new Map([...tensors].map(([k, t]) => [`image.${k}`, toFloat32(t, { convert: true })]));
}

/** The whole-batch loss over cached embeddings, and its gradient with respect to them. */
function lossGraph(kind: 'kep' | 'clip', weight: number, dim: number): Graph {
  const g = new Graph('vlp-loss');
  const image = g.input('image', 'float32', ['batch', dim]);
  const text = g.input('text', 'float32', ['batch', dim]);
  const ls = g.input('logit_scale', 'float32', []);
  const s = F.exp(ls);
  const it = symmetricInfoNce(image, text, s);
  const wrt: Tensor[] = [image, text, ls];
  let loss = it;
  if (kind === 'kep') {
    const knowledge = g.input('knowledge', 'float32', ['batch', dim]);
    const tk = symmetricInfoNce(text, knowledge, s);
    loss = F.div(F.add(it, F.mul(tk, weight)), 1 + weight);
    g.output('loss_tk', tk);
  }
  g.output('loss', loss);
  g.output('loss_it', it);
  const grads = gradients(g, loss, wrt);
  g.output('grad_image', grads.get(image.name)!);
  g.output('grad_text', grads.get(text.name)!);
  g.output('grad_logit_scale', grads.get(ls.name)!);
  return g;
}

function slice(data: Float32Array, rowSize: number, start: number, end: number): Float32Array {
  return data.subarray(start * rowSize, end * rowSize);
}

export async function trainVisionLanguage(
  inputs: VlpInputs,
  outDir: string,
  cfg: VlpConfig,
): Promise<VlpRun> {
  // Everything is read and checked before the run folder changes: a refused resume, a data set with
  // no usable image or a bad setting leaves the folder as it was (or uncreated).
  const entry = kepEntry(cfg.model);
  const size = cfg.imageSize ?? entry.preprocess.size;
  const text = setUpText(
    cfg,
    withImageSize(entry.config, cfg.imageSize),
    inputs.pairs,
    outDir,
    inputs.initText,
  );
  const kep = text.kep;
  const micro = Math.min(cfg.microBatch ?? cfg.batch, cfg.batch);
  const cached = micro < cfg.batch;
  if (cached && cfg.dropout > 0)
    throw new Error(
      `dropout ${cfg.dropout} with microBatch ${micro} < batch ${cfg.batch}: GradCache needs dropout 0`,
    );
  if (cfg.loss === 'kep' && !inputs.initText)
    process.stderr.write(
      'warning: KEP loss without --init-text: the knowledge tower is a frozen random encoder\n',
    );

  const evalPre = entryPreprocess(entry, size);
  // The paper's training transform: a random crop of images stored already resized.
  const trainPre: PreprocessConfig = { ...evalPre, resize: 'none', crop: 'random' };

  const initial = new Map(text.initial);
  if (inputs.initImage)
    for (const [k, v] of await imageInitial(kep, inputs.initImage, size)) initial.set(k, v);

  const loader = new ImageLoader(inputs.pairs, {
    preprocess: trainPre,
    batchSize: cfg.batch,
    dropLast: true,
    seed: cfg.seed,
    ...(cfg.workers !== undefined ? { workers: cfg.workers } : {}),
    onUnreadable: (u) => process.stderr.write(`unreadable image skipped: ${u.path}: ${u.reason}\n`),
  });
  const stepsPerEpoch = loader.batchCount();
  if (stepsPerEpoch === 0) {
    await loader.close();
    throw new Error(`${inputs.pairs.source}: ${inputs.pairs.size} pairs make no batch of ${cfg.batch}`);
  }
  const steps = cfg.steps ?? Math.round(cfg.epochs * stepsPerEpoch);
  const freezeSteps = Math.round(cfg.freezeEpochs * stepsPerEpoch);

  const builder =
    (frozen: boolean) =>
    (g: Graph, mode: 'train' | 'eval'): { loss?: Tensor; outputs?: Record<string, Tensor> } => {
      const pixels = g.input('pixels', 'float32', ['batch', 3, size, size]);
      const ids = g.input('ids', 'int64', ['batch', 'seq']);
      const mask = g.input('mask', 'int64', ['batch', 'seq']);
      const image = encodeImage(g, pixels, kep);
      const textEmb = encodeText(g, ids, mask, kep, 'text', {
        training: mode === 'train',
        dropout: cfg.dropout,
      });
      const ls = logitScale(g, kep);
      let knowledge: Tensor | undefined;
      if (cfg.loss === 'kep') {
        knowledge = F.stopGradient(encodeText(g, ids, mask, kep, 'knowledge'));
        g.freeze('knowledge.', 'knowledge_head.');
      }
      if (frozen) g.freeze('image.', 'text.', 'text_head.');
      if (mode === 'eval')
        return { outputs: { image, text: textEmb, logit_scale: ls, ...(knowledge ? { knowledge } : {}) } };
      if (!cached) {
        const s = F.exp(ls);
        const it = symmetricInfoNce(image, textEmb, s);
        if (!knowledge) return { loss: it, outputs: { loss_it: it } };
        const tk = symmetricInfoNce(textEmb, knowledge, s);
        const w = cfg.knowledgeWeight;
        return { loss: F.div(F.add(it, F.mul(tk, w)), 1 + w), outputs: { loss_it: it, loss_tk: tk } };
      }
      const gImage = g.input('cached_grad_image', 'float32', ['batch', kep.embedDim]);
      const gText = g.input('cached_grad_text', 'float32', ['batch', kep.embedDim]);
      const gScale = g.input('cached_grad_logit_scale', 'float32', []);
      const surrogate = F.add(
        F.add(F.reduceSum(F.mul(image, gImage)), F.reduceSum(F.mul(textEmb, gText))),
        F.mul(ls, gScale),
      );
      return { loss: surrogate };
    };
  const makeTrainer = (frozen: boolean): Promise<Trainer> =>
    Trainer.create(builder(frozen), {
      seed: cfg.seed,
      initial,
      optimizer: { beta1: cfg.beta1, beta2: cfg.beta2, eps: cfg.eps, weightDecay: cfg.weightDecay },
      ...(cfg.threads ? { runtime: { threads: cfg.threads } } : {}),
    });
  // Batches in a seeded order per epoch; a resumed run restarts its epoch at the right batch.
  let epochIter: { epoch: number; next: number; it: AsyncGenerator<LoadedBatch> } | undefined;
  let prefetched: { step: number; batch: LoadedBatch } | undefined;
  const loadBatch = async (step: number): Promise<LoadedBatch> => {
    if (prefetched?.step === step) {
      const { batch } = prefetched;
      prefetched = undefined;
      return batch;
    }
    const epoch = Math.floor(step / stepsPerEpoch);
    const index = step % stepsPerEpoch;
    if (!epochIter || epochIter.epoch !== epoch || epochIter.next !== index) {
      await epochIter?.it.return(undefined);
      const order = shuffledOrder(inputs.pairs.size, cfg.seed, epoch).subarray(
        index * cfg.batch,
        stepsPerEpoch * cfg.batch,
      );
      epochIter = { epoch, next: index, it: loader.batches({ epoch, order }) };
    }
    const r = await epochIter.it.next();
    epochIter.next++;
    if (r.done) throw new Error(`no batch for step ${step}`);
    return r.value;
  };

  const resumeStep = latestCheckpoint(join(outDir, 'checkpoints'))?.step ?? 0;
  try {
    // The settings must build what the folder's checkpoint holds (another --image-size would not).
    const probe = new Graph('vlp-shapes');
    builder(false)(probe, 'eval');
    checkResume({ outDir, expected: parameterShapes(probe), settings: cfg, flags: VLP_FLAGS });
    // The first batch must load: a data set whose every image is unusable stops here.
    prefetched = { step: resumeStep, batch: await loadBatch(resumeStep) };
  } catch (err) {
    await epochIter?.it.return(undefined);
    await loader.close();
    if (err instanceof Error && /^no batch for step/.test(err.message)) {
      const bad = loader.unreadable;
      const tried = (stepsPerEpoch - (resumeStep % stepsPerEpoch)) * cfg.batch;
      throw new Error(
        `${inputs.pairs.source}: no usable batch of ${cfg.batch} images: ${bad.length} of the ${tried} images tried are unusable` +
          `${bad[0] ? ` (first: ${bad[0].path}: ${bad[0].reason})` : ''}; nothing was written`,
        { cause: err },
      );
    }
    throw err;
  }

  // ---- From here on the run folder changes.
  ensureDir(outDir);
  removeStaleTemps(outDir);
  removeStaleTemps(join(outDir, 'checkpoints'));
  writeVocabulary(text);
  writeModelFile(outDir, {
    model: cfg.model,
    text: kep.text,
    pooling: kep.pooling ?? 'cls',
    embedDim: kep.embedDim,
    preprocess: evalPre,
    maxLength: text.maxLength,
    vocab: 'vocab.txt',
    origin: `kep train vlp --loss ${cfg.loss} (${text.origin})`,
  });
  // The model file records the registry name; a changed image size must travel with it.
  if (cfg.imageSize !== undefined && cfg.imageSize !== entry.preprocess.size)
    process.stderr.write(`note: training at ${size} px; the model folder's preprocessing says so\n`);
  let trainer = await makeTrainer(resumeStep < freezeSteps);
  let lossSession: CompiledGraph | undefined;

  const tokens = (indices: readonly number[]): ReturnType<BertTokenizer['encodeBatch']> =>
    text.tokenizer.encodeBatch(
      indices.map((i) => inputs.pairs.caption(i)),
      { maxLength: text.maxLength, padding: 'longest', truncation: true },
    );
  let lastReport: { loss: number; terms?: Record<string, number> } | undefined;

  const stepFeeds = async (step: number): Promise<Feeds[]> => {
    const batch = await loadBatch(step);
    const n = batch.count;
    const tok = tokens(batch.indices);
    const seq = tok.shape[1];
    const px = 3 * size * size;
    const parts: { pixels: ort.Tensor; ids: ort.Tensor; mask: ort.Tensor; rows: [number, number] }[] = [];
    for (let start = 0; start < n; start += cached ? micro : n) {
      const end = Math.min(n, start + (cached ? micro : n));
      parts.push({
        pixels: new ort.Tensor('float32', slice(batch.pixels, px, start, end), [end - start, 3, size, size]),
        ids: new ort.Tensor('int64', tok.ids.subarray(start * seq, end * seq), [end - start, seq]),
        mask: new ort.Tensor('int64', tok.mask.subarray(start * seq, end * seq), [end - start, seq]),
        rows: [start, end],
      });
    }
    if (!cached) return parts.map((p) => ({ pixels: p.pixels, ids: p.ids, mask: p.mask }));

    // GradCache (1): embeddings of every micro-batch with the current weights.
    const d = kep.embedDim;
    const cache = {
      image: new Float32Array(n * d),
      text: new Float32Array(n * d),
      knowledge: new Float32Array(n * d),
    };
    const wanted = cfg.loss === 'kep' ? ['image', 'text', 'knowledge'] : ['image', 'text'];
    for (const p of parts) {
      const out = await trainer.run({ pixels: p.pixels, ids: p.ids, mask: p.mask }, wanted);
      for (const k of wanted) cache[k as keyof typeof cache].set(out[k]!.data as Float32Array, p.rows[0] * d);
    }
    // (2) the loss over the whole batch and its gradient with respect to the embeddings.
    lossSession ??= await compile(
      lossGraph(cfg.loss, cfg.knowledgeWeight, d),
      {},
      cfg.threads ? { threads: cfg.threads } : {},
    );
    const scale = trainer.params.get('logit_scale')![0]!;
    const lf: Feeds = {
      image: new ort.Tensor('float32', cache.image, [n, d]),
      text: new ort.Tensor('float32', cache.text, [n, d]),
      logit_scale: new ort.Tensor('float32', Float32Array.of(scale), []),
    };
    if (cfg.loss === 'kep') lf.knowledge = new ort.Tensor('float32', cache.knowledge, [n, d]);
    const lo = await lossSession.run(lf);
    const loss = Number(lo.loss!.data[0]);
    if (!Number.isFinite(loss))
      throw new Error(`loss is ${loss} at step ${step}; stopping (parameters not updated)`);
    lastReport = {
      loss,
      terms: {
        it: Number(lo.loss_it!.data[0]),
        ...(lo.loss_tk ? { tk: Number(lo.loss_tk.data[0]) } : {}),
      },
    };
    // (3) one surrogate pass per micro-batch. The trainer averages micro-batch gradients, so the
    // embedding gradients are scaled up by their count and the scale's gradient is split over them.
    const k = parts.length;
    const gI = lo.grad_image!.data as Float32Array;
    const gT = lo.grad_text!.data as Float32Array;
    const gS = Number(lo.grad_logit_scale!.data[0]);
    return parts.map((p) => {
      const [a, b] = p.rows;
      return {
        pixels: p.pixels,
        ids: p.ids,
        mask: p.mask,
        cached_grad_image: new ort.Tensor(
          'float32',
          slice(gI, d, a, b).map((v) => v * k),
          [b - a, d],
        ),
        cached_grad_text: new ort.Tensor(
          'float32',
          slice(gT, d, a, b).map((v) => v * k),
          [b - a, d],
        ),
        cached_grad_logit_scale: new ort.Tensor('float32', Float32Array.of(gS), []),
      };
    });
  };

  const asModel = (): VisionLanguageModel => ({
    name: cfg.model,
    embedDim: kep.embedDim,
    preprocess: evalPre,
    get logitScale() {
      return Math.exp(trainer.params.get('logit_scale')![0]!);
    },
    untrained: false,
    source: `${outDir} (step ${trainer.step})`,
    embedImages: async (pixels, count) =>
      count === 0
        ? new Float32Array(0)
        : ((
            await trainer.run({ pixels: new ort.Tensor('float32', pixels, [count, 3, size, size]) }, [
              'image',
            ])
          ).image!.data as Float32Array),
    embedTexts: async (texts) => {
      if (texts.length === 0) return new Float32Array(0);
      const out = new Float32Array(texts.length * kep.embedDim);
      for (let i = 0; i < texts.length; i += 256) {
        const b = text.tokenizer.encodeBatch(texts.slice(i, i + 256), {
          maxLength: text.maxLength,
          padding: 'longest',
          truncation: true,
        });
        const r = await trainer.run(
          { ids: new ort.Tensor('int64', b.ids, b.shape), mask: new ort.Tensor('int64', b.mask, b.shape) },
          ['text'],
        );
        out.set(r.text!.data as Float32Array, i * kep.embedDim);
      }
      return out;
    },
    release: async () => {},
  });

  const maxLogit = Math.log(cfg.maxScale);
  let summary: LoopSummary;
  try {
    summary = await runTraining(
      trainer,
      {
        steps,
        lr: cfg.lr,
        minLr: cfg.minLr,
        warmup: cfg.warmup,
        evalEvery: cfg.evalEvery,
        checkpointEvery: cfg.checkpointEvery,
        keepCheckpoints: 2,
        logEvery: 10,
        ...(inputs.minutes !== undefined ? { minutes: inputs.minutes } : {}),
      },
      {
        batches: stepFeeds,
        itemsPerStep: cfg.batch,
        trainerFor: async (step, current) => {
          if (step !== freezeSteps || freezeSteps === 0 || resumeStep >= freezeSteps) return undefined;
          // The freeze phase is over: the backbone and the text tower start training.
          const next = await makeTrainer(false);
          next.adopt(current.checkpointState());
          await current.release();
          trainer = next;
          return next;
        },
        afterStep: (result) => {
          const ls = trainer.params.get('logit_scale')!;
          if (ls[0]! > maxLogit) ls[0] = maxLogit;
          if (!cached) {
            const terms: Record<string, number> = { it: Number(result.outputs.loss_it!.data[0]) };
            if (result.outputs.loss_tk) terms.tk = Number(result.outputs.loss_tk.data[0]);
            lastReport = { loss: result.loss, terms };
          }
        },
        stepReport: () => lastReport!,
        ...(inputs.evaluate ? { evaluate: (step: number) => inputs.evaluate!(asModel(), step) } : {}),
        meta: { format: 'kep-vlp/1', config: cfg },
      },
      outDir,
    );
  } finally {
    await epochIter?.it.return(undefined);
    await loader.close();
    await lossSession?.release();
    await trainer.release();
  }
  return { summary, config: cfg, stepsPerEpoch, freezeSteps };
}

/**
 * The model S2 starts from, as a model folder: the image tower (random, or a pretrained backbone)
 * and the text tower of an S1 encoder, before any image–text training. Useful to run the whole
 * pipeline (zero-shot, slides) before S2 has run, honestly marked as such in `origin`.
 */
export async function writeStartingModel(
  outDir: string,
  opts: { model: string; initText: string; initImage?: { weights: string; keyMap: string }; seed?: number },
): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  const entry = kepEntry(opts.model);
  const cfg = vlpConfigSchema.parse({ model: opts.model });
  const text = setUpText(cfg, entry.config, undefined, outDir, opts.initText);
  writeVocabulary(text);
  const kep = text.kep;
  const size = entry.preprocess.size;
  const g = new Graph('starting-model');
  g.output('image', encodeImage(g, g.input('pixels', 'float32', ['batch', 3, size, size]), kep));
  g.output(
    'text',
    encodeText(g, g.input('ids', 'int64', ['b', 's']), g.input('mask', 'int64', ['b', 's']), kep),
  );
  g.output('logit_scale', logitScale(g, kep));
  const { values } = await parameterValues(g, { seed: opts.seed ?? 0 });
  for (const [k, v] of text.initial) if (values.has(k)) values.set(k, v);
  if (opts.initImage) for (const [k, v] of await imageInitial(kep, opts.initImage, size)) values.set(k, v);
  writeSafetensors(
    join(outDir, 'model.safetensors'),
    new Map([...values].map(([k, v]) => [k, fromFloat32(v, [...g.params.get(k)!.shape])])),
  );
  writeModelFile(outDir, {
    model: opts.model,
    text: kep.text,
    pooling: kep.pooling ?? 'cls',
    embedDim: kep.embedDim,
    preprocess: entryPreprocess(entry, size),
    maxLength: text.maxLength,
    vocab: 'vocab.txt',
    untrainedTowers: opts.initImage ? [] : ['image'],
    origin: `before S2: image tower ${opts.initImage ? `from ${opts.initImage.weights}` : 'untrained (random weights)'}, ${text.origin}`,
  });
}
