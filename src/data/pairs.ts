// Image–caption manifests, in the two forms training sets are published in:
//   - delimited text with a header, `image_name|caption` (OpenPath, KEP's loaders; tab, pipe or comma
//     detected from the header; a caption may hold the delimiter when it is the last column);
//   - JSONL, one `{"image": …, "caption": …}` object per line (other keys are ignored).
// Image names are relative to an image root (by default the manifest's folder) unless absolute.
// Rows stream; `readPairs` keeps them packed (see PackedStrings) for random access by the sampler.
import { createReadStream } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { textLengthProblem } from '../text/limits.ts';
import { ManifestError, findColumn, readDelimited } from './delimited.ts';
import { PackedStrings } from './packed-strings.ts';

export { ManifestError } from './delimited.ts';

export type PairFormat = 'delimited' | 'jsonl';

export interface PairRecord {
  /** 1-based line in the manifest. */
  line: number;
  /** As written in the manifest (relative to the root unless absolute). */
  image: string;
  caption: string;
}

export interface SkippedRow {
  line: number;
  reason: string;
}

export interface PairReadOptions {
  /** Default: by extension (.jsonl / .ndjson → jsonl, anything else → delimited). */
  format?: PairFormat;
  /** Column names of a delimited manifest (default: image_name/image/filepath/…, caption/text/title). */
  imageColumn?: string;
  captionColumn?: string;
  /**
   * A row with an empty image name or caption: 'error' (default) stops with file:line, 'skip' leaves
   * it out and reports it through onSkip (for scraped captions, where a few empty ones are expected).
   */
  onInvalid?: 'error' | 'skip';
  onSkip?: (row: SkippedRow) => void;
}

export const IMAGE_COLUMNS = ['image_name', 'image', 'filepath', 'filename', 'file', 'path', 'img'] as const;
export const CAPTION_COLUMNS = ['caption', 'text', 'title', 'captions'] as const;

export function pairFormatOf(file: string): PairFormat {
  return /\.(jsonl|ndjson)$/i.test(file) ? 'jsonl' : 'delimited';
}

const jsonlPair = z.looseObject({
  image: z.string({ error: 'expected a string' }),
  caption: z.string({ error: 'expected a string' }),
});

function check(file: string, rec: PairRecord, opts: PairReadOptions): PairRecord | undefined {
  const reason =
    rec.image.trim() === ''
      ? 'empty image name'
      : rec.caption.trim() === ''
        ? 'empty caption'
        : textLengthProblem(rec.caption) && `caption of ${textLengthProblem(rec.caption)}`;
  if (!reason) return rec;
  if (opts.onInvalid === 'skip') {
    opts.onSkip?.({ line: rec.line, reason });
    return undefined;
  }
  throw new ManifestError(file, rec.line, `${reason} (use onInvalid 'skip' to leave such rows out)`);
}

async function* jsonlPairs(file: string): AsyncGenerator<PairRecord> {
  const stream = createReadStream(file, { encoding: 'utf8' });
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const raw of lines) {
      n++;
      const text = (n === 1 ? raw.replace(/^\uFEFF/, '') : raw).trim();
      if (text === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (e) {
        throw new ManifestError(file, n, `malformed JSON (${(e as Error).message})`);
      }
      const parsed = jsonlPair.safeParse(value);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        const field = issue.path.join('.');
        const missing =
          typeof value === 'object' &&
          value !== null &&
          !Array.isArray(value) &&
          field !== '' &&
          !(field in value);
        throw new ManifestError(
          file,
          n,
          field === ''
            ? 'expected a JSON object {"image": …, "caption": …}'
            : `field "${field}": ${missing ? 'missing' : issue.message}`,
        );
      }
      yield { line: n, image: parsed.data.image, caption: parsed.data.caption };
    }
  } finally {
    lines.close();
    stream.destroy();
  }
}

async function* delimitedPairs(file: string, opts: PairReadOptions): AsyncGenerator<PairRecord> {
  // Peek at the columns first so that the caption column, when last, can absorb stray delimiters.
  const probe = await readDelimited(file);
  await probe.rows.return(undefined);
  const imageCol = findColumn(probe, file, 'image', IMAGE_COLUMNS, opts.imageColumn);
  const captionCol = findColumn(probe, file, 'caption', CAPTION_COLUMNS, opts.captionColumn);
  const table = await readDelimited(file, { absorbingColumn: captionCol });
  for await (const row of table.rows)
    yield { line: row.line, image: row.values[imageCol]!.trim(), caption: row.values[captionCol]! };
}

/** The manifest's pairs, one at a time, checked; throws ManifestError (file:line) on bad rows. */
export async function* streamPairs(file: string, opts: PairReadOptions = {}): AsyncGenerator<PairRecord> {
  const format = opts.format ?? pairFormatOf(file);
  const source = format === 'jsonl' ? jsonlPairs(file) : delimitedPairs(file, opts);
  for await (const rec of source) {
    const ok = check(file, rec, opts);
    if (ok) yield ok;
  }
}

/** All pairs of a manifest, packed, with random access by index. */
export class PairSet {
  private readonly images = new PackedStrings();
  private readonly captions = new PackedStrings();
  private lines = new Uint32Array(1024);
  readonly skipped: SkippedRow[] = [];

  constructor(
    /** The manifest file. */
    readonly source: string,
    /** Folder that relative image names are resolved against. */
    readonly root: string,
  ) {}

  get size(): number {
    return this.images.length;
  }

  add(rec: PairRecord): void {
    const i = this.images.push(rec.image);
    this.captions.push(rec.caption);
    if (i === this.lines.length) {
      const grown = new Uint32Array(this.lines.length * 2);
      grown.set(this.lines);
      this.lines = grown;
    }
    this.lines[i] = rec.line;
  }

  /** The image name as written in the manifest. */
  imageName(i: number): string {
    return this.images.get(i);
  }

  /** The image's path, resolved against the root. */
  imagePath(i: number): string {
    const name = this.images.get(i);
    return isAbsolute(name) ? name : resolve(this.root, name);
  }

  caption(i: number): string {
    return this.captions.get(i);
  }

  /** Manifest line of pair i, for messages. */
  line(i: number): number {
    if (i < 0 || i >= this.size) throw new RangeError(`index ${i} out of range (0..${this.size - 1})`);
    return this.lines[i]!;
  }

  /** Bytes held by the packed columns. */
  get byteLength(): number {
    return this.images.byteLength + this.captions.byteLength + this.size * 4;
  }

  trim(): void {
    this.images.trim();
    this.captions.trim();
    this.lines = this.lines.slice(0, this.size);
  }
}

export interface ReadPairsOptions extends PairReadOptions {
  /** Image root (default: the manifest's folder). */
  root?: string;
  /** Called every 10,000 rows with the count so far (for a progress line). */
  onProgress?: (rows: number) => void;
}

export async function readPairs(file: string, opts: ReadPairsOptions = {}): Promise<PairSet> {
  const set = new PairSet(resolve(file), resolve(opts.root ?? dirname(file)));
  const onSkip = (row: SkippedRow): void => {
    set.skipped.push(row);
    opts.onSkip?.(row);
  };
  for await (const rec of streamPairs(file, { ...opts, onSkip })) {
    set.add(rec);
    if (opts.onProgress && set.size % 10_000 === 0) opts.onProgress(set.size);
  }
  if (set.size === 0) throw new ManifestError(file, undefined, 'no image–caption pairs');
  set.trim();
  return set;
}
