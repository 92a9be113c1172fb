// Enqueueing a batch: one job per slide, its id the slide's input key (slide-queue.ts), so a second
// enqueue of the same batch adds nothing. Two cases where a job is already there but the work is
// not: a completed job whose OUT/<slide>/done.json has since gone (removed and added again: the
// worker redoes the slide), and a failed job when the run asks to retry failures.
import type { JobsOptions, Queue } from 'bullmq';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelSource } from '../embed/types.ts';
import {
  DEFAULT_ATTEMPTS,
  slideJob,
  type SlideJobData,
  slideJobId,
  type SlideJobResult,
} from './slide-queue.ts';
import type { PreparedBatch } from './wsi-run.ts';

export interface QueuedSlide {
  id: string;
  data: SlideJobData;
}

export interface EnqueueOptions {
  model: ModelSource;
  /** Attempts per slide before its job fails (default 3). */
  attempts?: number;
  /** First retry delay; doubled on each further attempt (default 5 s). */
  backoffMs?: number;
  retryFailed?: boolean;
}

export interface EnqueueResult {
  jobs: QueuedSlide[];
  /** Jobs added now (the rest were in the queue already). */
  added: number;
  /** Failed jobs sent back to the queue (--retry-failed). */
  retried: number;
}

/** How long finished jobs are kept: a later run of the same batch finds them (and does no work). */
const KEEP_FINISHED_S = 30 * 24 * 3600;

export function jobOptions(id: string, o: Pick<EnqueueOptions, 'attempts' | 'backoffMs'>): JobsOptions {
  return {
    jobId: id,
    attempts: o.attempts ?? DEFAULT_ATTEMPTS,
    backoff: { type: 'exponential', delay: o.backoffMs ?? 5_000 },
    removeOnComplete: { age: KEEP_FINISHED_S },
    removeOnFail: { age: KEEP_FINISHED_S },
  };
}

export function batchJobs(batch: PreparedBatch, model: ModelSource): QueuedSlide[] {
  const seen = new Set<string>();
  const jobs: QueuedSlide[] = [];
  for (const input of batch.slides) {
    const id = slideJobId(input, batch.out, batch.settings);
    // The same file listed twice is one slide (the in-process run would skip the second).
    if (seen.has(id)) continue;
    seen.add(id);
    jobs.push({ id, data: slideJob(input, batch.out, batch.settings, model) });
  }
  return jobs;
}

export async function enqueueBatch(
  queue: Queue<SlideJobData, SlideJobResult>,
  batch: PreparedBatch,
  o: EnqueueOptions,
): Promise<EnqueueResult> {
  const jobs = batchJobs(batch, o.model);
  const toAdd: QueuedSlide[] = [];
  let retried = 0;
  for (const j of jobs) {
    const existing = await queue.getJob(j.id);
    if (!existing) {
      toAdd.push(j);
      continue;
    }
    const state = await existing.getState();
    if (state === 'completed' && !existsSync(join(j.data.out, j.data.input.id, 'done.json'))) {
      await existing.remove();
      toAdd.push(j);
    } else if (state === 'failed' && o.retryFailed) {
      await existing.retry('failed');
      retried++;
    }
  }
  if (toAdd.length > 0)
    await queue.addBulk(
      toAdd.map((j) => ({ name: j.data.input.id, data: j.data, opts: jobOptions(j.id, o) })),
    );
  return { jobs, added: toAdd.length, retried };
}
