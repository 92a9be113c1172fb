// What `kep serve` shows from a folder: the whole-slide run in it (summary.json and one folder per
// slide, as `kep wsi run` writes them: docs/wsi.md) and the training runs under it (any folder with a
// metrics.jsonl, as S1/S2 write them). A folder that is not what it should be is described, not
// crashed on: every problem found becomes a line of `problems`, which the app shows as its page.
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { z } from 'zod';
import { PRECISIONS } from '../engine/quantize.ts';

const slideSchema = z.looseObject({
  slide: z.string().min(1),
  path: z.string(),
  status: z.string(),
  n_patches: z.number().nullable().optional(),
  error: z.string().nullable().optional(),
  label: z.string().optional(),
  prediction: z.string().optional(),
});

const modelSettingsSchema = z.looseObject({
  name: z.string().nullable().optional(),
  dir: z.string().nullable().optional(),
  weights: z.string().nullable().optional(),
  keyMap: z.string().nullable().optional(),
  vocab: z.string().nullable().optional(),
  precision: z.enum(PRECISIONS).optional(),
});

export const summarySchema = z.looseObject({
  model: z.string(),
  untrained: z.boolean(),
  model_source: z.string().optional(),
  settings: z.looseObject({ model: modelSettingsSchema.optional() }).optional(),
  slides: z.array(slideSchema),
});
export type RunSummaryFile = z.infer<typeof summarySchema>;
export type ModelSettings = z.infer<typeof modelSettingsSchema>;

export interface SlideEntry {
  /** The slide's folder name in the run (also its id in URLs). */
  id: string;
  dir: string;
  status: string;
  /** The slide file, when it can still be found. */
  slidePath: string | undefined;
  nPatches: number | null;
  error: string | null;
  label: string | undefined;
  prediction: string | undefined;
  /** Files of the slide folder the app may fetch (overview.png, heatmap-*.png, tissue.geojson). */
  files: string[];
  problems: string[];
}

export interface TrainingRun {
  /** Path relative to the served folder, '/'-separated (also its id in URLs). */
  id: string;
  dir: string;
}

export interface RunFolder {
  root: string;
  /** The folder holding summary.json (root itself or one folder below it). */
  wsiDir: string | undefined;
  summary: RunSummaryFile | undefined;
  slides: SlideEntry[];
  trainingRuns: TrainingRun[];
  problems: string[];
}

/** Slide ids and file names the server accepts: what `kep wsi run` writes, nothing that can climb. */
export const SAFE_NAME = /^[\w][\w.+-]{0,199}$/;
const SERVED_FILE = /^(overview\.png|tissue\.geojson|heatmap-[\w.+-]+\.png)$/;
const MAX_SCAN_DEPTH = 3;
const MAX_SCANNED_DIRS = 2000;

function readSummary(dir: string, problems: string[]): RunSummaryFile | undefined {
  const file = join(dir, 'summary.json');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    problems.push(
      `${file}: ${(err as NodeJS.ErrnoException).code ? 'cannot read' : 'not valid JSON'} (${(err as Error).message})`,
    );
    return undefined;
  }
  const parsed = summarySchema.safeParse(raw);
  if (!parsed.success) {
    for (const i of parsed.error.issues)
      problems.push(`${file}: ${i.path.join('.') || '(file)'}: ${i.message}`);
    return undefined;
  }
  return parsed.data;
}

/** The slide file named in summary.json: absolute, or relative to where the run was started (unknown:
 * tried from here, from the run folder and from its parent). */
function findSlideFile(path: string, wsiDir: string): string | undefined {
  const tries = isAbsolute(path)
    ? [path]
    : [resolve(path), resolve(wsiDir, path), resolve(dirname(wsiDir), path)];
  return tries.find((p) => existsSync(p) && statSync(p).isFile());
}

function slideEntry(s: z.infer<typeof slideSchema>, wsiDir: string): SlideEntry {
  const problems: string[] = [];
  const dir = join(wsiDir, s.slide);
  if (!SAFE_NAME.test(s.slide))
    problems.push(`summary.json names a slide "${s.slide}" that is not a plain folder name`);
  const files =
    SAFE_NAME.test(s.slide) && existsSync(dir) && statSync(dir).isDirectory()
      ? readdirSync(dir).filter((f) => SERVED_FILE.test(f))
      : [];
  const slidePath = findSlideFile(s.path, wsiDir);
  if (!slidePath)
    problems.push(`the slide file ${s.path} is no longer there: no tiles, only the stored overview`);
  if ((s.status === 'done' || s.status === 'skipped') && !existsSync(join(dir, 'features.h5')))
    problems.push(`${join(dir, 'features.h5')} is missing: no scores or search for this slide`);
  return {
    id: s.slide,
    dir,
    status: s.status,
    slidePath,
    nPatches: s.n_patches ?? null,
    error: s.error ?? null,
    label: s.label,
    prediction: s.prediction,
    files,
    problems,
  };
}

/** Folders under root (depth ≤ 3, links not followed) holding metrics.jsonl. */
function findTrainingRuns(root: string): TrainingRun[] {
  const found: TrainingRun[] = [];
  let scanned = 0;
  const walk = (dir: string, depth: number): void => {
    if (++scanned > MAX_SCANNED_DIRS) return;
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    if (entries.some((e) => e.isFile() && e.name === 'metrics.jsonl'))
      found.push({ id: relative(root, dir).split(sep).join('/') || '.', dir });
    if (depth >= MAX_SCAN_DEPTH) return;
    for (const e of entries)
      if (e.isDirectory() && SAFE_NAME.test(e.name) && e.name !== 'checkpoints')
        walk(join(dir, e.name), depth + 1);
  };
  walk(root, 0);
  return found.sort((a, b) => (a.id < b.id ? -1 : 1));
}

function isWsiSummary(dir: string): boolean {
  const file = join(dir, 'summary.json');
  if (!existsSync(file)) return false;
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as { slides?: unknown; metrics?: unknown };
    return Array.isArray(v.slides) || !existsSync(join(dir, 'metrics.jsonl'));
  } catch {
    return !existsSync(join(dir, 'metrics.jsonl'));
  }
}

/** The whole-slide run: root itself when it has a run's summary.json, else its one subfolder that has
 * (training runs keep a summary.json beside their metrics.jsonl: those are not it). */
function findWsiDir(root: string): string | undefined {
  if (isWsiSummary(root)) return root;
  const subs = readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && SAFE_NAME.test(e.name) && isWsiSummary(join(root, e.name)))
    .map((e) => join(root, e.name));
  return subs.length === 1 ? subs[0] : undefined;
}

export function readRunFolder(path: string): RunFolder {
  const problems: string[] = [];
  const empty = (root: string): RunFolder => ({
    root,
    wsiDir: undefined,
    summary: undefined,
    slides: [],
    trainingRuns: [],
    problems,
  });
  if (!existsSync(path)) {
    problems.push(`${path}: no such folder`);
    return empty(resolve(path));
  }
  if (!statSync(path).isDirectory()) {
    problems.push(`${path}: not a folder (kep serve takes the --out folder of kep wsi run)`);
    return empty(resolve(path));
  }
  const root = realpathSync(path);
  const wsiDir = findWsiDir(root);
  const summary = wsiDir ? readSummary(wsiDir, problems) : undefined;
  const slides = summary && wsiDir ? summary.slides.map((s) => slideEntry(s, wsiDir)) : [];
  const trainingRuns = findTrainingRuns(root);
  if (!wsiDir && trainingRuns.length === 0)
    problems.push(
      `${root}: neither a whole-slide run (no summary.json here or in one folder below; make one with kep wsi run SLIDES --out ${path}) nor a folder of training runs (no metrics.jsonl)`,
    );
  return { root, wsiDir, summary, slides, trainingRuns, problems };
}
