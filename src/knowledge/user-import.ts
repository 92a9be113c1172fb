// A user's own attributes (a licensed PathKT, notes from their pathologists) added to a built tree.
// Accepted files (documented in docs/knowledge.md):
//  - TSV with a header row: disease, kind, text, and optionally tissue, source, licence;
//  - JSON: an array of such records, or {"attributes": [...]};
//  - JSON in the KEEP disease-graph form: {"DOID:…": {"name", "synonyms": [...], "definitions": {...}}}.
// `disease` is a disease id (DOID:3910, ONCOTREE:LUAD), a code (NCIT:C3512, UMLS:C0152013) or a name
// or synonym in the tree; with a `tissue` an unknown disease is added to the tree.
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { z } from 'zod';
import { AttributeSet } from './attributes.ts';
import { SourceError } from './errors.ts';
import { parseLocatedJson, type JsonValue, type LocatedJson } from './located-json.ts';
import { DiseaseIndex } from './lookup.ts';
import { cleanText, compareText, nameKey } from './normalise.ts';
import {
  ATTRIBUTE_KINDS,
  countTree,
  type AttributeKind,
  type Disease,
  type KnowledgeTree,
  type Provenance,
} from './schema.ts';
import { parseTsv } from './tsv.ts';

export interface ImportRecord {
  disease: string;
  kind: AttributeKind;
  text: string;
  tissue?: string;
  source?: string;
  licence?: string;
  /** Where the record is, for errors and provenance. */
  line: number;
  ref: string;
}

export interface ImportFile {
  file: string;
  records: ImportRecord[];
  sha256: string;
  bytes: number;
}

const kindSchema = z.enum(ATTRIBUTE_KINDS);

function checkKind(value: string, file: string, line: number, field: string): AttributeKind {
  const k = kindSchema.safeParse(value.trim().toLowerCase());
  if (!k.success)
    throw new SourceError(
      { file, line, field },
      `kind must be one of ${ATTRIBUTE_KINDS.join(', ')}, found ${JSON.stringify(value)}`,
    );
  return k.data;
}

function readTsvImport(text: string, file: string): ImportRecord[] {
  const table = parseTsv(text, file, ['disease', 'kind', 'text']);
  return table.rows.map(({ line, fields }) => {
    const rec: ImportRecord = {
      disease: (fields['disease'] ?? '').trim(),
      kind: checkKind(fields['kind'] ?? '', file, line, 'kind'),
      text: (fields['text'] ?? '').trim(),
      line,
      ref: `line ${line}`,
    };
    if (rec.disease === '') throw new SourceError({ file, line, field: 'disease' }, 'empty disease');
    if (rec.text === '') throw new SourceError({ file, line, field: 'text' }, 'empty text');
    for (const opt of ['tissue', 'source', 'licence'] as const) {
      const v = fields[opt]?.trim();
      if (v) rec[opt] = v;
    }
    return rec;
  });
}

const recordSchema = z.strictObject({
  disease: z.string().min(1),
  kind: z.string(),
  text: z.string().min(1),
  tissue: z.string().min(1).optional(),
  source: z.string().min(1).optional(),
  licence: z.string().min(1).optional(),
});

const keepEntrySchema = z.object({
  name: z.string().min(1),
  synonyms: z.array(z.string()).optional(),
  definitions: z.record(z.string(), z.string()).optional(),
  parent: z.array(z.string()).optional(),
  children: z.array(z.string()).optional(),
});

function fail(
  json: LocatedJson,
  container: object,
  key: string | undefined,
  field: string,
  reason: string,
): never {
  const at = json.where(container, key);
  throw new SourceError({ file: json.file, line: at.line, column: at.column, field }, reason);
}

function readJsonImport(text: string, file: string): ImportRecord[] {
  const json = parseLocatedJson(text, file);
  const top = json.value;
  let list: JsonValue[] | undefined;
  if (Array.isArray(top)) list = top;
  else if (top && typeof top === 'object' && Array.isArray(top['attributes'])) list = top['attributes'];
  if (list) {
    return list.map((item, i) => {
      const field = `[${i}]`;
      if (!item || typeof item !== 'object' || Array.isArray(item)) {
        fail(json, list as object, undefined, field, 'expected an object with disease, kind and text');
      }
      const r = recordSchema.safeParse(item);
      if (!r.success) {
        const key = r.error.issues[0]?.path[0];
        fail(
          json,
          item,
          typeof key === 'string' ? key : undefined,
          `${field}.${String(key ?? '')}`,
          r.error.issues[0]?.message ?? 'invalid record',
        );
      }
      const line = json.where(item).line;
      const rec: ImportRecord = {
        disease: r.data.disease.trim(),
        kind: checkKind(r.data.kind, file, json.where(item, 'kind').line, `${field}.kind`),
        text: r.data.text.trim(),
        line,
        ref: `record ${i + 1}`,
      };
      for (const opt of ['tissue', 'source', 'licence'] as const) if (r.data[opt]) rec[opt] = r.data[opt];
      return rec;
    });
  }
  if (!top || typeof top !== 'object' || Array.isArray(top)) {
    throw new SourceError(
      { file, line: 1, field: '(document)' },
      'expected an array of records, {"attributes": [...]}, or a disease graph keyed by id',
    );
  }
  // KEEP's disease-graph form.
  const out: ImportRecord[] = [];
  for (const [id, entry] of Object.entries(top)) {
    const r = keepEntrySchema.safeParse(entry);
    if (!r.success || !entry || typeof entry !== 'object') {
      const key = r.success ? undefined : r.error.issues[0]?.path[0];
      fail(
        json,
        (entry && typeof entry === 'object' ? entry : top) as object,
        typeof key === 'string' ? key : undefined,
        `${id}${key !== undefined ? `.${String(key)}` : ''}`,
        r.success ? 'expected an object' : (r.error.issues[0]?.message ?? 'invalid entry'),
      );
    }
    const line = json.where(entry).line;
    out.push({ disease: id, kind: 'synonym', text: r.data.name, line, ref: `${id} name` });
    (r.data.synonyms ?? []).forEach((s, i) =>
      out.push({ disease: id, kind: 'synonym', text: s, line, ref: `${id} synonyms[${i}]` }),
    );
    for (const [src, def] of Object.entries(r.data.definitions ?? {}))
      out.push({ disease: id, kind: 'definition', text: def, line, ref: `${id} definitions.${src}` });
  }
  return out.filter((r) => r.text.trim() !== '');
}

export function readImportFile(bytes: Buffer, file: string): ImportFile {
  const text = bytes.toString('utf8');
  const records =
    /\.json$/i.test(file) || /^\s*[[{]/.test(text) ? readJsonImport(text, file) : readTsvImport(text, file);
  return { file, records, sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length };
}

export interface ImportOptions {
  /** Licence of the imported texts when a record names none. */
  licence?: string;
  /** Skip records whose disease is not in the tree (and has no tissue) instead of failing. */
  skipUnknown?: boolean;
}

export interface ImportReport {
  added: number;
  merged: number;
  skipped: number;
  createdDiseases: string[];
}

/** Returns a new tree with the records merged in; the input tree is not changed. */
export function applyImport(
  tree: KnowledgeTree,
  input: ImportFile,
  options: ImportOptions = {},
): { tree: KnowledgeTree; report: ImportReport } {
  const next: KnowledgeTree = structuredClone(tree);
  const index = new DiseaseIndex(next);
  const tissueOf = (v: string) =>
    next.tissues.find((t) => t.id === v || t.id === v.toUpperCase() || nameKey(t.name) === nameKey(v));
  const sourceId = `user:${basename(input.file)}`;
  const sets = new Map<Disease, AttributeSet>();
  // New diseases: the label they were referred by and the name a `name` record gave them.
  const created = new Map<Disease, { label: string | undefined; name?: string; provenance: Provenance }>();
  const createdByRef = new Map<string, Disease>();
  const provenanceOf = (rec: ImportRecord): Provenance => ({
    source: sourceId,
    ref: rec.source ? `${rec.ref} (${rec.source})` : rec.ref,
    licence: rec.licence ?? options.licence ?? 'user-supplied',
  });
  const report: ImportReport = { added: 0, merged: 0, skipped: 0, createdDiseases: [] };

  const setOf = (d: Disease) => {
    let s = sets.get(d);
    if (!s) {
      s = new AttributeSet(d.attributes);
      sets.set(d, s);
    }
    return s;
  };

  for (const rec of input.records) {
    const err = (field: string, reason: string): never => {
      throw new SourceError({ file: input.file, line: rec.line, field }, reason);
    };
    const found = createdByRef.get(rec.disease) ?? index.resolve(rec.disease);
    if (Array.isArray(found)) {
      err(
        'disease',
        `${JSON.stringify(rec.disease)} names several diseases (${found.map((d) => d.id).join(', ')}); use an id`,
      );
    }
    let disease = found as Disease | undefined;
    if (!disease && rec.tissue !== undefined) {
      const tissue = tissueOf(rec.tissue);
      if (!tissue)
        err(
          'tissue',
          `unknown tissue ${JSON.stringify(rec.tissue)} (the tree's tissues are ${next.tissues.map((t) => t.id).join(', ')})`,
        );
      const idLike = /^[A-Za-z][\w.-]*:\S+$/.test(rec.disease);
      disease = {
        id: idLike
          ? rec.disease
          : `USER:${rec.disease
              .toLowerCase()
              .replace(/[^a-z0-9]+/g, '-')
              .replace(/^-|-$/g, '')}`,
        name: '',
        parent: null,
        children: [],
        placedBy: `user ${basename(input.file)}`,
        codes: { oncotree: [], doid: [], ncit: [], umls: [], icdo: [] },
        attributes: [],
      };
      if (index.resolve(disease.id))
        err('disease', `new disease would take the id ${disease.id}, which is already in use`);
      tissue?.diseases.push(disease);
      created.set(disease, { label: idLike ? undefined : rec.disease, provenance: provenanceOf(rec) });
      createdByRef.set(rec.disease, disease);
      index.add(disease, tissue?.id ?? '');
    }
    if (!disease) {
      if (options.skipUnknown) {
        report.skipped++;
        continue;
      }
      return err(
        'disease',
        `unknown disease ${JSON.stringify(rec.disease)}: not an id, code, name or synonym in the tree (give a tissue to add it)`,
      );
    }
    if (rec.kind === 'name') {
      const fresh = created.get(disease);
      if (!fresh)
        return err(
          'kind',
          `${disease.id} already has its name ${JSON.stringify(disease.name)}; import other names as synonyms`,
        );
      if (fresh.name !== undefined && nameKey(fresh.name) !== nameKey(rec.text))
        err('kind', `${disease.id} was given two names`);
      fresh.name = rec.text.replace(/\s+/g, ' ').trim();
      fresh.provenance = provenanceOf(rec);
      continue;
    }
    if (setOf(disease).add(rec.kind, rec.text, provenanceOf(rec))) report.added++;
    else report.merged++;
  }

  for (const [d, fresh] of created) {
    const name = fresh.name ?? fresh.label;
    if (name === undefined)
      throw new SourceError(
        { file: input.file, line: 0, field: 'kind' },
        `new disease ${d.id} has no record of kind name`,
      );
    d.name = cleanText(name);
    const set = setOf(d);
    set.add('name', name, fresh.provenance);
    // Referred to by one label and named another: the label is a synonym.
    if (fresh.label !== undefined && fresh.name !== undefined)
      set.add('synonym', fresh.label, fresh.provenance);
  }
  for (const [d, s] of sets) d.attributes = s.list();
  for (const t of next.tissues) t.diseases.sort((a, b) => compareText(a.id, b.id));
  report.createdDiseases = [...created.keys()].map((d) => d.id).sort(compareText);

  const licences = [
    ...new Set(input.records.map((r) => r.licence ?? options.licence ?? 'user-supplied')),
  ].sort(compareText);
  next.build.sources = next.build.sources.filter((s) => s.id !== sourceId);
  next.build.sources.push({
    id: sourceId,
    title: 'user import',
    file: basename(input.file),
    version: '',
    licence: licences.join(', '),
    sha256: input.sha256,
    bytes: input.bytes,
  });
  next.build.counts = countTree(next.tissues);
  return { tree: next, report };
}
