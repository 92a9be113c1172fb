// `kep worker`: takes slide jobs from the queue and runs processSlide on each, into the OUT folder
// the job names (a path on a file system every worker shares). Heartbeats, stalled-job recovery,
// retries and backoff are BullMQ's: a worker that dies mid-slide stops renewing its job's lock, and
// after the stall interval another worker's check puts the job back; the retry finds the dead
// worker's slide lock stale (lock.ts), removes its temporary files and redoes the slide, while
// every finished file was written atomically and done.json last, so nothing good is overwritten.
//
// A job's outcome:
//   done / skipped      → the job completes with the slide's summary;
//   failed by this try  → the job fails and BullMQ retries it (attempts, exponential backoff); the
//                         retry really retries (retryFailed), the last failure's reason stays;
//   failed before work  → an input problem or an earlier run's failure (failed.json, same inputs):
//                         trying again cannot help, so the job fails at once (UnrecoverableError);
//   locked              → another live process holds the slide: the job waits and looks again
//                         later without using up an attempt (DelayedError).
import { DelayedError, type Job, type RedisOptions, UnrecoverableError, Worker } from 'bullmq';
import { statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { ModelSource, VisionLanguageModel } from '../embed/types.ts';
import { processSlide } from './process-slide.ts';
import type { SlideSummary } from './run-summary.ts';
import { createSlideContext, type OwnedSlideContext, type SlideContext } from './slide-context.ts';
import {
  parseSlideJob,
  QUEUE_NAME,
  QUEUE_PREFIX,
  type SlideJobData,
  type SlideJobResult,
} from './slide-queue.ts';
import { modelIdentity, sha256 } from './slide-settings.ts';

export interface SlideWorkerOptions {
  connection: RedisOptions;
  /** Slides worked on at once (default 1: one slide already keeps the model's threads busy). */
  concurrency?: number;
  /** The model this worker serves; a job enqueued for another model fails with the reason. Default: each job's own. */
  model?: ModelSource;
  /** ONNX Runtime intra-op threads of the models this worker loads. */
  threads?: number;
  /** Patch reader threads (default: cores − 1, at most 4). */
  workers?: number;
  /** How long a silent worker keeps its job before another takes it (BullMQ lockDuration; default 30 s). */
  stallMs?: number;
  /** How long a job whose slide another process holds waits before looking again (default 30 s). */
  lockedRecheckMs?: number;
  loadModel: (source: ModelSource) => Promise<VisionLanguageModel>;
  log: (line: string) => void;
}

export interface SlideWorker {
  readonly worker: Worker<SlideJobData, SlideJobResult>;
  /** Graceful: takes no new job, finishes the current ones, releases the models. */
  close(): Promise<void>;
}

/** One context per distinct (settings, model) of the jobs being worked on; idle ones are closed. */
class Contexts {
  private readonly map = new Map<string, { ctx: OwnedSlideContext; active: number }>();
  constructor(private readonly o: SlideWorkerOptions) {}

  async use<T>(data: SlideJobData, fn: (ctx: SlideContext) => Promise<T>): Promise<T> {
    const key = sha256(JSON.stringify([data.settings, data.model]));
    let entry = this.map.get(key);
    if (!entry) {
      const source: ModelSource = { ...data.model, ...(this.o.threads ? { threads: this.o.threads } : {}) };
      const ctx = createSlideContext({
        settings: data.settings,
        loadModel: () => this.o.loadModel(this.o.model ?? source),
        ...(this.o.workers !== undefined ? { workers: this.o.workers } : {}),
        log: this.o.log,
      });
      entry = { ctx, active: 0 };
      this.map.set(key, entry);
    }
    entry.active++;
    try {
      return await fn(entry.ctx);
    } finally {
      entry.active--;
      await this.closeIdle(key);
    }
  }

  /** A worker serving batch after batch keeps one model, not one per batch it ever saw. */
  private async closeIdle(keep: string): Promise<void> {
    for (const [key, e] of this.map)
      if (key !== keep && e.active === 0) {
        this.map.delete(key);
        await e.ctx.close();
      }
  }

  async closeAll(): Promise<void> {
    const all = [...this.map.values()];
    this.map.clear();
    for (const e of all) await e.ctx.close();
  }
}

/** The job was enqueued for the model this worker serves (when it serves a fixed one). */
function checkModel(data: SlideJobData, served: ModelSource | undefined): void {
  if (!served) return;
  const mine = JSON.stringify(modelIdentity(served));
  const wanted = JSON.stringify(data.settings.embed.model);
  if (mine !== wanted)
    throw new Error(
      `this worker serves model ${served.name ?? served.dir} (${mine}); the job was enqueued for ${wanted}: ` +
        'start a worker without --model (it loads each job’s model) or with the same model',
    );
}

async function runJob(
  job: Job<SlideJobData, SlideJobResult>,
  token: string | undefined,
  contexts: Contexts,
  o: SlideWorkerOptions,
): Promise<SlideJobResult> {
  let data: SlideJobData;
  try {
    data = parseSlideJob(job.data);
  } catch (err) {
    throw new UnrecoverableError((err as Error).message);
  }
  checkModel(data, o.model);
  // A retry after this job's own failure must really retry, not read back its failed.json.
  const retryFailed = data.settings.retryFailed || job.attemptsMade > 0;
  return contexts.use(data, async (shared) => {
    const ctx: SlideContext = {
      ...shared,
      settings: { ...shared.settings, retryFailed },
      onStage: (_slide, stage) => void job.updateProgress({ stage }).catch(() => {}),
    };
    const summary = await processSlide({ input: data.input, out: data.out }, ctx);
    if (summary.status === 'locked') {
      await job.moveToDelayed(Date.now() + (o.lockedRecheckMs ?? 30_000), token);
      throw new DelayedError(`${data.input.id}: ${summary.error}`);
    }
    if (summary.status === 'failed') {
      // seconds is 0 when the claim settled the slide before any work (see the header).
      const reason = summary.error ?? 'failed';
      throw summary.seconds === 0 ? new UnrecoverableError(reason) : new Error(reason);
    }
    const finished = finishedByThisJob(summary, data, job.timestamp);
    const model = finished.status === 'done' ? await ctx.model() : undefined;
    return {
      summary: finished,
      ...(model ? { model: { name: model.name, untrained: model.untrained, source: model.source } } : {}),
    };
  });
}

/**
 * A worker killed after writing a slide's done.json but before the queue heard of it leaves the job
 * to be retried, and the retry finds the slide complete ('skipped'). That slide was finished within
 * this job, by its earlier attempt, so it is reported done: a done marker newer than the job.
 */
function finishedByThisJob(summary: SlideSummary, data: SlideJobData, enqueuedAt: number): SlideSummary {
  if (summary.status !== 'skipped') return summary;
  try {
    const marker = statSync(join(resolve(data.out), data.input.id, 'done.json'));
    return marker.mtimeMs >= enqueuedAt ? { ...summary, status: 'done' } : summary;
  } catch {
    return summary;
  }
}

export function startSlideWorker(o: SlideWorkerOptions): SlideWorker {
  const contexts = new Contexts(o);
  const stallMs = o.stallMs ?? 30_000;
  const worker = new Worker<SlideJobData, SlideJobResult>(
    QUEUE_NAME,
    (job, token) => runJob(job, token, contexts, o),
    {
      connection: o.connection,
      prefix: QUEUE_PREFIX,
      concurrency: o.concurrency ?? 1,
      name: `${hostname()}:${process.pid}`,
      lockDuration: stallMs,
      stalledInterval: stallMs,
      // A slide whose worker died twice is more likely to kill workers than to be unlucky.
      maxStalledCount: 2,
    },
  );
  let down = false;
  worker.on('error', (err) => {
    // Connection errors repeat while Redis is down: say it once, and once when it is back.
    if (!down) o.log(`queue unreachable, retrying (${err.message})`);
    down = true;
  });
  worker.on('ready', () => {
    if (down) o.log('queue reachable again');
    down = false;
  });
  worker.on('failed', (job, err) => {
    if (job && !(err instanceof DelayedError) && err.name !== 'DelayedError')
      o.log(`${job.data.input?.id ?? job.id}: ${err.message} (attempt ${job.attemptsMade})`);
  });
  worker.on('completed', (job, r) => o.log(`${r.summary.slide}: ${r.summary.status}`));
  return {
    worker,
    async close() {
      await worker.close();
      await contexts.closeAll();
    },
  };
}
