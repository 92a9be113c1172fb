// Reader for SSSOM mapping tables (https://mapping-commons.github.io/sssom/) as MONDO publishes
// them: a metadata block of "# key: value" lines (YAML written line by line, with one nested map,
// curie_map), then a TSV table with a header row. Columns are found by name; the reader needs
// subject_id, predicate_id, object_id and mapping_justification and keeps the labels when present.
// Only the flat YAML subset SSSOM files use is accepted: a full YAML parser would accept far more
// than a mapping table may hold, and every line still needs its own number for errors.
import { z } from 'zod';
import { SourceError } from './errors.ts';
import { parseTsv } from './tsv.ts';

export interface SssomMapping {
  subject: string;
  subjectLabel: string;
  predicate: string;
  object: string;
  objectLabel: string;
  justification: string;
  line: number;
}

export interface SssomTable {
  file: string;
  /** Top-level metadata (license, mapping_set_version, …) as written. */
  metadata: Record<string, string>;
  curieMap: Record<string, string>;
  mappings: SssomMapping[];
}

const CURIE = /^[A-Za-z][\w.-]*:[^\s:]\S*$/;
const curie = z.string().regex(CURIE, 'a CURIE such as MONDO:0000001');
const rowSchema = z.object({
  subject_id: curie,
  predicate_id: curie,
  object_id: curie,
  mapping_justification: curie,
});

/** Reads the "#" metadata block; returns it and the number of lines it took. */
function readMetadata(
  lines: readonly string[],
  file: string,
): { metadata: Record<string, string>; curieMap: Record<string, string>; count: number } {
  const metadata: Record<string, string> = {};
  const curieMap: Record<string, string> = {};
  let inMap: string | null = null;
  let count = 0;
  for (const raw of lines) {
    if (!raw.startsWith('#')) break;
    count++;
    const body = raw.slice(1).replace(/^ /, '');
    if (body.trim() === '') continue;
    const nested = /^ {2,}([^:\s]+):\s*(.*)$/.exec(body);
    if (nested && inMap !== null) {
      if (inMap === 'curie_map') curieMap[nested[1] as string] = (nested[2] as string).trim();
      continue;
    }
    const top = /^([A-Za-z_][\w]*):\s*(.*)$/.exec(body);
    if (!top) {
      throw new SourceError(
        { file, line: count, field: '(metadata)' },
        `expected "# key: value" in the SSSOM metadata block, found ${JSON.stringify(raw.slice(0, 60))}`,
      );
    }
    const key = top[1] as string;
    const value = (top[2] as string).trim();
    inMap = value === '' ? key : null;
    if (value !== '') metadata[key] = value.replace(/^"(.*)"$/, '$1');
  }
  return { metadata, curieMap, count };
}

export function parseSssom(text: string, file: string): SssomTable {
  const lines = text.split(/\r?\n/);
  const { metadata, curieMap, count } = readMetadata(lines, file);
  const table = parseTsv(
    lines.slice(count).join('\n'),
    file,
    ['subject_id', 'predicate_id', 'object_id', 'mapping_justification'],
    count,
  );
  const mappings: SssomMapping[] = [];
  for (const row of table.rows) {
    const r = rowSchema.safeParse(row.fields);
    if (!r.success) {
      const issue = r.error.issues[0];
      const field = String(issue?.path[0] ?? '(row)');
      throw new SourceError(
        { file, line: row.line, field },
        `${issue?.message ?? 'invalid'}, found ${JSON.stringify(row.fields[field] ?? '')}`,
      );
    }
    for (const id of [r.data.subject_id, r.data.object_id]) {
      const prefix = id.slice(0, id.indexOf(':'));
      if (Object.keys(curieMap).length > 0 && !(prefix in curieMap)) {
        throw new SourceError(
          { file, line: row.line, field: id === r.data.subject_id ? 'subject_id' : 'object_id' },
          `prefix "${prefix}" is not in the file's curie_map`,
        );
      }
    }
    mappings.push({
      subject: r.data.subject_id,
      subjectLabel: row.fields['subject_label'] ?? '',
      predicate: r.data.predicate_id,
      object: r.data.object_id,
      objectLabel: row.fields['object_label'] ?? '',
      justification: r.data.mapping_justification,
      line: row.line,
    });
  }
  return { file, metadata, curieMap, mappings };
}
