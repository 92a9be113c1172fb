// What the batch follower (`kep wsi run --queue`), the workers (`kep worker`) and `kep wsi status`
// agree on: the queue's name and key prefix, how a redis:// URL becomes a BullMQ connection, what a
// slide job carries (the slide, the OUT folder, the resolved settings and the model, all plain
// JSON) and what a finished job returns (the slide's summary and the model that made it).
//
// A job's id is the slide's input key: a hash of the OUT folder, the slide's path and the keys of
// its outputs (slideKeys: the file's size and mtime, the settings, the model). Adding a job whose
// id exists is a no-op in BullMQ, so enqueueing a batch twice adds nothing, and a changed slide or
// setting is a new job.
import type { RedisOptions } from 'bullmq';
import { resolve } from 'node:path';
import { z } from 'zod';
import type { ModelSource } from '../embed/types.ts';
import { PRECISIONS } from '../engine/quantize.ts';
import type { SlideSummary } from './run-summary.ts';
import type { SlideInput } from './slide-inputs.ts';
import { sha256, type SlideSettings, slideKeys } from './slide-settings.ts';

export const QUEUE_NAME = 'kep-slides';
/** Key prefix in Redis: kep's keys never mix with another BullMQ application's. */
export const QUEUE_PREFIX = 'kep';
/** Version of the job data; a worker refuses a job of another version instead of guessing. */
export const JOB_VERSION = 1;
/** Attempts of a slide before its job is failed (a retry after a crash or a transient error). */
export const DEFAULT_ATTEMPTS = 3;
/** Ceiling of the reconnection backoff while Redis is unreachable. */
export const MAX_RECONNECT_MS = 5_000;

/** Parses redis://[user:pass@]host:port[/db] (rediss:// for TLS) into BullMQ connection options. */
export function queueConnection(url: string, opts: { giveUpAfterMs?: number } = {}): RedisOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`--queue ${url}: expected a URL such as redis://127.0.0.1:6379 or redis://host:6379/2`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
    throw new Error(`--queue ${url}: expected redis:// or rediss://, not ${u.protocol}//`);
  if (!u.hostname) throw new Error(`--queue ${url}: no host`);
  const db = u.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d{1,2}$/.test(db))
    throw new Error(`--queue ${url}: the database is a number (redis://host:port/DB), not "${db}"`);
  let since: number | undefined;
  return {
    url,
    // BullMQ's workers need commands to wait for a reconnection rather than fail after N tries.
    maxRetriesPerRequest: null,
    // Reconnect with a backoff of at most MAX_RECONNECT_MS between tries: forever for workers and
    // the follower, for giveUpAfterMs for a one-off look (`kep wsi status`), whose commands then fail.
    retryStrategy: (times: number) => {
      if (times === 1) since = Date.now();
      if (opts.giveUpAfterMs !== undefined && Date.now() - (since ?? Date.now()) > opts.giveUpAfterMs)
        return null;
      return Math.min(250 * 2 ** Math.min(times, 10), MAX_RECONNECT_MS);
    },
  };
}

const inputSchema = z.object({
  id: z.string().min(1).max(1000),
  path: z.string().min(1).max(4096),
  label: z.string().max(1000).optional(),
  problem: z.object({ kind: z.enum(['not-found', 'unreadable']), reason: z.string() }).optional(),
});

/** The model as a job carries it: absolute paths (workers may start elsewhere), no thread count. */
const modelSchema = z.object({
  dir: z.string().optional(),
  name: z.string().optional(),
  weights: z.string().optional(),
  keyMap: z.string().optional(),
  vocab: z.string().optional(),
  imageNorm: z.enum(['clip', 'imagenet']).optional(),
  precision: z.enum(PRECISIONS).optional(),
});

export const slideJobSchema = z.object({
  v: z.literal(JOB_VERSION),
  input: inputSchema,
  /** Absolute: the shared file system path every worker writes the slide's folder under. */
  out: z.string().min(1),
  settings: z
    .object({
      embed: z.object({ model: z.record(z.string(), z.unknown()) }).passthrough(),
      scoring: z.object({ prompts: z.string() }).passthrough().nullable(),
      promptsFile: z.string().nullable(),
      batchSize: z.number().int().positive(),
      retryFailed: z.boolean(),
    })
    .passthrough(),
  model: modelSchema,
});

export interface SlideJobData {
  v: typeof JOB_VERSION;
  input: SlideInput;
  out: string;
  settings: SlideSettings;
  model: Omit<ModelSource, 'spec' | 'threads' | 'runtime'>;
}

/** Reads a job's data; throws with what is wrong (a worker fails such a job at once). */
export function parseSlideJob(data: unknown): SlideJobData {
  const parsed = slideJobSchema.safeParse(data);
  if (!parsed.success)
    throw new Error(`not a kep slide job of version ${JOB_VERSION}: ${z.prettifyError(parsed.error)}`);
  // The settings were made by resolveSlideSettings on the enqueuing side; the checks above cover
  // what a worker reads before it hands them to processSlide.
  return parsed.data as unknown as SlideJobData;
}

/** The model with absolute paths and without what is the worker's own choice (threads). */
export function portableModel(source: ModelSource): SlideJobData['model'] {
  if (source.spec) throw new Error('a queued run needs a registry name or a model folder (--model)');
  const abs = (p: string | undefined) => (p === undefined ? undefined : resolve(p));
  const m = {
    dir: abs(source.dir),
    name: source.name,
    weights: abs(source.weights),
    keyMap: source.keyMap,
    vocab: abs(source.vocab),
    imageNorm: source.imageNorm,
    precision: source.precision,
  };
  return Object.fromEntries(Object.entries(m).filter(([, v]) => v !== undefined));
}

/** The slide's input key: one job per (OUT, slide file as it is now, settings, model). */
export function slideJobId(input: SlideInput, out: string, settings: SlideSettings): string {
  const keys = input.problem ? { problem: input.problem.kind } : slideKeys(input, settings);
  // BullMQ ids must not be integers or contain ':'; "s" + hex is neither.
  return 's' + sha256(JSON.stringify({ out: resolve(out), path: resolve(input.path), keys })).slice(0, 40);
}

export function slideJob(
  input: SlideInput,
  out: string,
  settings: SlideSettings,
  model: ModelSource,
): SlideJobData {
  return {
    v: JOB_VERSION,
    input: { ...input, path: resolve(input.path) },
    out: resolve(out),
    settings,
    model: portableModel(model),
  };
}

/** What a worker returns for a finished job. */
export interface SlideJobResult {
  summary: SlideSummary;
  /** The model that computed the outputs (absent when the slide was skipped without loading it). */
  model?: { name: string; untrained: boolean; source: string };
}

export const slideJobResultSchema = z.object({
  summary: z
    .object({
      slide: z.string(),
      path: z.string(),
      status: z.enum(['done', 'skipped', 'failed', 'locked']),
      n_patches: z.number().nullable(),
      seconds: z.number(),
      error: z.string().nullable(),
    })
    .passthrough(),
  model: z.object({ name: z.string(), untrained: z.boolean(), source: z.string() }).optional(),
});

/** The stage a worker last reported for a job (its BullMQ progress). */
export const stageProgressSchema = z.object({ stage: z.string() });
