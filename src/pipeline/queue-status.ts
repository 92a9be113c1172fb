// `kep wsi status --queue URL` and `kep wsi retry --queue URL`: what the slide queue holds (counts
// by state, connected workers, and per slide its state, stage, OUT folder and failure reason), and
// sending the failed jobs back to the queue.
import type { Queue } from 'bullmq';
import { stageProgressSchema, type SlideJobData, type SlideJobResult } from './slide-queue.ts';

export const JOB_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'] as const;
export type JobStateName = (typeof JOB_STATES)[number];

export interface QueueSlide {
  slide: string;
  out: string;
  state: JobStateName;
  /** The stage an active job's worker last reported. */
  stage?: string;
  attempts: number;
  /** The completed job's slide status (done, skipped). */
  status?: string;
  error?: string;
}

export interface QueueStatus {
  counts: Record<JobStateName, number>;
  workers: string[];
  slides: QueueSlide[];
  /** Slides left out of the list because a state held more than the limit. */
  omitted: number;
}

/** Counts and per-slide states; at most `limit` slides listed per state (a queue may hold 100,000). */
export async function queueStatus(
  queue: Queue<SlideJobData, SlideJobResult>,
  limit = 1000,
): Promise<QueueStatus> {
  const raw = await queue.getJobCounts(...JOB_STATES);
  const counts = Object.fromEntries(JOB_STATES.map((s) => [s, raw[s] ?? 0])) as Record<JobStateName, number>;
  // BullMQ names a worker's connection "<queue client>:w:<worker name>" (host:pid, queue-worker.ts).
  const workers = (await queue.getWorkers()).map(
    (w) => String(w['rawname'] ?? '').split(':w:')[1] ?? 'worker',
  );
  const slides: QueueSlide[] = [];
  let omitted = 0;
  for (const state of JOB_STATES) {
    omitted += Math.max(0, counts[state] - limit);
    if (counts[state] === 0) continue;
    for (const job of await queue.getJobs([state], 0, limit - 1)) {
      const p = stageProgressSchema.safeParse(job.progress);
      const rv = job.returnvalue as SlideJobResult | null | undefined;
      slides.push({
        slide: job.data?.input?.id ?? String(job.id),
        out: job.data?.out ?? '',
        state,
        ...(state === 'active' && p.success ? { stage: p.data.stage } : {}),
        attempts: job.attemptsMade,
        ...(rv?.summary ? { status: rv.summary.status } : {}),
        ...(state === 'failed' && job.failedReason ? { error: job.failedReason } : {}),
      });
    }
  }
  return { counts, workers, slides, omitted };
}

export function statusText(s: QueueStatus): string {
  const c = s.counts;
  const lines = [
    `${c.waiting + c.prioritized} waiting, ${c.delayed} delayed, ${c.active} active, ` +
      `${c.completed} completed, ${c.failed} failed; ${s.workers.length} worker${s.workers.length === 1 ? '' : 's'}` +
      (s.workers.length ? ` (${s.workers.join(', ')})` : ''),
  ];
  for (const x of s.slides)
    lines.push(
      `  ${x.slide}  ${x.state}${x.stage ? ` (${x.stage})` : ''}${x.status ? ` (${x.status})` : ''}` +
        `${x.error ? `: ${x.error}` : ''}  → ${x.out}`,
    );
  if (s.omitted > 0) lines.push(`  … and ${s.omitted} more (the list stops at the limit per state)`);
  return lines.join('\n') + '\n';
}

/** Sends every failed job back to the queue; returns how many there were. */
export async function retryFailedJobs(queue: Queue<SlideJobData, SlideJobResult>): Promise<number> {
  const n = await queue.getJobCountByTypes('failed');
  if (n > 0) await queue.retryJobs({ state: 'failed', count: 1000 });
  return n;
}
