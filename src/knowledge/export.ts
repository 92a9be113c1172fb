// Exports of a tree. JSONL and CSV give one training sample per attribute text, labelled with its
// disease: the input of the knowledge encoder ({"text", "label", "kind", "tissue"}). JSON gives the
// diseases with their texts, without provenance, for tools that want the structure but not the audit.
// Each sample also names its sources ("do-ncit-subset+ncit-disease": the provenance source ids of the
// attribute, sorted and joined with "+"), so that training and evaluation can split by source.
import { ATTRIBUTE_KINDS, type AttributeKind, type KnowledgeTree } from './schema.ts';

export type ExportFormat = 'json' | 'jsonl' | 'csv';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['json', 'jsonl', 'csv'];

export interface Sample {
  text: string;
  label: string;
  kind: AttributeKind;
  tissue: string;
  /** Provenance source ids of the text, sorted, joined with "+"; absent in files written before it. */
  source?: string;
}

/** "do-ncit-subset+ncit-disease": the sorted unique source ids of an attribute's provenance. */
export function sourceKey(provenance: readonly { source: string }[]): string {
  return [...new Set(provenance.map((p) => p.source))].sort().join('+');
}

export function* samples(
  tree: KnowledgeTree,
  kinds: readonly AttributeKind[] = ATTRIBUTE_KINDS,
): Generator<Sample> {
  const wanted = new Set(kinds);
  for (const t of tree.tissues) {
    for (const d of t.diseases) {
      for (const a of d.attributes) {
        if (wanted.has(a.kind))
          yield { text: a.text, label: d.id, kind: a.kind, tissue: t.id, source: sourceKey(a.provenance) };
      }
    }
  }
}

function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The export as chunks, so that large trees stream to disk without one giant string. */
export function* exportChunks(
  tree: KnowledgeTree,
  format: ExportFormat,
  kinds: readonly AttributeKind[] = ATTRIBUTE_KINDS,
): Generator<string> {
  if (format === 'jsonl') {
    for (const s of samples(tree, kinds)) {
      const line = { text: s.text, label: s.label, kind: s.kind, tissue: s.tissue, source: s.source };
      yield `${JSON.stringify(line)}\n`;
    }
    return;
  }
  if (format === 'csv') {
    yield 'text,label,kind,tissue,source\r\n';
    for (const s of samples(tree, kinds))
      yield `${[s.text, s.label, s.kind, s.tissue, s.source ?? ''].map(csvField).join(',')}\r\n`;
    return;
  }
  const wanted = new Set(kinds);
  yield '[\n';
  let first = true;
  for (const t of tree.tissues) {
    for (const d of t.diseases) {
      const texts: Partial<Record<AttributeKind, string[]>> = {};
      for (const a of d.attributes) if (wanted.has(a.kind)) (texts[a.kind] ??= []).push(a.text);
      const record = { id: d.id, name: d.name, tissue: t.id, parent: d.parent, codes: d.codes, texts };
      yield `${first ? '' : ',\n'}${JSON.stringify(record)}`;
      first = false;
    }
  }
  yield '\n]\n';
}

/** Reads a JSONL sample file back (the knowledge encoder's input), checking every line. */
export function parseSamples(text: string, file: string): Sample[] {
  const out: Sample[] = [];
  const kinds = new Set<string>(ATTRIBUTE_KINDS);
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      throw new Error(`${file}:${i + 1}: not a JSON object`);
    }
    const s = v as Partial<Sample>;
    if (
      typeof s.text !== 'string' ||
      typeof s.label !== 'string' ||
      typeof s.kind !== 'string' ||
      !kinds.has(s.kind) ||
      typeof s.tissue !== 'string' ||
      (s.source !== undefined && typeof s.source !== 'string')
    ) {
      throw new Error(
        `${file}:${i + 1}: expected {"text", "label", "kind", "tissue"} (and optionally "source") with kind one of ${ATTRIBUTE_KINDS.join(', ')}`,
      );
    }
    const sample: Sample = { text: s.text, label: s.label, kind: s.kind as AttributeKind, tissue: s.tissue };
    if (s.source !== undefined) sample.source = s.source;
    out.push(sample);
  });
  return out;
}
