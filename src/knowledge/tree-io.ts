// Reading and writing knowledge-tree files. The written form is canonical (fixed key order, one
// disease per line), so the same tree always gives the same bytes and a rebuild diffs line by line.
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../util/atomic.ts';
import { SourceError } from './errors.ts';
import { parseLocatedJson, pathText, type JsonValue } from './located-json.ts';
import { treeSchema, type Attribute, type Disease, type KnowledgeTree, type Tissue } from './schema.ts';

function canonicalDisease(d: Disease): Disease {
  return {
    id: d.id,
    name: d.name,
    parent: d.parent,
    children: [...d.children],
    placedBy: d.placedBy,
    codes: {
      oncotree: d.codes.oncotree,
      doid: d.codes.doid,
      ncit: d.codes.ncit,
      umls: d.codes.umls,
      icdo: d.codes.icdo,
    },
    attributes: d.attributes.map((a): Attribute => ({
      kind: a.kind,
      text: a.text,
      provenance: a.provenance.map((p) => ({ source: p.source, ref: p.ref, licence: p.licence })),
    })),
  };
}

export function serialiseTree(tree: KnowledgeTree): string {
  const out: string[] = [];
  out.push('{');
  out.push(`"format": ${JSON.stringify(tree.format)},`);
  out.push(`"version": ${JSON.stringify(tree.version)},`);
  const build = {
    sources: tree.build.sources.map((s) => ({
      id: s.id,
      title: s.title,
      file: s.file,
      version: s.version,
      licence: s.licence,
      ...(s.attribution !== undefined ? { attribution: s.attribution } : {}),
      sha256: s.sha256,
      bytes: s.bytes,
    })),
    counts: {
      tissues: tree.build.counts.tissues,
      diseases: tree.build.counts.diseases,
      attributes: { ...tree.build.counts.attributes },
    },
    notes: Object.fromEntries(
      Object.entries(tree.build.notes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    ),
  };
  out.push(`"build": ${JSON.stringify(build, null, 1)},`);
  out.push('"tissues": [');
  tree.tissues.forEach((t: Tissue, ti) => {
    const head = JSON.stringify({
      id: t.id,
      name: t.name,
      codes: { ncit: t.codes.ncit, umls: t.codes.umls },
    }).slice(0, -1);
    out.push(`${head},"diseases":[`);
    t.diseases.forEach((d, di) =>
      out.push(JSON.stringify(canonicalDisease(d)) + (di < t.diseases.length - 1 ? ',' : '')),
    );
    out.push(`]}${ti < tree.tissues.length - 1 ? ',' : ''}`);
  });
  out.push(']');
  out.push('}');
  return `${out.join('\n')}\n`;
}

/** Validates the tree and writes it atomically; an invalid tree is never written. */
export function saveTree(path: string, tree: KnowledgeTree): void {
  const checked = treeSchema.safeParse(tree);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    throw new Error(
      `refusing to write an invalid tree: ${pathText((issue?.path ?? []) as (string | number)[])}: ${issue?.message ?? ''}`,
    );
  }
  writeFileAtomic(path, serialiseTree(checked.data));
}

export function parseTree(text: string, file: string): KnowledgeTree {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    parseLocatedJson(text, file); // throws a SourceError with line and field
    throw new SourceError({ file, line: 0, field: '(document)' }, 'not valid JSON');
  }
  const checked = treeSchema.safeParse(value);
  if (checked.success) return checked.data;
  const issue = checked.error.issues[0];
  const path = (issue?.path ?? []) as (string | number)[];
  // Point at the offending place in the file: walk the located copy along the issue's path.
  const located = parseLocatedJson(text, file);
  let container: JsonValue = located.value;
  let at = { line: 1, column: 1 };
  for (const key of path) {
    if (typeof container !== 'object' || container === null) break;
    at = Array.isArray(container) ? located.where(container) : located.where(container, String(key));
    const next: JsonValue | undefined = Array.isArray(container)
      ? container[Number(key)]
      : (container as { [k: string]: JsonValue })[String(key)];
    if (next === undefined) break;
    if (typeof next === 'object' && next !== null) at = located.where(next);
    container = next;
  }
  throw new SourceError(
    { file, line: at.line, column: at.column, field: pathText(path) },
    issue?.message ?? 'invalid tree',
  );
}

export function loadTree(path: string): KnowledgeTree {
  return parseTree(readFileSync(path, 'utf8'), path);
}
