// `kep wsi run … --queue redis://…`: the batch of wsi-run.ts, with the slides done by `kep worker`
// processes (this machine or others) instead of this one. The inputs are listed and checked here,
// as in-process, then one job per slide is enqueued (queue-enqueue.ts), followed until finished
// (queue-follow.ts), and summary.json/md are written by the same report as the in-process run.
import { Queue } from 'bullmq';
import { mkdirSync } from 'node:fs';
import { reportBatch } from './batch-report.ts';
import { enqueueBatch, type EnqueueOptions } from './queue-enqueue.ts';
import { followBatch } from './queue-follow.ts';
import {
  QUEUE_NAME,
  QUEUE_PREFIX,
  queueConnection,
  type SlideJobData,
  type SlideJobResult,
} from './slide-queue.ts';
import { prepareBatch, type WsiRunOptions, type WsiRunResult } from './wsi-run.ts';

export interface QueuedRunOptions extends WsiRunOptions, Pick<EnqueueOptions, 'attempts' | 'backoffMs'> {
  /** redis://host:port[/db] */
  queue: string;
  /** false: enqueue and return without following (default true). */
  wait?: boolean;
  pollMs?: number;
}

export type QueuedRunResult =
  ({ waited: true } & WsiRunResult) | { waited: false; total: number; added: number; retried: number };

export function openSlideQueue(
  url: string,
  opts: { giveUpAfterMs?: number } = {},
): Queue<SlideJobData, SlideJobResult> {
  return new Queue<SlideJobData, SlideJobResult>(QUEUE_NAME, {
    connection: queueConnection(url, opts),
    prefix: QUEUE_PREFIX,
  });
}

export async function runQueuedBatch(o: QueuedRunOptions): Promise<QueuedRunResult> {
  queueConnection(o.queue); // a bad URL is an error before anything is read
  const batch = await prepareBatch(o);
  mkdirSync(batch.out, { recursive: true });
  const log = o.log ?? (() => {});
  const queue = openSlideQueue(o.queue);
  // Errors while connecting are reported by the follower; until then, say it once here.
  let told = false;
  const early = (err: Error): void => {
    if (!told) log(`queue unreachable, retrying (${err.message})`);
    told = true;
  };
  queue.on('error', early);
  try {
    const retryFailed = o.retryFailed ?? false;
    const enq = await enqueueBatch(queue, batch, { ...o, model: o.model, retryFailed });
    queue.off('error', early);
    log(
      `queue: ${enq.jobs.length} slide${enq.jobs.length === 1 ? '' : 's'}, ${enq.added} enqueued` +
        (enq.retried ? `, ${enq.retried} failed ones retried` : '') +
        `, ${enq.jobs.length - enq.added - enq.retried} already in the queue`,
    );
    if (o.wait === false)
      return { waited: false, total: enq.jobs.length, added: enq.added, retried: enq.retried };
    const followed = await followBatch(queue, enq.jobs, {
      started: batch.started,
      ...(o.pollMs !== undefined ? { pollMs: o.pollMs } : {}),
      ...(o.progress !== undefined ? { progress: o.progress } : {}),
      ...(o.attempts !== undefined ? { attempts: o.attempts } : {}),
      ...(o.backoffMs !== undefined ? { backoffMs: o.backoffMs } : {}),
      log,
    });
    const report = reportBatch({
      out: batch.out,
      started: batch.started,
      slides: followed.slides,
      settings: batch.settings,
      ...(batch.promptSets ? { promptSets: batch.promptSets } : {}),
      model: followed.model,
      source: o.model,
    });
    return { waited: true, ...report };
  } finally {
    await queue.close();
  }
}
