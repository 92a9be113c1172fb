// Row reading shared by the dataset manifests (image–caption pairs, image labels): a header line
// names the columns, the delimiter is whichever of tab, pipe or comma that header uses, and rows
// stream one at a time so that a million-row manifest never sits in memory as objects.
//
// Tab- and pipe-separated files are split by hand: they have no quoting convention (OpenPath's
// `image_name|caption` rows hold commas, quotes and apostrophes verbatim). Comma-separated files go
// through csv-parse, which handles RFC 4180 quoting, doubled quotes and quoted newlines.
import { parse } from 'csv-parse';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

export type Delimiter = '\t' | '|' | ',';

export class ManifestError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    reason: string,
  ) {
    super(`${file}${line === undefined ? '' : `:${line}`}: ${reason}`);
    this.name = 'ManifestError';
  }
}

const DELIMITER_NAMES: Record<Delimiter, string> = { '\t': 'tab', '|': 'pipe', ',': 'comma' };

/**
 * The delimiter of a header line. Column names never contain a delimiter, so the first of tab, pipe
 * and comma that occurs decides (in that order: a tab or pipe header may still hold a comma inside a
 * column name such as "caption, en", a comma header cannot hold the others by accident).
 */
export function detectDelimiter(header: string, file: string): Delimiter {
  for (const d of ['\t', '|', ','] as const) if (header.includes(d)) return d;
  throw new ManifestError(
    file,
    1,
    `cannot tell the delimiter: the header "${header.slice(0, 80)}" has no tab, pipe or comma (expected a header such as image_name|caption)`,
  );
}

export function delimiterName(d: Delimiter): string {
  return DELIMITER_NAMES[d];
}

export interface Row {
  /** 1-based line where the row starts. */
  line: number;
  values: string[];
}

export interface DelimitedTable {
  delimiter: Delimiter;
  /** Column names as written (BOM and surrounding spaces removed). */
  columns: string[];
  rows: AsyncGenerator<Row>;
}

export interface ReadOptions {
  /**
   * When a row has more fields than the header and this is the index of the last column, the extra
   * fields belong to it (an unquoted caption holding the delimiter). Otherwise such a row is an error.
   */
  absorbingColumn?: number;
}

async function firstLine(file: string): Promise<string | undefined> {
  const stream = createReadStream(file, { encoding: 'utf8' });
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      if (line.trim() !== '') return line.replace(/^\uFEFF/, '');
    }
    return undefined;
  } finally {
    lines.close();
    stream.destroy();
  }
}

function fitColumns(values: string[], columns: number, opts: ReadOptions, sep: string): string[] | undefined {
  if (values.length === columns) return values;
  if (values.length > columns && opts.absorbingColumn === columns - 1)
    return [...values.slice(0, columns - 1), values.slice(columns - 1).join(sep)];
  return undefined;
}

function wrongCount(file: string, line: number, columns: string[], got: number, d: Delimiter): ManifestError {
  return new ManifestError(
    file,
    line,
    `expected ${columns.length} ${delimiterName(d)}-separated fields (${columns.join(d === '\t' ? ' <tab> ' : d)}), got ${got}`,
  );
}

async function* splitLines(
  file: string,
  d: Delimiter,
  columns: string[],
  opts: ReadOptions,
): AsyncGenerator<Row> {
  const stream = createReadStream(file, { encoding: 'utf8' });
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let n = 0;
  let headerSeen = false;
  try {
    for await (const text of lines) {
      n++;
      if (text.trim() === '') continue;
      if (!headerSeen) {
        headerSeen = true;
        continue;
      }
      const values = fitColumns(text.split(d), columns.length, opts, d);
      if (!values) throw wrongCount(file, n, columns, text.split(d).length, d);
      yield { line: n, values };
    }
  } finally {
    lines.close();
    stream.destroy();
  }
}

async function* csvRows(file: string, columns: string[], opts: ReadOptions): AsyncGenerator<Row> {
  const stream = createReadStream(file);
  const parser = stream.pipe(
    parse({ bom: true, relax_column_count: true, skip_empty_lines: true, info: true, from_line: 1 }),
  );
  let headerSeen = false;
  try {
    for await (const rec of parser as AsyncIterable<{
      record: string[];
      info: { lines: number; raw?: string };
    }>) {
      if (!headerSeen) {
        headerSeen = true;
        continue;
      }
      // csv-parse counts the line where the record ends; a quoted newline makes a record span lines.
      const line = rec.info.lines;
      if (rec.record.every((v) => v.trim() === '')) continue;
      const values = fitColumns(rec.record, columns.length, opts, ',');
      if (!values) throw wrongCount(file, line, columns, rec.record.length, ',');
      yield { line, values };
    }
  } catch (err) {
    if (err instanceof ManifestError) throw err;
    const e = err as { message?: string; lines?: number };
    throw new ManifestError(file, e.lines, `malformed CSV: ${e.message ?? String(err)}`);
  } finally {
    stream.destroy();
  }
}

/** Opens a header + rows file; the rows are read lazily, once. */
export async function readDelimited(file: string, opts: ReadOptions = {}): Promise<DelimitedTable> {
  let header: string | undefined;
  try {
    header = await firstLine(file);
  } catch (err) {
    throw new ManifestError(file, undefined, `cannot read: ${(err as Error).message}`);
  }
  if (header === undefined) throw new ManifestError(file, undefined, 'empty file (expected a header line)');
  const delimiter = detectDelimiter(header, file);
  const columns =
    delimiter === ','
      ? // The header itself may be quoted ("image_name","label").
        header.split(',').map((c) => c.trim().replace(/^"(.*)"$/, '$1'))
      : header.split(delimiter).map((c) => c.trim());
  const rows = delimiter === ',' ? csvRows(file, columns, opts) : splitLines(file, delimiter, columns, opts);
  return { delimiter, columns, rows };
}

/**
 * The index of the first column whose name (case-insensitive) is one of `names`, the user's choice
 * first when given.
 */
export function findColumn(
  table: { columns: readonly string[] },
  file: string,
  what: string,
  names: readonly string[],
  chosen?: string,
): number {
  const lower = table.columns.map((c) => c.toLowerCase());
  const wanted = chosen ? [chosen] : names;
  for (const n of wanted) {
    const i = lower.indexOf(n.toLowerCase());
    if (i >= 0) return i;
  }
  throw new ManifestError(
    file,
    1,
    `no ${what} column: the header has ${table.columns.map((c) => `"${c}"`).join(', ')}; expected ${wanted.map((n) => `"${n}"`).join(' or ')}`,
  );
}
