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
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { latestCheckpoint } from '../engine/checkpoint.ts';
import { Graph } from '../engine/graph.ts';
import type { Feeds } from '../engine/runtime.ts';
import { fromFloat32, writeSafetensors } from '../engine/safetensors.ts';
import { type RuntimeSettings, runtimeOptions } from '../engine/settings.ts';
import { Trainer } from '../engine/trainer.ts';
import { ImageLoader } from '../data/image-loader.ts';
import type { PairSet } from '../data/pairs.ts';
import type { PreprocessConfig } from '../data/preprocess.ts';
import { evalPreprocess, writeModelFile } from '../embed/model-folder.ts';
import type { VisionLanguageModel } from '../embed/types.ts';
import { towerGraphs } from '../models/factory.ts';
import { type KepSpec, withImageSize } from '../models/spec.ts';
import { removeStaleTemps } from '../util/atomic.ts';
import { ensureDir } from '../util/fs-errors.ts';
import { log } from '../util/log.ts';
import { parameterValues } from '../weights/model-weights.ts';
import { type LoopSummary, loopConfig, runTraining } from './loop.ts';
import { checkResume, parameterShapes } from './resume.ts';
import { type VlpConfig, vlpConfigSchema } from './vlp-config.ts';
import { EpochBatches, batchParts } from './vlp-data.ts';
import { liveModel } from './vlp-live-model.ts';
import {
  type ModelInit,
  type TextSetup,
  fromWholeModel,
  imageInitial,
  kepSpecNamed,
  setUpText,
  writeVocabulary,
} from './vlp-setup.ts';
import { GradCacheStep, type StepReport, vlpBuilder } from './vlp-step.ts';

export { type VlpConfig, vlpConfigSchema };

export interface VlpInputs {
  pairs: PairSet;
  /** An S1 folder (`kep train knowledge`): text tower, knowledge tower and vocabulary. */
  initText?: string;
  /** Pretrained image-backbone weights and their key map (e.g. a CLIP/BiomedCLIP/CTransPath file). */
  initImage?: { weights: string; keyMap: string };
  /** A whole KEP model (a released checkpoint) with its vocabulary: every tower; not with initText/initImage. */
  initModel?: ModelInit;
  /** Periodic evaluation with the current weights (zero-shot, retrieval…). */
  evaluate?: (model: VisionLanguageModel, step: number) => Promise<Record<string, number>>;
  minutes?: number;
  /** Execution provider, threads, optimisation level (cfg.threads and cfg.workers still apply). */
  runtime?: RuntimeSettings;
}

export interface VlpRun {
  summary: LoopSummary;
  config: VlpConfig;
  stepsPerEpoch: number;
  freezeSteps: number;
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

/** The recomputation a run uses ('auto': per block for a fused step, none with GradCache). */
export function recomputeOf(cfg: VlpConfig, cached: boolean): 'none' | 'blocks' {
  if (cfg.recompute !== 'auto') return cfg.recompute;
  return cached ? 'none' : 'blocks';
}

/** Everything a run needs, read and checked before the run folder changes. */
interface Prepared {
  spec: KepSpec;
  text: TextSetup;
  evalPre: PreprocessConfig;
  initial: Map<string, Float32Array>;
  batches: EpochBatches;
  micro: number;
  cached: boolean;
  steps: number;
  freezeSteps: number;
  resumeStep: number;
  runtime: RuntimeSettings;
}

/** The schedule stage: steps of the run and of the freeze phase (image backbone and text tower
 * frozen; image head and scale train), from epochs or explicit counts. */
function schedule(cfg: VlpConfig, stepsPerEpoch: number): { steps: number; freezeSteps: number } {
  return {
    steps: cfg.steps ?? Math.round(cfg.epochs * stepsPerEpoch),
    freezeSteps: Math.round(cfg.freezeEpochs * stepsPerEpoch),
  };
}

async function prepare(inputs: VlpInputs, outDir: string, cfg: VlpConfig): Promise<Prepared> {
  const base = withImageSize(kepSpecNamed(cfg.model), cfg.imageSize);
  if (inputs.initModel && (inputs.initText || inputs.initImage))
    throw new Error('--init-model brings every tower: it does not go with --init-text or --init-image');
  const text = inputs.initModel
    ? await fromWholeModel(cfg, base, outDir, inputs.initModel)
    : setUpText(cfg, base, inputs.pairs, outDir, inputs.initText);
  const spec = text.spec;
  const micro = Math.min(cfg.microBatch ?? cfg.batch, cfg.batch);
  const cached = micro < cfg.batch;
  if (cached && cfg.dropout > 0)
    throw new Error(
      `dropout ${cfg.dropout} with microBatch ${micro} < batch ${cfg.batch}: GradCache needs dropout 0`,
    );
  if (cfg.loss === 'kep' && !inputs.initText && !inputs.initModel)
    log.warn('KEP loss without --init-text: the knowledge tower is a frozen random encoder');
  const runtime: RuntimeSettings = {
    ...inputs.runtime,
    ...(cfg.threads ? { threads: cfg.threads } : {}),
    ...(cfg.workers !== undefined ? { workers: cfg.workers } : {}),
  };
  const evalPre = evalPreprocess(spec);
  const initial = new Map(text.initial);
  if (inputs.initImage) for (const [k, v] of await imageInitial(spec, inputs.initImage)) initial.set(k, v);
  // The paper's training transform: a random crop of images stored already resized.
  const loader = new ImageLoader(inputs.pairs, {
    preprocess: { ...evalPre, resize: 'none', crop: 'random' },
    batchSize: cfg.batch,
    dropLast: true,
    seed: cfg.seed,
    ...(runtime.workers !== undefined ? { workers: runtime.workers } : {}),
    onUnreadable: (u) => log.warn(`unreadable image skipped: ${u.path}: ${u.reason}`),
  });
  const stepsPerEpoch = loader.batchCount();
  if (stepsPerEpoch === 0) {
    await loader.close();
    throw new Error(`${inputs.pairs.source}: ${inputs.pairs.size} pairs make no batch of ${cfg.batch}`);
  }
  const batches = new EpochBatches(inputs.pairs, loader, cfg.batch, cfg.seed, stepsPerEpoch);
  const resumeStep = latestCheckpoint(join(outDir, 'checkpoints'))?.step ?? 0;
  const p: Prepared = {
    spec,
    text,
    evalPre,
    initial,
    batches,
    micro,
    cached,
    ...schedule(cfg, stepsPerEpoch),
    resumeStep,
    runtime,
  };
  await checkBeforeWriting(p, inputs, outDir, cfg);
  return p;
}

/** A refused resume, or a data set with no usable batch, stops here with the folder untouched. */
async function checkBeforeWriting(
  p: Prepared,
  inputs: VlpInputs,
  outDir: string,
  cfg: VlpConfig,
): Promise<void> {
  try {
    // The settings must build what the folder's checkpoint holds (another --image-size would not).
    const probe = new Graph('vlp-shapes');
    vlpBuilder(p.spec, cfg, p.cached, false)(probe, 'eval');
    checkResume({ outDir, expected: parameterShapes(probe), settings: cfg, flags: VLP_FLAGS });
    await p.batches.prefetch(p.resumeStep);
  } catch (err) {
    await p.batches.close();
    if (err instanceof Error && /^no batch for step/.test(err.message)) {
      const bad = p.batches.loader.unreadable;
      const tried = (p.batches.stepsPerEpoch - (p.resumeStep % p.batches.stepsPerEpoch)) * cfg.batch;
      throw new Error(
        `${inputs.pairs.source}: no usable batch of ${cfg.batch} images: ${bad.length} of the ${tried} images tried are unusable` +
          `${bad[0] ? ` (first: ${bad[0].path}: ${bad[0].reason})` : ''}; nothing was written`,
        { cause: err },
      );
    }
    throw err;
  }
}

/** From here on the run folder changes: vocabulary and kep-model.json (the whole spec). */
function writeRunFolder(p: Prepared, outDir: string, cfg: VlpConfig): void {
  ensureDir(outDir);
  removeStaleTemps(outDir);
  removeStaleTemps(join(outDir, 'checkpoints'));
  writeVocabulary(p.text);
  writeModelFile(outDir, { spec: p.spec, origin: `kep train vlp --loss ${cfg.loss} (${p.text.origin})` });
  if (cfg.imageSize !== undefined)
    log.info(`training at ${p.evalPre.size} px; the model folder's spec says so`);
}

export async function trainVisionLanguage(
  inputs: VlpInputs,
  outDir: string,
  cfg: VlpConfig,
): Promise<VlpRun> {
  const p = await prepare(inputs, outDir, cfg);
  writeRunFolder(p, outDir, cfg);
  const options = runtimeOptions(p.runtime);
  const makeTrainer = (frozen: boolean): Promise<Trainer> =>
    Trainer.create(vlpBuilder(p.spec, cfg, p.cached, frozen), {
      seed: cfg.seed,
      initial: p.initial,
      optimizer: { beta1: cfg.beta1, beta2: cfg.beta2, eps: cfg.eps, weightDecay: cfg.weightDecay },
      ...(Object.keys(options).length ? { runtime: options } : {}),
      recompute: recomputeOf(cfg, p.cached),
    });
  let trainer = await makeTrainer(p.resumeStep < p.freezeSteps);
  const gradCache = new GradCacheStep(cfg, p.spec.config.embedDim, options);
  let lastReport: StepReport | undefined;
  const stepFeeds = async (step: number): Promise<Feeds[]> => {
    const parts = batchParts(await p.batches.load(step), inputs.pairs, p.text.tokenizer, {
      size: p.evalPre.size,
      maxLength: p.spec.tokenizer.maxLength,
      micro: p.cached ? p.micro : cfg.batch,
    });
    if (!p.cached) return parts.map((part) => part.feeds);
    const r = await gradCache.feeds(trainer, parts, step);
    lastReport = r.report;
    return r.feeds;
  };
  const maxLogit = Math.log(cfg.maxScale);
  let summary: LoopSummary;
  try {
    summary = await runTraining(
      trainer,
      loopConfig({ ...cfg, steps: p.steps }, inputs.minutes),
      {
        batches: stepFeeds,
        itemsPerStep: cfg.batch,
        trainerFor: async (step, current) => {
          if (step !== p.freezeSteps || p.freezeSteps === 0 || p.resumeStep >= p.freezeSteps)
            return undefined;
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
          if (!p.cached) {
            const terms: Record<string, number> = { it: Number(result.outputs.loss_it!.data[0]) };
            if (result.outputs.loss_tk) terms.tk = Number(result.outputs.loss_tk.data[0]);
            lastReport = { loss: result.loss, terms };
          }
        },
        stepReport: () => lastReport!,
        ...(inputs.evaluate
          ? {
              evaluate: (step: number) =>
                inputs.evaluate!(
                  liveModel(() => trainer, p.spec, p.text.tokenizer, p.evalPre, outDir),
                  step,
                ),
            }
          : {}),
        meta: { format: 'kep-vlp/1', config: cfg },
      },
      outDir,
    );
  } finally {
    await p.batches.close();
    await gradCache.release();
    await trainer.release();
  }
  return { summary, config: cfg, stepsPerEpoch: p.batches.stepsPerEpoch, freezeSteps: p.freezeSteps };
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
  const cfg = vlpConfigSchema.parse({ model: opts.model });
  const text = setUpText(cfg, kepSpecNamed(opts.model), undefined, outDir, opts.initText);
  writeVocabulary(text);
  const spec = text.spec;
  const g = towerGraphs(spec).all;
  const { values } = await parameterValues(g, { seed: opts.seed ?? 0 });
  for (const [k, v] of text.initial) if (values.has(k)) values.set(k, v);
  if (opts.initImage) for (const [k, v] of await imageInitial(spec, opts.initImage)) values.set(k, v);
  writeSafetensors(
    join(outDir, 'model.safetensors'),
    new Map([...values].map(([k, v]) => [k, fromFloat32(v, [...g.params.get(k)!.shape])])),
  );
  writeModelFile(outDir, {
    spec,
    untrainedTowers: opts.initImage ? [] : ['image'],
    origin: `before S2: image tower ${opts.initImage ? `from ${opts.initImage.weights}` : 'untrained (random weights)'}, ${text.origin}`,
  });
}
