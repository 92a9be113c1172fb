// Plain-text corpora for language-model pre-training: one paragraph a line, UTF-8, optionally
// gzip-compressed (.gz). Every problem names the file (and the line where there is one).
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

export class CorpusError extends Error {
  override name = 'CorpusError';
}

/** Bounds on what a corpus file may hold, so a wrong path (a disk image, a binary) fails fast. */
export const MAX_CORPUS_FILE_BYTES = 2 ** 30;
export const MAX_PARAGRAPH_CHARS = 100_000;

export interface CorpusFile {
  path: string;
  /** Bytes on disk (compressed size for .gz). */
  bytes: number;
  paragraphs: string[];
}

function decode(path: string): string {
  let raw: Buffer;
  try {
    const size = statSync(path).size;
    if (size > MAX_CORPUS_FILE_BYTES) throw new CorpusError(`${path}: ${size} bytes, over the 1 GiB limit`);
    raw = readFileSync(path);
  } catch (err) {
    if (err instanceof CorpusError) throw err;
    throw new CorpusError(`${path}: cannot read (${(err as Error).message})`, { cause: err });
  }
  if (path.endsWith('.gz')) {
    try {
      raw = gunzipSync(raw, { maxOutputLength: MAX_CORPUS_FILE_BYTES });
    } catch (err) {
      throw new CorpusError(`${path}: not valid gzip (${(err as Error).message})`, { cause: err });
    }
  }
  const text = raw.toString('utf8');
  const bad = text.indexOf('\uFFFD');
  if (bad >= 0 && !raw.includes(Buffer.from('\uFFFD', 'utf8'))) {
    const line = text.slice(0, bad).split('\n').length;
    throw new CorpusError(`${path}:${line}: not valid UTF-8 text`);
  }
  if (text.includes('\0')) throw new CorpusError(`${path}: contains NUL bytes; not a plain-text corpus`);
  return text;
}

/** The paragraphs (non-blank lines, trimmed) of a .txt or .txt.gz file; an empty file is an error. */
export function readCorpusFile(path: string): CorpusFile {
  if (!/\.txt(\.gz)?$/.test(path))
    throw new CorpusError(`${path}: a corpus file must end in .txt or .txt.gz`);
  const lines = decode(path).split('\n');
  const paragraphs: string[] = [];
  lines.forEach((line, i) => {
    const p = line.trim();
    if (!p) return;
    if (p.length > MAX_PARAGRAPH_CHARS)
      throw new CorpusError(
        `${path}:${i + 1}: a paragraph of ${p.length} characters (limit ${MAX_PARAGRAPH_CHARS}); one paragraph a line expected`,
      );
    paragraphs.push(p);
  });
  if (paragraphs.length === 0)
    throw new CorpusError(`${path}: no text (a corpus file needs one paragraph a line)`);
  return { path, bytes: statSync(path).size, paragraphs };
}

/** The .txt and .txt.gz files of a folder, sorted by name (so the corpus order is reproducible). */
export function corpusFilesIn(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    throw new CorpusError(`${dir}: cannot list the corpus folder (${(err as Error).message})`, {
      cause: err,
    });
  }
  const files = names.filter((n) => /\.txt(\.gz)?$/.test(n)).sort();
  if (files.length === 0) throw new CorpusError(`${dir}: no .txt or .txt.gz files`);
  return files.map((n) => join(dir, n));
}
