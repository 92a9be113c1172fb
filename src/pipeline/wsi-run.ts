// `kep wsi run`: segment → patch → embed → subtype for many slides. The batch is: list the inputs,
// check labels against the prompts, then processSlide (process-slide.ts) for each slide in turn,
// then the report (batch-report.ts). Per slide it writes OUT/<slide>/tissue.geojson, overview.png,
// features.h5, and with prompts scores.json and one heatmap per class; then done.json, last.
// A queue worker runs the same processSlide, so outputs, keys, locks and done markers are the same
// whichever way a slide was processed. A slide that fails is recorded and the batch goes on.
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { readPromptFile, type PromptSet } from '../data/prompt-sets.ts';
import type { ModelSource, VisionLanguageModel } from '../embed/types.ts';
import type { SubtypingSummary } from '../eval/slide-subtyping.ts';
import { createProgress, type Progress } from '../util/progress.ts';
import { reportBatch } from './batch-report.ts';
import { processSlide } from './process-slide.ts';
import type { RunSummary, SlideSummary } from './run-summary.ts';
import { createSlideContext, type SlideContext } from './slide-context.ts';
import { listSlides, type SlideInput } from './slide-inputs.ts';
import { resolveSlideSettings, type SlideSettings, type SlideSettingsOptions } from './slide-settings.ts';

export { labelFileName } from './slide-score.ts';

/** The batch's options: the per-slide settings (slide-settings.ts) plus where the slides come from. */
export interface WsiRunOptions extends SlideSettingsOptions {
  /** A folder of slides or a slide list (CSV/TSV). */
  input: string;
  out: string;
  /** Root for relative paths in a slide list. */
  root?: string;
  /** A slide,label table. */
  labels?: string;
  /** Patch reader threads (default: cores − 1, at most 4). */
  workers?: number;
  /** Progress bar on stderr (default: when it is a terminal). */
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

/** Every labelled slide's label must be a class of every prompt set, or its scores mean nothing. */
function checkLabels(slides: readonly SlideInput[], promptSets: readonly PromptSet[], file: string): void {
  const labelled = slides.filter((s) => s.label !== undefined);
  if (labelled.length === 0) return;
  for (const set of promptSets) {
    const offered = new Set(set.classes.map((c) => c.label));
    const missing = labelled.find((s) => !offered.has(s.label!));
    if (missing)
      throw new Error(
        `${file}: slide ${missing.id} is labelled "${missing.label}", which prompt set "${set.id}" does not name (its classes: ${[...offered].join(', ')})`,
      );
  }
}

/**
 * One bar over the batch, counting embedded patches (the slow part); its total grows as each
 * slide's grid is known, so the rate is the batch's and the ETA covers the slides patched so far.
 */
function patchCounter(enabled: boolean | undefined): NonNullable<SlideContext['patches']> {
  let bar: Progress | undefined;
  let total = 0;
  const progress = (): Progress =>
    (bar ??= createProgress({ label: 'embed', total: 0, ...(enabled === undefined ? {} : { enabled }) }));
  return {
    add(count) {
      total += count;
      progress().setTotal(total);
    },
    progress: {
      update: (v) => progress().update(v),
      increment: (d) => progress().increment(d),
      setTotal: (t) => progress().setTotal(t),
      stop: () => bar?.stop(),
    },
  };
}

/** What a batch is before any slide is processed: the inputs, checked, and the settings. */
export interface PreparedBatch {
  started: Date;
  out: string;
  slides: SlideInput[];
  promptSets: PromptSet[] | undefined;
  settings: SlideSettings;
}

/** Lists the slides, checks labels against the prompts and resolves the settings; writes nothing. */
export async function prepareBatch(o: WsiRunOptions): Promise<PreparedBatch> {
  const started = new Date();
  const slides = await listSlides(o.input, {
    ...(o.root ? { root: o.root } : {}),
    ...(o.labels ? { labels: o.labels } : {}),
  });
  const promptSets = o.prompts ? readPromptFile(o.prompts) : undefined;
  if (promptSets) checkLabels(slides, promptSets, o.prompts!);
  return { started, out: resolve(o.out), slides, promptSets, settings: resolveSlideSettings(o) };
}

export async function runWsiBatch(o: WsiRunOptions): Promise<WsiRunResult> {
  const { started, out, slides, promptSets, settings } = await prepareBatch(o);
  mkdirSync(out, { recursive: true });
  const patches = patchCounter(o.progress);
  const context = createSlideContext({
    settings,
    loadModel: () => o.loadModel(o.model),
    ...(promptSets ? { promptSets } : {}),
    ...(o.workers !== undefined ? { workers: o.workers } : {}),
    ...(o.log ? { log: o.log } : {}),
    patches,
  });
  try {
    const summaries: SlideSummary[] = [];
    try {
      for (const input of slides) summaries.push(await processSlide({ input, out }, context));
    } finally {
      patches.progress.stop();
    }
    return reportBatch({
      out,
      started,
      slides: summaries,
      settings,
      ...(promptSets ? { promptSets } : {}),
      model: context.loadedModel(),
      source: o.model,
    });
  } finally {
    await context.close();
  }
}
