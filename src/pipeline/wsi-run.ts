// `kep wsi run`: segment → patch → embed → subtype for many slides, stage by stage with a progress
// bar each (the embedding bar counts patches over every slide, so its ETA is the batch's).
//
// Per slide it writes OUT/<slide>/tissue.geojson, overview.png, features.h5, and with prompts
// scores.json and one heatmap per class; then done.json, last. What makes a run safe to repeat or
// to share between processes:
//   - every file is written atomically (temp + rename), done.json after everything else;
//   - done.json records a key of what the outputs depend on (the slide file's size and mtime, the
//     patch settings, the model; the prompts for the scores): a slide whose key matches is skipped,
//     one whose prompts alone changed is only re-scored;
//   - done.json also records the size and SHA-256 of every output it vouches for; a rerun re-checks
//     them (a stat, and a checksum only when a file's mtime moved) and redoes a slide whose
//     features.h5 (or other output) is missing or damaged, saying so ("redone: features.h5 corrupt");
//   - a folder entry that cannot be a slide (a dangling link) is a failed slide, not a crash;
//   - a slide is claimed with a lock file (lock.ts) for as long as this process works on it; a
//     second process skips it ('locked') and takes the others;
//   - a slide that fails (unreadable, unsupported, truncated, no tissue) is recorded in failed.json
//     and in the summary, and the batch goes on; with the same inputs it is not retried unless
//     asked (--retry-failed).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { poolPromptSets, promptFileJson, readPromptFile, type PromptSet } from '../data/prompt-sets.ts';
import type { ModelSource, VisionLanguageModel } from '../embed/types.ts';
import {
  TextEmbeddingCache,
  classEmbeddings,
  cosineScores,
  normaliseRows,
} from '../eval/class-embeddings.ts';
import { DEFAULT_TOP_K, type Pooling } from '../eval/slide-pooling.ts';
import {
  type ClassSet,
  type LabelledSlideScores,
  scoreSlide,
  subtypingMarkdown,
  summariseSubtyping,
  type SubtypingSummary,
} from '../eval/slide-subtyping.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { digestFile, digestProblem, fileDigestSchema } from '../util/file-digest.ts';
import { createProgress, type Progress } from '../util/progress.ts';
import { thumbnail } from '../wsi/downsample.ts';
import { defaultReaderWorkers, embedSlidePatches } from '../wsi/embed-patches.ts';
import { FeaturesWriter, readFeaturesH5 } from '../wsi/features-h5.ts';
import { type Colormap, renderHeatmap, writePng } from '../wsi/heatmap.ts';
import { OVERVIEW_SIDE, writeOverview } from '../wsi/overview.ts';
import { PatchReaderPool } from '../wsi/patch-reader.ts';
import { PATCH_DEFAULTS, type PatchGrid, type PatchGridOptions, patchGrid } from '../wsi/patch-grid.ts';
import { resolveSegmentOptions, type SegmentOptions, segmentTissue } from '../wsi/segment.ts';
import { openSlide } from '../wsi/open-slide.ts';
import { NOTE_PROPERTY, SlideError, type Slide } from '../wsi/slide.ts';
import { tissueGeoJson } from '../wsi/tissue-geojson.ts';
import { tryLock } from './lock.ts';
import { countStatuses, type RunSummary, type SlideSummary, writeRunSummary } from './run-summary.ts';
import { listSlides, type SlideInput } from './slide-inputs.ts';

export interface WsiRunOptions {
  /** A folder of slides or a slide list (CSV/TSV). */
  input: string;
  out: string;
  /** Root for relative paths in a slide list. */
  root?: string;
  /** A slide,label table. */
  labels?: string;
  model: ModelSource;
  /** Prompt sets: with them, each slide is scored and heatmaps drawn. */
  prompts?: string;
  segment?: SegmentOptions;
  patch?: PatchGridOptions;
  ks?: readonly number[];
  pooling?: Pooling;
  batchSize?: number;
  /** Patch reader threads (default: cores − 1, at most 4). */
  workers?: number;
  /** Longer side of overview.png (default: overview.ts's, 1024). */
  overviewSize?: number;
  /** Longer side of the heatmaps (default 1024). */
  heatmapSize?: number;
  colormap?: Colormap;
  retryFailed?: boolean;
  /** Progress bars on stderr (default: when it is a terminal). */
  progress?: boolean;
  /** How the model is loaded (tests inject a small one). */
  loadModel: (source: ModelSource) => Promise<VisionLanguageModel>;
  /** Notes for the user (stderr). */
  log?: (line: string) => void;
}

export interface WsiRunResult {
  summary: RunSummary;
  subtyping?: SubtypingSummary;
}

const STATE_VERSION = 1;

const doneSchema = z.object({
  version: z.literal(STATE_VERSION),
  embedKey: z.string(),
  scoreKey: z.string().nullable(),
  n_patches: z.number().int().nonnegative(),
  seconds: z.number(),
  model: z.string(),
  untrained: z.boolean(),
  finished: z.string(),
  /** Output file → size, checksum, mtime (absent in markers written before kep recorded them). */
  outputs: z.record(z.string(), fileDigestSchema).optional(),
});
type DoneRecord = z.infer<typeof doneSchema>;

/** Outputs that depend only on the scores (the rest depend on the embedding). */
const isScoreOutput = (name: string): boolean => name === 'scores.json' || /^heatmap-.*\.png$/.test(name);
const isOutput = (name: string): boolean =>
  ['features.h5', 'tissue.geojson', 'overview.png'].includes(name) || isScoreOutput(name);

type Assessment =
  | { state: 'complete'; done: DoneRecord }
  | { state: 'rescore'; problem?: string }
  | { state: 'redo'; problem?: string };

/**
 * What an earlier run left for a slide: complete (skip it), features current but scores to redo,
 * or everything to redo; a problem says which recorded output no longer matches its record.
 */
function assess(dir: string, embedKey: string, scoreKey: string | null): Assessment {
  const done = readJson(join(dir, 'done.json'), doneSchema);
  if (done?.embedKey !== embedKey) return { state: 'redo' };
  const outputs = done.outputs ?? { 'features.h5': undefined };
  let scoreProblem: string | undefined;
  for (const [name, want] of Object.entries(outputs)) {
    const problem = want
      ? digestProblem(join(dir, name), want)
      : existsSync(join(dir, name))
        ? undefined
        : 'missing';
    if (!problem) continue;
    if (!isScoreOutput(name)) return { state: 'redo', problem: `${name} ${problem}` };
    scoreProblem ??= `${name} ${problem}`;
  }
  if (done.scoreKey !== scoreKey) return { state: 'rescore' };
  if (scoreProblem) return { state: 'rescore', problem: scoreProblem };
  return { state: 'complete', done };
}

const failedSchema = z.object({ embedKey: z.string(), error: z.string(), kind: z.string() });

const scoresSchema = z.object({
  slide: z.string(),
  ks: z.array(z.number()),
  pooling: z.enum(['sum', 'mean']),
  ensemble: z.object({
    labels: z.array(z.string()),
    pooled: z.array(z.array(z.number())),
    predicted: z.array(z.string()),
  }),
  sets: z.array(z.object({ id: z.string(), predicted: z.array(z.string()) })),
});
type SlideScoresFile = z.infer<typeof scoresSchema>;

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function readJson<T>(path: string, schema: z.ZodType<T>): T | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const parsed = schema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

function fileStamp(path: string): { size: number; mtimeMs: number } | null {
  try {
    const s = statSync(path);
    return { size: s.size, mtimeMs: Math.round(s.mtimeMs) };
  } catch {
    return null;
  }
}

/** What the model is, for the output keys: the registry name or folder, and its weights file. */
function modelIdentity(source: ModelSource): Record<string, unknown> {
  return {
    name: source.name ?? null,
    dir: source.dir ? resolve(source.dir) : null,
    dirStamp: source.dir ? fileStamp(join(source.dir, 'kep-model.json')) : null,
    weights: source.weights ? resolve(source.weights) : null,
    weightsStamp: source.weights ? fileStamp(source.weights) : null,
    keyMap: source.keyMap ?? null,
    vocab: source.vocab ? resolve(source.vocab) : null,
    // Only when chosen, so that the keys of runs without it stay what they were.
    ...(source.imageNorm ? { imageNorm: source.imageNorm } : {}),
  };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** File-name-safe form of a class label for heatmap-<label>.png. */
export function labelFileName(label: string): string {
  return label.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+|_+$/g, '') || 'class';
}

interface Job {
  input: SlideInput;
  dir: string;
  embedKey: string;
  release?: () => void;
  /** True when features.h5 is current and only the scores need redoing. */
  rescoreOnly: boolean;
  summary: SlideSummary;
  slide?: Slide;
  grid?: PatchGrid;
}

function failure(err: unknown): { error: string; kind: string } {
  if (err instanceof SlideError) return { error: err.message, kind: err.kind };
  return { error: err instanceof Error ? err.message : String(err), kind: 'error' };
}

export async function runWsiBatch(o: WsiRunOptions): Promise<WsiRunResult> {
  const started = new Date();
  const log = o.log ?? (() => {});
  const ks = [...(o.ks ?? DEFAULT_TOP_K)];
  const pooling = o.pooling ?? 'mean';
  const batchSize = o.batchSize ?? 32;
  const overviewSize = o.overviewSize ?? OVERVIEW_SIDE;
  const heatmapSize = o.heatmapSize ?? 1024;
  const bars = (label: string, total: number): Progress =>
    createProgress({ label, total, ...(o.progress === undefined ? {} : { enabled: o.progress }) });
  const out = resolve(o.out);
  mkdirSync(out, { recursive: true });

  const slides = await listSlides(o.input, {
    ...(o.root ? { root: o.root } : {}),
    ...(o.labels ? { labels: o.labels } : {}),
  });
  const promptSets: PromptSet[] | undefined = o.prompts ? readPromptFile(o.prompts) : undefined;
  const labelled = slides.filter((s) => s.label !== undefined);
  if (promptSets && labelled.length > 0) {
    for (const set of promptSets) {
      const offered = new Set(set.classes.map((c) => c.label));
      const missing = labelled.find((s) => !offered.has(s.label!));
      if (missing)
        throw new Error(
          `${o.prompts}: slide ${missing.id} is labelled "${missing.label}", which prompt set "${set.id}" does not name (its classes: ${[...offered].join(', ')})`,
        );
    }
  }
  // Resolved with their defaults, so that the same settings give the same key however they were given.
  const settings = {
    segment: resolveSegmentOptions(definedOnly(o.segment ?? {})),
    patch: { ...PATCH_DEFAULTS, ...definedOnly(o.patch ?? {}) },
    overviewSize,
    model: modelIdentity(o.model),
  };
  const scoreSettings = promptSets
    ? {
        prompts: sha256(readFileSync(o.prompts!, 'utf8')),
        ks,
        pooling,
        heatmapSize,
        colormap: o.colormap ?? 'viridis',
      }
    : null;

  // ---- Claim: what is already complete, what another process holds, what is left to do.
  const jobs: Job[] = [];
  const summaries: SlideSummary[] = [];
  for (const input of slides) {
    const dir = join(out, input.id);
    const embedKey = sha256(
      JSON.stringify({
        v: STATE_VERSION,
        source: fileStamp(input.path),
        path: resolve(input.path),
        ...settings,
      }),
    );
    const scoreKey = scoreSettings ? sha256(JSON.stringify({ embedKey, ...scoreSettings })) : null;
    const base: SlideSummary = {
      slide: input.id,
      path: input.path,
      status: 'done',
      n_patches: null,
      seconds: 0,
      error: null,
      ...(input.label !== undefined ? { label: input.label } : {}),
    };
    summaries.push(base);
    if (input.problem) {
      Object.assign(base, {
        status: 'failed',
        error: `${input.path}: ${input.problem.reason}`,
        error_kind: input.problem.kind,
      });
      continue;
    }
    const before = assess(dir, embedKey, scoreKey);
    if (before.state === 'complete') {
      Object.assign(base, { status: 'skipped', n_patches: before.done.n_patches });
      continue;
    }
    const failed = readJson(join(dir, 'failed.json'), failedSchema);
    if (!o.retryFailed && failed?.embedKey === embedKey) {
      Object.assign(base, {
        status: 'failed',
        error: `${failed.error} (earlier run; --retry-failed to retry)`,
        error_kind: failed.kind,
      });
      continue;
    }
    mkdirSync(dir, { recursive: true });
    const lock = tryLock(join(dir, '.lock'));
    if (!lock.acquired) {
      const who = lock.owner
        ? `pid ${lock.owner.pid} on ${lock.owner.host} since ${lock.owner.started}`
        : 'a process starting up';
      Object.assign(base, { status: 'locked', error: `being processed by ${who}` });
      continue;
    }
    // Another process may have finished the slide between our look at done.json and the lock.
    const now = assess(dir, embedKey, scoreKey);
    if (now.state === 'complete') {
      lock.release();
      Object.assign(base, { status: 'skipped', n_patches: now.done.n_patches });
      continue;
    }
    if (now.problem) base.note = `redone: ${now.problem}`;
    const rescoreOnly = now.state === 'rescore';
    // Temporary files of a writer that died (only a lock holder writes here, and we hold it).
    for (const f of readdirSync(dir))
      if (f.startsWith('.') && f.endsWith('.tmp')) rmSync(join(dir, f), { force: true });
    jobs.push({ input, dir, embedKey, release: lock.release, rescoreOnly, summary: base });
  }

  const fail = (job: Job, err: unknown): void => {
    const f = failure(err);
    Object.assign(job.summary, { status: 'failed', error: f.error, error_kind: f.kind });
    writeFileAtomic(
      join(job.dir, 'failed.json'),
      JSON.stringify({ embedKey: job.embedKey, ...f }, null, 2) + '\n',
    );
    job.slide?.close();
    job.slide = undefined;
    job.release?.();
  };
  const live = (): Job[] => jobs.filter((j) => j.summary.status !== 'failed');
  const elapsed = (job: Job, since: number): void => {
    job.summary.seconds += (performance.now() - since) / 1000;
  };

  let model: VisionLanguageModel | undefined;
  const getModel = async (): Promise<VisionLanguageModel> => (model ??= await o.loadModel(o.model));
  try {
    // The model first: a bad --weights or --vocab should stop the run before hours of segmentation.
    if (jobs.length > 0) await getModel();

    // ---- Stage 1: open, segment, patch, overview.
    const toEmbed = jobs.filter((j) => !j.rescoreOnly);
    if (toEmbed.length > 0) {
      const bar = bars('segment', toEmbed.length);
      for (const job of toEmbed) {
        const t = performance.now();
        try {
          rmSync(join(job.dir, 'done.json'), { force: true });
          rmSync(join(job.dir, 'failed.json'), { force: true });
          job.slide = await openSlide(job.input.path);
          const note = job.slide.properties[NOTE_PROPERTY];
          if (note) log(`${job.input.id}: ${note}`);
          const seg = await segmentTissue(job.slide, o.segment);
          writeFileAtomic(join(job.dir, 'tissue.geojson'), JSON.stringify(tissueGeoJson(seg)) + '\n');
          const grid = patchGrid(job.slide, seg, o.patch);
          await writeOverview(join(job.dir, 'overview.png'), job.slide, seg, { grid, maxSide: overviewSize });
          if (grid.count === 0)
            throw new SlideError(
              job.input.path,
              'no-tissue',
              `no ${grid.patchSize}-px patch at ${grid.magnification}× has ≥ ${grid.minTissue * 100}% tissue`,
            );
          for (const w of grid.warnings) log(`${job.input.id}: ${w}`);
          job.grid = grid;
          job.summary.n_patches = grid.count;
        } catch (err) {
          fail(job, err);
        }
        // Slides are not kept open between stages: a run may hold thousands.
        job.slide?.close();
        job.slide = undefined;
        elapsed(job, t);
        bar.increment();
      }
      bar.stop();
    }

    // ---- Stage 2: embed every patch, one features.h5 per slide.
    const embedJobs = live().filter((j) => j.grid);
    if (embedJobs.length > 0) {
      const m = await getModel();
      const bar = bars(
        'embed',
        embedJobs.reduce((a, j) => a + j.grid!.count, 0),
      );
      // One pool of reader threads for every slide: workers start once per run, not per slide.
      const pool = new PatchReaderPool(o.workers ?? defaultReaderWorkers());
      try {
        for (const job of embedJobs) {
          const t = performance.now();
          const grid = job.grid!;
          let writer: FeaturesWriter | undefined;
          try {
            writer = await FeaturesWriter.create(join(job.dir, 'features.h5'), m.embedDim, {
              slide: job.input.id,
              model: m.name,
              untrained: m.untrained,
              patchSize: grid.patchSize,
              patchSizeLevel0: grid.patchSizeLevel0,
              patchLevel: grid.readLevel,
              targetMagnification: grid.magnification,
              level0Magnification: grid.level0.magnification,
            });
            const w = writer;
            await embedSlidePatches({
              slidePath: job.input.path,
              coords: grid.coords,
              level: grid.readLevel,
              readSize: grid.readSize,
              patchSize: grid.patchSize,
              embedder: m,
              sink: (c, f) => w.append(c, f),
              batchSize,
              pool,
              progress: bar,
            });
            writer.close();
          } catch (err) {
            writer?.abort();
            fail(job, err);
          }
          elapsed(job, t);
        }
      } finally {
        await pool.close();
      }
      bar.stop();
    }

    // ---- Stage 3: scores and heatmaps.
    let classSets: ClassSet[] | undefined;
    let ensemble: ClassSet | undefined;
    if (promptSets && live().length > 0) {
      const m = await getModel();
      const texts = new TextEmbeddingCache(m);
      const pbar = bars('prompts', promptSets.length + 1);
      classSets = [];
      for (const set of promptSets) {
        classSets.push({ id: set.id, ...(await classEmbeddings(set, texts)) });
        pbar.increment();
      }
      ensemble = {
        id: 'ensemble',
        ...(await classEmbeddings(poolPromptSets(promptSets, 'ensemble'), texts)),
      };
      pbar.increment();
      pbar.stop();
      const bar = bars('subtype', live().length);
      for (const job of live()) {
        const t = performance.now();
        try {
          await scoreJob(job, classSets, ensemble, {
            ks,
            pooling,
            heatmapSize,
            colormap: o.colormap ?? 'viridis',
          });
        } catch (err) {
          fail(job, err);
        }
        elapsed(job, t);
        bar.increment();
      }
      bar.stop();
    }

    // ---- Done markers, last.
    for (const job of live()) {
      job.slide?.close();
      job.slide = undefined;
      const record: DoneRecord = {
        version: STATE_VERSION,
        embedKey: job.embedKey,
        scoreKey: scoreSettings ? sha256(JSON.stringify({ embedKey: job.embedKey, ...scoreSettings })) : null,
        n_patches: job.summary.n_patches ?? 0,
        seconds: job.summary.seconds,
        model: model?.name ?? 'unknown',
        untrained: model?.untrained ?? false,
        finished: new Date().toISOString(),
        outputs: Object.fromEntries(
          readdirSync(job.dir)
            .filter(isOutput)
            .sort()
            .map((f) => [f, digestFile(join(job.dir, f))]),
        ),
      };
      writeFileAtomic(join(job.dir, 'done.json'), JSON.stringify(record, null, 2) + '\n');
      job.release?.();
    }
  } finally {
    for (const job of jobs) {
      job.slide?.close();
      job.release?.();
    }
  }

  // ---- Predictions and the subtyping report, over every slide with current scores.
  let subtyping: SubtypingSummary | undefined;
  if (promptSets) {
    // The prompts beside the scores, so that a viewer (kep serve) re-scores with the run's own classes.
    writeFileAtomic(join(out, 'prompts.json'), `${JSON.stringify(promptFileJson(promptSets), null, 2)}\n`);
    const scored: LabelledSlideScores[] = [];
    for (const s of summaries) {
      if (s.status !== 'done' && s.status !== 'skipped') continue;
      const file = readJson(join(out, s.slide, 'scores.json'), scoresSchema);
      if (!file) continue;
      s.prediction = file.ensemble.predicted[file.ensemble.predicted.length - 1]!;
      if (s.label !== undefined) scored.push({ slide: s.slide, label: s.label, sets: file.sets });
    }
    if (scored.length > 0) {
      subtyping = summariseSubtyping(
        scored,
        promptSets.map((p) => ({ id: p.id, labels: p.classes.map((c) => c.label) })),
        ks,
        pooling,
      );
      writeFileAtomic(join(out, 'subtyping.json'), JSON.stringify(subtyping, null, 2) + '\n');
      writeFileAtomic(join(out, 'subtyping.md'), subtypingMarkdown(subtyping));
    }
  }

  const finished = new Date();
  const modelInfo = model ?? undefined;
  const previous = readJson(
    join(out, 'summary.json'),
    z.object({ model: z.string(), untrained: z.boolean(), model_source: z.string() }).passthrough(),
  );
  const summary: RunSummary = {
    started: started.toISOString(),
    finished: finished.toISOString(),
    seconds: (finished.getTime() - started.getTime()) / 1000,
    // A run that had nothing to do loaded no model: the earlier run's record says what made the outputs.
    model: modelInfo?.name ?? previous?.model ?? o.model.name ?? o.model.dir ?? 'unknown',
    untrained: modelInfo?.untrained ?? previous?.untrained ?? !(o.model.weights || o.model.dir),
    model_source: modelInfo?.source ?? previous?.model_source ?? '(not loaded: nothing to compute)',
    settings: { ...settings, ...(scoreSettings ? { scoring: scoreSettings } : {}), batchSize },
    counts: countStatuses(summaries),
    slides: summaries,
  };
  writeRunSummary(out, summary, subtyping ? subtypingMarkdown(subtyping) : undefined);
  await model?.release();
  return { summary, ...(subtyping ? { subtyping } : {}) };
}

async function scoreJob(
  job: Job,
  sets: readonly ClassSet[],
  ensemble: ClassSet,
  s: { ks: number[]; pooling: Pooling; heatmapSize: number; colormap: Colormap },
): Promise<void> {
  const feats = await readFeaturesH5(join(job.dir, 'features.h5'));
  job.summary.n_patches = feats.count;
  const perSet = scoreSlide(feats.features, feats.count, feats.dim, sets, s.ks, s.pooling);
  const [ens] = scoreSlide(feats.features, feats.count, feats.dim, [ensemble], s.ks, s.pooling);
  const file: SlideScoresFile = {
    slide: job.input.id,
    ks: s.ks,
    pooling: s.pooling,
    ensemble: {
      labels: [...ensemble.labels],
      pooled: ens!.pooled.map((p) => Array.from(p)),
      predicted: ens!.predicted,
    },
    sets: perSet.map((r, i) => ({ id: sets[i]!.id, predicted: r.predicted })),
  };
  // Heatmaps: each patch's cosine with each ensemble class, over the thumbnail.
  const slide = await openSlide(job.input.path);
  let view: Awaited<ReturnType<typeof thumbnail>>;
  try {
    view = await thumbnail(slide, s.heatmapSize);
  } finally {
    slide.close();
  }
  const patchScores = cosineScores(normaliseRows(feats.features.slice(), feats.dim), ensemble);
  const c = ensemble.labels.length;
  const names = new Set<string>();
  for (let k = 0; k < c; k++) {
    // Labels that differ only in characters a file name cannot hold get a numbered suffix.
    let name = labelFileName(ensemble.labels[k]!);
    if (names.has(name)) name = `${name}-${k + 1}`;
    names.add(name);
    const values = new Float32Array(feats.count);
    for (let p = 0; p < feats.count; p++) values[p] = patchScores[p * c + k]!;
    const image = renderHeatmap({
      thumbnail: view.image,
      slideWidth: slide.width,
      slideHeight: slide.height,
      coords: feats.coords,
      patchSizeLevel0: feats.meta.patchSizeLevel0,
      values,
      colormap: s.colormap,
    });
    await writePng(join(job.dir, `heatmap-${name}.png`), image, { palette: true });
  }
  writeFileAtomic(join(job.dir, 'scores.json'), JSON.stringify(file) + '\n');
}
