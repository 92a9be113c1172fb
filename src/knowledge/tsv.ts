// Tab-separated tables as the Disease Ontology's DOreports publish them: a header row, one record a
// line, fields optionally wrapped in double quotes (with "" for a quote inside).
import { SourceError } from './errors.ts';

export interface TsvRow {
  line: number;
  fields: Record<string, string>;
}

export interface TsvTable {
  file: string;
  columns: string[];
  rows: TsvRow[];
}

function unquote(field: string, file: string, line: number, column: string): string {
  if (!field.startsWith('"')) return field;
  if (field.length < 2 || !field.endsWith('"')) {
    throw new SourceError({ file, line, field: column }, 'unterminated quoted field');
  }
  return field.slice(1, -1).replace(/""/g, '"');
}

/**
 * Parses a TSV file; `required` names the columns the caller reads, checked against the header.
 * `lineOffset` is the number of lines before `text` in the file (a metadata block read by the caller),
 * so that errors and rows carry the file's own line numbers.
 */
export function parseTsv(text: string, file: string, required: readonly string[], lineOffset = 0): TsvTable {
  const lines = text.split(/\r?\n/);
  const headerLine = lines[0] ?? '';
  if (headerLine.trim() === '')
    throw new SourceError(
      { file, line: lineOffset + 1, field: '(header)' },
      'empty file or missing header row',
    );
  const columns = headerLine
    .split('\t')
    .map((c, i) => unquote(c.trim(), file, lineOffset + 1, `column ${i + 1}`));
  for (const r of required) {
    if (!columns.includes(r)) {
      throw new SourceError(
        { file, line: lineOffset + 1, field: r },
        `missing column "${r}" (header has ${columns.map((c) => JSON.stringify(c)).join(', ')})`,
      );
    }
  }
  const rows: TsvRow[] = [];
  for (let i = 1; i < lines.length; i++) {
    const raw = lines[i] ?? '';
    if (raw.trim() === '') continue;
    const parts = raw.split('\t');
    if (parts.length !== columns.length) {
      throw new SourceError(
        {
          file,
          line: lineOffset + i + 1,
          field: columns[Math.min(parts.length, columns.length) - 1] ?? '(row)',
        },
        `expected ${columns.length} tab-separated fields, found ${parts.length}`,
      );
    }
    const fields: Record<string, string> = {};
    parts.forEach((p, j) => {
      const name = columns[j] ?? `column ${j + 1}`;
      fields[name] = unquote(p, file, lineOffset + i + 1, name);
    });
    rows.push({ line: lineOffset + i + 1, fields });
  }
  return { file, columns, rows };
}
