// Labelled image sets for evaluation: a labels CSV (`image_name,label`; tab, pipe or comma detected
// from the header) with an image root, or a folder with one subfolder per class (torchvision's
// ImageFolder layout, which is how Kather CRC, LC25000 and others unpack).
import { readdirSync, statSync } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { ManifestError, findColumn, readDelimited } from './delimited.ts';
import { IMAGE_COLUMNS } from './pairs.ts';

export interface LabelledImage {
  /** Resolved path. */
  path: string;
  /** As written in the labels file (or relative to the folder). */
  name: string;
  label: string;
  /** 1-based line of the labels file; 0 for a folder layout. */
  line: number;
}

export interface LabelledSet {
  source: string;
  root: string;
  items: LabelledImage[];
  /** Distinct labels, sorted (code-point order, as Python's sorted()). */
  classes: string[];
}

export const LABEL_COLUMNS = ['label', 'class', 'target', 'labels', 'class_name'] as const;

export interface LabelsReadOptions {
  /** Image root (default: the labels file's folder). */
  root?: string;
  /** For a folder layout: which folder names the class (default 'top'). */
  labelFrom?: LabelFrom;
  imageColumn?: string;
  labelColumn?: string;
}

const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function withClasses(source: string, root: string, items: LabelledImage[]): LabelledSet {
  if (items.length === 0) throw new ManifestError(source, undefined, 'no labelled images');
  return { source, root, items, classes: [...new Set(items.map((i) => i.label))].sort(byCodePoint) };
}

export async function readLabelledImages(file: string, opts: LabelsReadOptions = {}): Promise<LabelledSet> {
  const root = resolve(opts.root ?? dirname(file));
  const probe = await readDelimited(file);
  await probe.rows.return(undefined);
  const imageCol = findColumn(probe, file, 'image', IMAGE_COLUMNS, opts.imageColumn);
  const labelCol = findColumn(probe, file, 'label', LABEL_COLUMNS, opts.labelColumn);
  const table = await readDelimited(file);
  const items: LabelledImage[] = [];
  for await (const row of table.rows) {
    const name = row.values[imageCol]!.trim();
    const label = row.values[labelCol]!.trim();
    if (name === '') throw new ManifestError(file, row.line, 'empty image name');
    if (label === '') throw new ManifestError(file, row.line, `empty label for ${name}`);
    items.push({ path: isAbsolute(name) ? name : resolve(root, name), name, label, line: row.line });
  }
  return withClasses(resolve(file), root, items);
}

export const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.tif', '.tiff', '.webp', '.bmp', '.gif']);

/**
 * Where a folder layout's label comes from: 'top' — the subfolder of the root an image is under
 * (torchvision's ImageFolder; Kather CRC: ROOT/ADI/…); 'parent' — the folder the image is in
 * (LC25000: ROOT/lung_image_sets/lung_aca/…).
 */
export type LabelFrom = 'top' | 'parent';

/** A folder of class subfolders: every image below `root/<class>/` (recursively) has that class. */
export function readImageFolder(root: string, labelFrom: LabelFrom = 'top'): LabelledSet {
  const abs = resolve(root);
  const items: LabelledImage[] = [];
  const walk = (dir: string, rel: string, top: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
      byCodePoint(a.name, b.name),
    )) {
      const path = join(dir, entry.name);
      const name = `${rel}/${entry.name}`;
      if (entry.isDirectory()) walk(path, name, top);
      else if (IMAGE_EXTENSIONS.has(extname(entry.name).toLowerCase()))
        items.push({ path, name, label: labelFrom === 'top' ? top : basename(dir), line: 0 });
    }
  };
  for (const entry of readdirSync(abs, { withFileTypes: true })) {
    if (entry.isDirectory()) walk(join(abs, entry.name), entry.name, entry.name);
  }
  if (items.length === 0)
    throw new ManifestError(abs, undefined, 'no images in class subfolders (expected ROOT/<class>/<image>)');
  items.sort((a, b) => byCodePoint(a.name, b.name));
  return withClasses(abs, abs, items);
}

/** A labels file, or a class-per-subfolder folder when `source` is a directory. */
export async function readLabelled(source: string, opts: LabelsReadOptions = {}): Promise<LabelledSet> {
  let dir: boolean;
  try {
    dir = statSync(source).isDirectory();
  } catch (err) {
    throw new ManifestError(source, undefined, `cannot read: ${(err as Error).message}`);
  }
  return dir ? readImageFolder(source, opts.labelFrom) : readLabelledImages(source, opts);
}
