// A slide folder's record of what an earlier run finished: done.json (the keys its outputs were made
// with, and the size and SHA-256 of every output it vouches for) and failed.json (why the slide
// could not be processed with those keys). done.json is written last, after every output.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../util/atomic.ts';
import { digestFile, digestProblem, fileDigestSchema } from '../util/file-digest.ts';
import { SlideError } from '../wsi/slide.ts';
import { STATE_VERSION, type SlideKeys } from './slide-settings.ts';

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
export type DoneRecord = z.infer<typeof doneSchema>;

const failedSchema = z.object({ embedKey: z.string(), error: z.string(), kind: z.string() });
export type FailedRecord = z.infer<typeof failedSchema>;

/** Outputs that depend only on the scores (the rest depend on the embedding). */
const isScoreOutput = (name: string): boolean => name === 'scores.json' || /^heatmap-.*\.png$/.test(name);
const isOutput = (name: string): boolean =>
  ['features.h5', 'tissue.geojson', 'overview.png'].includes(name) || isScoreOutput(name);

/** A JSON file that parses and matches its schema, or undefined (missing or damaged alike). */
export function readJson<T>(path: string, schema: z.ZodType<T>): T | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const parsed = schema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export type Assessment =
  | { state: 'complete'; done: DoneRecord }
  | { state: 'rescore'; problem?: string }
  | { state: 'redo'; problem?: string };

/**
 * What an earlier run left for a slide: complete (skip it), features current but scores to redo,
 * or everything to redo; a problem says which recorded output no longer matches its record.
 */
export function assess(dir: string, { embedKey, scoreKey }: SlideKeys): Assessment {
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

/** The failure recorded for these inputs by an earlier run, if any. */
export function earlierFailure(dir: string, embedKey: string): FailedRecord | undefined {
  const failed = readJson(join(dir, 'failed.json'), failedSchema);
  return failed?.embedKey === embedKey ? failed : undefined;
}

/** An error as recorded: SlideError kinds (not-found, corrupt, no-tissue, …) or 'error'. */
export function failure(err: unknown): { error: string; kind: string } {
  if (err instanceof SlideError) return { error: err.message, kind: err.kind };
  return { error: err instanceof Error ? err.message : String(err), kind: 'error' };
}

export function writeFailedMarker(dir: string, embedKey: string, f: { error: string; kind: string }): void {
  writeFileAtomic(join(dir, 'failed.json'), JSON.stringify({ embedKey, ...f }, null, 2) + '\n');
}

/** done.json, vouching for every output now in the folder; written after all of them. */
export function writeDoneMarker(
  dir: string,
  keys: SlideKeys,
  o: { n_patches: number; seconds: number; model: string; untrained: boolean },
): void {
  const record: DoneRecord = {
    version: STATE_VERSION,
    embedKey: keys.embedKey,
    scoreKey: keys.scoreKey,
    n_patches: o.n_patches,
    seconds: o.seconds,
    model: o.model,
    untrained: o.untrained,
    finished: new Date().toISOString(),
    outputs: Object.fromEntries(
      readdirSync(dir)
        .filter(isOutput)
        .sort()
        .map((f) => [f, digestFile(join(dir, f))]),
    ),
  };
  writeFileAtomic(join(dir, 'done.json'), JSON.stringify(record, null, 2) + '\n');
}
