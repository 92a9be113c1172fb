// Which slides a batch run covers: every file of a folder, or the rows of a slide list
// (CSV/TSV with a header: a slide column of paths, relative to the list's folder or --root, and an
// optional label column). Labels can also come from a separate table (`slide,label`), matched on
// the slide's id (its file name without extension) or its file name.
import { lstatSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { ManifestError, findColumn, readDelimited } from '../data/delimited.ts';
import { LABEL_COLUMNS } from '../data/labelled.ts';

export interface SlideInput {
  /** Output folder name: the file name without its extension(s) such as .svs or .ome.tiff. */
  id: string;
  path: string;
  label?: string;
  /** Why the entry cannot be a slide (a dangling link, no permission): the run records it as failed. */
  problem?: { kind: 'not-found' | 'unreadable'; reason: string };
}

export const SLIDE_COLUMNS = [
  'slide',
  'path',
  'slide_path',
  'file',
  'filename',
  'slide_id',
  'image',
  'image_name',
] as const;

/** Files in a slide folder that are notes or manifests, not slides. */
const NOT_SLIDES = new Set([
  '.csv',
  '.tsv',
  '.json',
  '.md',
  '.txt',
  '.xml',
  '.log',
  '.lock',
  '.h5',
  '.geojson',
]);

/** "a/b/TCGA-01.svs" → "TCGA-01"; "x.ome.tiff" → "x". */
export function slideId(path: string): string {
  const name = basename(path);
  const ome = /\.ome\.tiff?$/i.exec(name);
  if (ome) return name.slice(0, ome.index);
  const ext = extname(name);
  return ext ? name.slice(0, -ext.length) : name;
}

/** Why a folder entry cannot be examined: a dangling link says where it points. */
function entryProblem(path: string, err: unknown): NonNullable<SlideInput['problem']> {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (code === 'ENOENT' || code === 'ELOOP') {
    try {
      if (lstatSync(path).isSymbolicLink())
        return {
          kind: 'not-found',
          reason:
            code === 'ELOOP'
              ? 'a symbolic link that loops'
              : `a dangling symbolic link (to ${readlinkSync(path)}, which does not exist)`,
        };
    } catch {
      // Gone since the listing: reported as missing below.
    }
    return { kind: 'not-found', reason: 'disappeared while the folder was listed' };
  }
  return { kind: 'unreadable', reason: `cannot examine the entry: ${(err as Error).message}` };
}

/** The folder's files; an entry that cannot be examined is listed with its problem, not thrown. */
function listFolder(dir: string): SlideInput[] {
  const out: SlideInput[] = [];
  const names = readdirSync(dir)
    .filter((f) => !f.startsWith('.') && !NOT_SLIDES.has(extname(f).toLowerCase()))
    .sort();
  for (const name of names) {
    const path = join(dir, name);
    let isFile: boolean;
    try {
      isFile = statSync(path).isFile();
    } catch (err) {
      out.push({ id: slideId(path), path, problem: entryProblem(path, err) });
      continue;
    }
    if (isFile) out.push({ id: slideId(path), path });
  }
  return out;
}

/** A one-column list (header, then one path per line) has no delimiter for readDelimited to find. */
function oneColumn(file: string): string[] | undefined {
  const lines = readFileSync(file, 'utf8')
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/);
  const header = lines[0]?.trim() ?? '';
  if (/[\t|,]/.test(header)) return undefined;
  if (!(SLIDE_COLUMNS as readonly string[]).includes(header.toLowerCase()))
    throw new ManifestError(
      file,
      1,
      `no slide column: the header is "${header}"; expected ${SLIDE_COLUMNS.map((n) => `"${n}"`).join(' or ')}`,
    );
  return lines
    .slice(1)
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

async function listTable(file: string, root: string): Promise<SlideInput[]> {
  const single = oneColumn(file);
  if (single) {
    if (single.length === 0) throw new ManifestError(file, undefined, 'no slides listed');
    return single.map((name) => {
      const path = isAbsolute(name) ? name : resolve(root, name);
      return { id: slideId(path), path };
    });
  }
  const probe = await readDelimited(file);
  await probe.rows.return(undefined);
  const slideCol = findColumn(probe, file, 'slide', SLIDE_COLUMNS);
  const lower = probe.columns.map((c) => c.toLowerCase());
  const labelCol = LABEL_COLUMNS.map((n) => lower.indexOf(n)).find((i) => i >= 0);
  const table = await readDelimited(file);
  const out: SlideInput[] = [];
  for await (const row of table.rows) {
    const name = row.values[slideCol]!.trim();
    if (name === '') throw new ManifestError(file, row.line, 'empty slide path');
    const path = isAbsolute(name) ? name : resolve(root, name);
    const label = labelCol === undefined ? undefined : row.values[labelCol]!.trim();
    out.push({ id: slideId(path), path, ...(label ? { label } : {}) });
  }
  if (out.length === 0) throw new ManifestError(file, undefined, 'no slides listed');
  return out;
}

/** slide id or file name → label. */
export async function readSlideLabels(file: string): Promise<Map<string, string>> {
  const probe = await readDelimited(file);
  await probe.rows.return(undefined);
  const slideCol = findColumn(probe, file, 'slide', SLIDE_COLUMNS);
  const labelCol = findColumn(probe, file, 'label', LABEL_COLUMNS);
  const table = await readDelimited(file);
  const labels = new Map<string, string>();
  for await (const row of table.rows) {
    const slide = row.values[slideCol]!.trim();
    const label = row.values[labelCol]!.trim();
    if (slide === '' || label === '') throw new ManifestError(file, row.line, 'empty slide or label');
    const id = slideId(slide);
    const before = labels.get(id);
    if (before !== undefined && before !== label)
      throw new ManifestError(file, row.line, `slide ${id} is labelled both "${before}" and "${label}"`);
    labels.set(id, label);
  }
  return labels;
}

export interface SlideListOptions {
  /** Folder that relative paths in a slide list are resolved against (default: the list's folder). */
  root?: string;
  /** A `slide,label` table; overrides labels given in the list itself. */
  labels?: string;
}

export async function listSlides(input: string, opts: SlideListOptions = {}): Promise<SlideInput[]> {
  let stat;
  try {
    stat = statSync(input);
  } catch {
    throw new Error(
      `${input}: no such file or folder (expected a folder of slides or a slide list .csv/.tsv)`,
    );
  }
  const slides = stat.isDirectory()
    ? listFolder(input)
    : await listTable(input, resolve(opts.root ?? dirname(input)));
  if (slides.length === 0) throw new Error(`${input}: no slide files`);
  // A slide listed twice is processed once; two different files with one output name are an error.
  const byId = new Map<string, SlideInput>();
  for (const s of slides) {
    const other = byId.get(s.id);
    if (other === undefined) byId.set(s.id, s);
    else if (other.path !== s.path)
      throw new Error(
        `${input}: two slides share the output name "${s.id}" (${other.path} and ${s.path}); rename one`,
      );
  }
  const unique = [...byId.values()];
  if (opts.labels) {
    const labels = await readSlideLabels(opts.labels);
    for (const s of unique) {
      const label = labels.get(s.id) ?? labels.get(slideId(basename(s.path)));
      if (label !== undefined) s.label = label;
    }
  }
  return unique;
}
