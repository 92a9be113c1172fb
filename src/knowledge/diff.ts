// What changed between two trees: diseases added, removed or changed (name, tissue, parent, codes,
// attributes added or removed). Attributes compare by kind and text key, so a change of case or
// punctuation alone is not reported; provenance changes are counted separately.
import { compareText, textKey } from './normalise.ts';
import { ATTRIBUTE_KINDS, type AttributeKind, type Disease, type KnowledgeTree } from './schema.ts';

export interface AttributeChange {
  kind: AttributeKind;
  text: string;
}

export interface DiseaseChange {
  id: string;
  name: string;
  fields: { field: string; before: string; after: string }[];
  attributesAdded: AttributeChange[];
  attributesRemoved: AttributeChange[];
  provenanceChanged: number;
}

export interface TreeDiff {
  added: { id: string; name: string; tissue: string }[];
  removed: { id: string; name: string; tissue: string }[];
  changed: DiseaseChange[];
  attributes: {
    added: number;
    removed: number;
    byKind: Record<AttributeKind, { added: number; removed: number }>;
  };
}

function flatten(tree: KnowledgeTree): Map<string, { d: Disease; tissue: string }> {
  const m = new Map<string, { d: Disease; tissue: string }>();
  for (const t of tree.tissues) for (const d of t.diseases) m.set(d.id, { d, tissue: t.id });
  return m;
}

const attrKey = (kind: string, text: string) => `${kind}\u0000${textKey(text)}`;

export function diffTrees(before: KnowledgeTree, after: KnowledgeTree): TreeDiff {
  const a = flatten(before);
  const b = flatten(after);
  const byKind = Object.fromEntries(
    ATTRIBUTE_KINDS.map((k) => [k, { added: 0, removed: 0 }]),
  ) as TreeDiff['attributes']['byKind'];
  const diff: TreeDiff = {
    added: [],
    removed: [],
    changed: [],
    attributes: { added: 0, removed: 0, byKind },
  };
  const count = (kind: AttributeKind, what: 'added' | 'removed', n = 1) => {
    byKind[kind][what] += n;
    diff.attributes[what] += n;
  };
  for (const [id, x] of a) {
    if (!b.has(id)) {
      diff.removed.push({ id, name: x.d.name, tissue: x.tissue });
      for (const at of x.d.attributes) count(at.kind, 'removed');
    }
  }
  for (const [id, y] of b) {
    const x = a.get(id);
    if (!x) {
      diff.added.push({ id, name: y.d.name, tissue: y.tissue });
      for (const at of y.d.attributes) count(at.kind, 'added');
      continue;
    }
    const fields: DiseaseChange['fields'] = [];
    const cmp = (field: string, p: string, q: string) => {
      if (p !== q) fields.push({ field, before: p, after: q });
    };
    cmp('name', x.d.name, y.d.name);
    cmp('tissue', x.tissue, y.tissue);
    cmp('parent', x.d.parent ?? '', y.d.parent ?? '');
    cmp('placedBy', x.d.placedBy, y.d.placedBy);
    for (const k of Object.keys(x.d.codes) as (keyof Disease['codes'])[])
      cmp(`codes.${k}`, x.d.codes[k].join(' '), y.d.codes[k].join(' '));
    const before_ = new Map(x.d.attributes.map((at) => [attrKey(at.kind, at.text), at]));
    const after_ = new Map(y.d.attributes.map((at) => [attrKey(at.kind, at.text), at]));
    const attributesAdded: AttributeChange[] = [];
    const attributesRemoved: AttributeChange[] = [];
    let provenanceChanged = 0;
    for (const [k, at] of after_) {
      const old = before_.get(k);
      if (!old) {
        attributesAdded.push({ kind: at.kind, text: at.text });
        count(at.kind, 'added');
      } else if (JSON.stringify(old.provenance) !== JSON.stringify(at.provenance)) provenanceChanged++;
    }
    for (const [k, at] of before_) {
      if (!after_.has(k)) {
        attributesRemoved.push({ kind: at.kind, text: at.text });
        count(at.kind, 'removed');
      }
    }
    if (fields.length || attributesAdded.length || attributesRemoved.length || provenanceChanged) {
      diff.changed.push({
        id,
        name: y.d.name,
        fields,
        attributesAdded,
        attributesRemoved,
        provenanceChanged,
      });
    }
  }
  const byId = (p: { id: string }, q: { id: string }) => compareText(p.id, q.id);
  diff.added.sort(byId);
  diff.removed.sort(byId);
  diff.changed.sort(byId);
  return diff;
}

export function formatDiff(d: TreeDiff, limit = 50): string {
  const lines: string[] = [];
  lines.push(`diseases: +${d.added.length} -${d.removed.length} ~${d.changed.length}`);
  lines.push(
    `attributes: +${d.attributes.added} -${d.attributes.removed} (${ATTRIBUTE_KINDS.map((k) => `${k} +${d.attributes.byKind[k].added}/-${d.attributes.byKind[k].removed}`).join(', ')})`,
  );
  const more = (n: number) => (n > limit ? [`  … and ${n - limit} more`] : []);
  if (d.added.length)
    lines.push(
      'added:',
      ...d.added.slice(0, limit).map((x) => `  + ${x.id} ${x.name} [${x.tissue}]`),
      ...more(d.added.length),
    );
  if (d.removed.length)
    lines.push(
      'removed:',
      ...d.removed.slice(0, limit).map((x) => `  - ${x.id} ${x.name} [${x.tissue}]`),
      ...more(d.removed.length),
    );
  if (d.changed.length) {
    lines.push('changed:');
    for (const c of d.changed.slice(0, limit)) {
      lines.push(`  ~ ${c.id} ${c.name}`);
      for (const f of c.fields)
        lines.push(`      ${f.field}: ${JSON.stringify(f.before)} → ${JSON.stringify(f.after)}`);
      for (const at of c.attributesAdded) lines.push(`      + ${at.kind}: ${at.text}`);
      for (const at of c.attributesRemoved) lines.push(`      - ${at.kind}: ${at.text}`);
      if (c.provenanceChanged) lines.push(`      provenance changed on ${c.provenanceChanged} attribute(s)`);
    }
    lines.push(...more(d.changed.length));
  }
  return lines.join('\n');
}
