// Following a queued batch until every slide's job is finished: polls each unfinished job's state,
// shows how many slides are waiting, in which stage the active ones are, how many are finished and
// how many workers are connected, and turns each finished job into the slide's summary line, the
// same as the in-process run writes. Polling (not events) because it survives a Redis restart: a
// job that has vanished (Redis restarted without persistence) is added again, and the worker that
// takes it finds the slide's done marker if it was finished (nothing lost, nothing redone).
import type { Queue } from 'bullmq';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { createProgress, type Progress } from '../util/progress.ts';
import { jobOptions, type EnqueueOptions, type QueuedSlide } from './queue-enqueue.ts';
import type { SlideSummary } from './run-summary.ts';
import {
  type SlideJobData,
  type SlideJobResult,
  slideJobResultSchema,
  stageProgressSchema,
} from './slide-queue.ts';

export interface FollowOptions extends Pick<EnqueueOptions, 'attempts' | 'backoffMs'> {
  /** When this run started: a job finished before it is reported as skipped (an earlier run's). */
  started: Date;
  /** Poll interval (default 1 s). */
  pollMs?: number;
  /** Progress bar on stderr (default: when it is a terminal). */
  progress?: boolean;
  log: (line: string) => void;
}

export interface FollowResult {
  slides: SlideSummary[];
  /** The model the workers reported (from any slide they computed). */
  model?: NonNullable<SlideJobResult['model']>;
}

interface Tally {
  waiting: number;
  active: number;
  stages: Map<string, number>;
}

/** A finished job as the slide's summary line; undefined while it is not finished (exported for tests). */
export function finished(
  j: QueuedSlide,
  state: string,
  job: { returnvalue: unknown; failedReason?: string; finishedOn?: number; attemptsMade: number },
  started: Date,
): { summary: SlideSummary; model?: SlideJobResult['model'] } | undefined {
  const { input } = j.data;
  if (state === 'failed') {
    const reason = job.failedReason ?? 'failed';
    return {
      summary: {
        slide: input.id,
        path: input.path,
        status: 'failed',
        n_patches: null,
        seconds: 0,
        error: `${reason} (after ${job.attemptsMade} attempt${job.attemptsMade === 1 ? '' : 's'})`,
        error_kind: input.problem?.kind ?? 'error',
        ...(input.label !== undefined ? { label: input.label } : {}),
      },
    };
  }
  if (state !== 'completed') return undefined;
  // The job is read first and its state after: a job that completed in between is 'completed' here
  // with the return value of before (null). The next poll reads it whole.
  if (job.returnvalue === null || job.returnvalue === undefined) return undefined;
  const parsed = slideJobResultSchema.safeParse(job.returnvalue);
  if (!parsed.success)
    throw new Error(
      `slide job ${j.id} (${input.id}): not a kep slide result: ${z.prettifyError(parsed.error)}`,
    );
  const r = parsed.data as SlideJobResult;
  const earlier = (job.finishedOn ?? 0) < started.getTime();
  const summary = earlier ? { ...r.summary, status: 'skipped' as const, seconds: 0 } : r.summary;
  return { summary, ...(r.model && !earlier ? { model: r.model } : {}) };
}

function statusLine(done: number, total: number, t: Tally, workers: number): string {
  const stages = [...t.stages].map(([s, n]) => `${s} ${n}`).join(', ');
  return (
    `queue: ${done}/${total} finished · ${t.waiting} waiting · ${t.active} active` +
    (stages ? ` (${stages})` : '') +
    ` · ${workers} worker${workers === 1 ? '' : 's'}`
  );
}

/** One poll: records newly finished jobs, re-adds vanished ones; returns what is in flight. */
async function poll(
  queue: Queue<SlideJobData, SlideJobResult>,
  pending: QueuedSlide[],
  results: Map<string, { summary: SlideSummary; model?: SlideJobResult['model'] }>,
  o: FollowOptions,
): Promise<Tally> {
  const t: Tally = { waiting: 0, active: 0, stages: new Map() };
  await Promise.all(
    pending.map(async (j) => {
      const job = await queue.getJob(j.id);
      if (!job) {
        await queue.add(j.data.input.id, j.data, jobOptions(j.id, o));
        t.waiting++;
        return;
      }
      const state = await job.getState();
      const f = finished(j, state, job, o.started);
      if (f) results.set(j.id, f);
      else if (state === 'active') {
        t.active++;
        const p = stageProgressSchema.safeParse(job.progress);
        const stage = p.success ? p.data.stage : 'claim';
        t.stages.set(stage, (t.stages.get(stage) ?? 0) + 1);
      } else t.waiting++;
    }),
  );
  return t;
}

export async function followBatch(
  queue: Queue<SlideJobData, SlideJobResult>,
  jobs: QueuedSlide[],
  o: FollowOptions,
): Promise<FollowResult> {
  const results = new Map<string, { summary: SlideSummary; model?: SlideJobResult['model'] }>();
  let unreachable = false;
  const onError = (err: Error): void => {
    if (!unreachable) o.log(`queue unreachable, retrying (${err.message})`);
    unreachable = true;
  };
  queue.on('error', onError);
  const bar: Progress = createProgress({
    label: 'slides',
    total: jobs.length,
    ...(o.progress === undefined ? {} : { enabled: o.progress }),
  });
  let last = '';
  try {
    while (results.size < jobs.length) {
      const pending = jobs.filter((j) => !results.has(j.id));
      // Chunks keep the number of commands in flight bounded on a batch of thousands of slides.
      const tally: Tally = { waiting: 0, active: 0, stages: new Map() };
      for (let i = 0; i < pending.length; i += 200) {
        const t = await poll(queue, pending.slice(i, i + 200), results, o);
        tally.waiting += t.waiting;
        tally.active += t.active;
        for (const [s, n] of t.stages) tally.stages.set(s, (tally.stages.get(s) ?? 0) + n);
      }
      if (unreachable) o.log('queue reachable again');
      unreachable = false;
      bar.update(results.size);
      const line = statusLine(results.size, jobs.length, tally, await queue.getWorkersCount());
      if (line !== last) o.log(line);
      last = line;
      if (results.size < jobs.length) await sleep(o.pollMs ?? 1_000);
    }
  } finally {
    bar.stop();
    queue.off('error', onError);
  }
  const slides = jobs.map((j) => results.get(j.id)!.summary);
  const model = [...results.values()].find((r) => r.model)?.model;
  return { slides, ...(model ? { model } : {}) };
}
