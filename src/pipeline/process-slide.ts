// One slide, start to finish: claim → segment → patch → embed → score → done marker. The batch run
// (wsi-run.ts) calls this for each slide in turn and a queue worker calls it for each job it takes,
// so both make the same files under the same keys, locks and done markers.
//
// What makes it safe to repeat or to share between processes:
//   - every file is written atomically (temp + rename), done.json after everything else;
//   - done.json records keys of what the outputs depend on (slide-settings.ts): a slide whose key
//     matches is skipped, one whose prompts alone changed is only re-scored;
//   - done.json also records the size and SHA-256 of every output; a rerun re-checks them and redoes
//     a slide whose features.h5 (or other output) is missing or damaged ("redone: features.h5 corrupt");
//   - the slide is held with a lock file (lock.ts) while it is worked on: another process skips it;
//   - a slide that fails (unreadable, unsupported, truncated, no tissue) gets failed.json and is not
//     retried with the same inputs unless asked (retryFailed).
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { VisionLanguageModel } from '../embed/types.ts';
import { readFeaturesH5 } from '../wsi/features-h5.ts';
import { openSlide } from '../wsi/open-slide.ts';
import type { PatchGrid } from '../wsi/patch-grid.ts';
import { NOTE_PROPERTY } from '../wsi/slide.ts';
import { failure, writeDoneMarker, writeFailedMarker } from './done-marker.ts';
import type { SlideSummary } from './run-summary.ts';
import { claimSlide } from './slide-claim.ts';
import type { SlideContext } from './slide-context.ts';
import { embedSlide } from './slide-embed.ts';
import type { SlideInput } from './slide-inputs.ts';
import { patchSlide } from './slide-patch.ts';
import { type ScoringClasses, scoreSlideFeatures } from './slide-score.ts';
import { segmentSlide } from './slide-segment.ts';
import { slideKeys } from './slide-settings.ts';

export interface SlideJob {
  input: SlideInput;
  /** The run's output folder: the slide's files go to OUT/<slide id>/. */
  out: string;
}

/**
 * Processes one slide and says how it went: done, skipped (complete from an earlier run), failed
 * (this run or an earlier one; failed.json says why) or locked (another live process holds it).
 * A slide's own failure is a status, not an exception; a model that does not load throws.
 */
export async function processSlide(job: SlideJob, ctx: SlideContext): Promise<SlideSummary> {
  const { input } = job;
  const dir = join(resolve(job.out), input.id);
  const keys = slideKeys(input, ctx.settings);
  const claim = claimSlide(input, dir, keys, ctx.settings.retryFailed);
  if (!claim.claimed) return claim.summary;
  const { summary } = claim;
  try {
    // The model first: a bad --weights or --vocab should stop the run before hours of segmentation.
    const model = await ctx.model();
    const classes = await ctx.classes();
    const t = performance.now();
    try {
      await makeOutputs(job, dir, { model, classes, rescoreOnly: claim.rescoreOnly, summary }, ctx);
    } catch (err) {
      const f = failure(err);
      Object.assign(summary, { status: 'failed', error: f.error, error_kind: f.kind });
      writeFailedMarker(dir, keys.embedKey, f);
      return summary;
    } finally {
      summary.seconds += (performance.now() - t) / 1000;
    }
    ctx.onStage?.(input.id, 'done');
    writeDoneMarker(dir, keys, {
      n_patches: summary.n_patches ?? 0,
      seconds: summary.seconds,
      model: model.name,
      untrained: model.untrained,
    });
    return summary;
  } finally {
    claim.release();
  }
}

interface Work {
  model: VisionLanguageModel;
  classes: ScoringClasses | undefined;
  /** features.h5 is current: only the scores are redone. */
  rescoreOnly: boolean;
  summary: SlideSummary;
}

async function makeOutputs(job: SlideJob, dir: string, w: Work, ctx: SlideContext): Promise<void> {
  const { input } = job;
  const { settings } = ctx;
  if (!w.rescoreOnly) {
    rmSync(join(dir, 'done.json'), { force: true });
    rmSync(join(dir, 'failed.json'), { force: true });
    const grid = await segmentAndPatch(input, dir, ctx);
    w.summary.n_patches = grid.count;
    ctx.patches?.add(grid.count);
    ctx.onStage?.(input.id, 'embed');
    await embedSlide({
      slideId: input.id,
      slidePath: input.path,
      dir,
      grid,
      model: w.model,
      batchSize: settings.batchSize,
      pool: ctx.pool(),
      ...(ctx.patches ? { progress: ctx.patches.progress } : {}),
    });
  }
  if (w.classes && settings.scoring) {
    ctx.onStage?.(input.id, 'score');
    const feats = await readFeaturesH5(join(dir, 'features.h5'));
    w.summary.n_patches = feats.count;
    await scoreSlideFeatures(feats, { id: input.id, path: input.path, dir }, w.classes, settings.scoring);
  }
}

/** Opens the slide for the two stages that read it, and closes it (a run may hold thousands). */
async function segmentAndPatch(input: SlideInput, dir: string, ctx: SlideContext): Promise<PatchGrid> {
  const slide = await openSlide(input.path);
  try {
    const note = slide.properties[NOTE_PROPERTY];
    if (note) ctx.log(`${input.id}: ${note}`);
    ctx.onStage?.(input.id, 'segment');
    const seg = await segmentSlide(slide, dir, ctx.settings.embed.segment);
    ctx.onStage?.(input.id, 'patch');
    const grid = await patchSlide(slide, seg, dir, {
      patch: ctx.settings.embed.patch,
      overviewSize: ctx.settings.embed.overviewSize,
      slidePath: input.path,
    });
    for (const warning of grid.warnings) ctx.log(`${input.id}: ${warning}`);
    return grid;
  } finally {
    slide.close();
  }
}
