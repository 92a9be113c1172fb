// Looking into a tree: counts per tissue and kind, one disease in full, ranked search, and the prompt
// helper that gives the tree's synonyms for the class names of a zero-shot prompt set.
import { DiseaseIndex } from './lookup.ts';
import { compareText, nameKey, textKey, wordCount } from './normalise.ts';
import {
  ATTRIBUTE_KINDS,
  emptyKindCounts,
  type Disease,
  type KindCounts,
  type KnowledgeTree,
} from './schema.ts';

export interface TissueStats {
  id: string;
  name: string;
  diseases: number;
  attributes: KindCounts;
}

export interface TreeStats {
  tissues: number;
  diseases: number;
  attributes: KindCounts;
  attributesTotal: number;
  meanWords: Record<keyof KindCounts, number>;
  perTissue: TissueStats[];
}

export function treeStats(tree: KnowledgeTree): TreeStats {
  const attributes = emptyKindCounts();
  const words = emptyKindCounts();
  const perTissue: TissueStats[] = [];
  let diseases = 0;
  for (const t of tree.tissues) {
    const mine = emptyKindCounts();
    for (const d of t.diseases) {
      for (const a of d.attributes) {
        mine[a.kind]++;
        words[a.kind] += wordCount(a.text);
      }
    }
    diseases += t.diseases.length;
    for (const k of ATTRIBUTE_KINDS) attributes[k] += mine[k];
    perTissue.push({ id: t.id, name: t.name, diseases: t.diseases.length, attributes: mine });
  }
  const meanWords = emptyKindCounts();
  for (const k of ATTRIBUTE_KINDS)
    meanWords[k] = attributes[k] > 0 ? Math.round((words[k] / attributes[k]) * 10) / 10 : 0;
  const attributesTotal = ATTRIBUTE_KINDS.reduce((s, k) => s + attributes[k], 0);
  return { tissues: tree.tissues.length, diseases, attributes, attributesTotal, meanWords, perTissue };
}

export function formatStatsTable(s: TreeStats): string {
  const header = ['tissue', 'diseases', ...ATTRIBUTE_KINDS, 'total'];
  const rows: string[][] = s.perTissue.map((t) => [
    `${t.id} (${t.name})`,
    String(t.diseases),
    ...ATTRIBUTE_KINDS.map((k) => String(t.attributes[k])),
    String(ATTRIBUTE_KINDS.reduce((n, k) => n + t.attributes[k], 0)),
  ]);
  rows.push([
    `all ${s.tissues} tissues`,
    String(s.diseases),
    ...ATTRIBUTE_KINDS.map((k) => String(s.attributes[k])),
    String(s.attributesTotal),
  ]);
  rows.push(['mean words', '', ...ATTRIBUTE_KINDS.map((k) => s.meanWords[k].toFixed(1)), '']);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), rule, ...rows.slice(0, -2).map(line), rule, ...rows.slice(-2).map(line)].join('\n');
}

export interface Found {
  disease: Disease;
  tissue: string;
}

/** One disease by id, code, or name/synonym; an error message when none or several match. */
export function findDisease(tree: KnowledgeTree, ref: string): Found | string {
  const index = new DiseaseIndex(tree);
  const r = index.resolve(ref);
  if (!r) return `no disease matches ${JSON.stringify(ref)}`;
  if (Array.isArray(r))
    return `${JSON.stringify(ref)} matches several diseases: ${r.map((d) => `${d.id} (${d.name})`).join(', ')}`;
  return { disease: r, tissue: index.tissue(r) ?? '' };
}

export function formatDisease(f: Found, tree: KnowledgeTree): string {
  const d = f.disease;
  const tissue = tree.tissues.find((t) => t.id === f.tissue);
  const lines = [
    `${d.id}  ${d.name}`,
    `tissue: ${f.tissue}${tissue ? ` (${tissue.name})` : ''}   placed by: ${d.placedBy}`,
  ];
  if (d.parent) lines.push(`parent: ${d.parent}`);
  if (d.children.length) lines.push(`children: ${d.children.join(', ')}`);
  const codes = Object.entries(d.codes)
    .filter(([, v]) => v.length > 0)
    .map(([k, v]) => `${k} ${v.join(' ')}`);
  if (codes.length) lines.push(`codes: ${codes.join('; ')}`);
  for (const kind of ATTRIBUTE_KINDS) {
    const attrs = d.attributes.filter((a) => a.kind === kind);
    if (attrs.length === 0) continue;
    lines.push(`${kind} (${attrs.length}):`);
    for (const a of attrs)
      lines.push(`  - ${a.text}  [${a.provenance.map((p) => `${p.source}: ${p.ref}`).join('; ')}]`);
  }
  return lines.join('\n');
}

export interface SearchHit {
  id: string;
  name: string;
  tissue: string;
  score: number;
  /** The attribute text that matched best. */
  matched: string;
  kind: string;
}

const FIELD_WEIGHT: Record<string, number> = {
  name: 3,
  synonym: 2,
  definition: 1,
  histology: 1,
  cytology: 1,
};

/**
 * Ranked search: BM25 over each disease's texts with names and synonyms weighted up, plus bonuses
 * for an exact name or synonym and for the whole query appearing as a phrase. Ties go by id.
 */
export function searchTree(tree: KnowledgeTree, query: string, limit = 10): SearchHit[] {
  const qTokens = [
    ...new Set(
      textKey(query)
        .split(' ')
        .filter((w) => w !== ''),
    ),
  ];
  if (qTokens.length === 0) return [];
  const qKey = nameKey(query);
  const qPhrase = textKey(query);
  interface Doc {
    d: Disease;
    tissue: string;
    tf: Map<string, number>;
    len: number;
  }
  const docs: Doc[] = [];
  const df = new Map<string, number>();
  for (const t of tree.tissues) {
    for (const d of t.diseases) {
      const tf = new Map<string, number>();
      let len = 0;
      for (const a of d.attributes) {
        const w = FIELD_WEIGHT[a.kind] ?? 1;
        for (const tok of textKey(a.text).split(' ')) {
          if (tok === '') continue;
          tf.set(tok, (tf.get(tok) ?? 0) + w);
          len += w;
        }
      }
      for (const tok of tf.keys()) df.set(tok, (df.get(tok) ?? 0) + 1);
      docs.push({ d, tissue: t.id, tf, len });
    }
  }
  const n = docs.length;
  const avg = docs.reduce((s, x) => s + x.len, 0) / Math.max(1, n);
  const k1 = 1.2;
  const b = 0.75;
  const hits: SearchHit[] = [];
  for (const doc of docs) {
    let score = 0;
    for (const q of qTokens) {
      const f = doc.tf.get(q) ?? 0;
      if (f === 0) continue;
      const idf = Math.log(1 + (n - (df.get(q) ?? 0) + 0.5) / ((df.get(q) ?? 0) + 0.5));
      score += (idf * (f * (k1 + 1))) / (f + k1 * (1 - b + (b * doc.len) / avg));
    }
    if (score === 0) continue;
    let best = { text: doc.d.name, kind: 'name', bonus: 0 };
    for (const a of doc.d.attributes) {
      const key = textKey(a.text);
      let bonus = 0;
      if ((a.kind === 'name' || a.kind === 'synonym') && nameKey(a.text) === qKey)
        bonus = a.kind === 'name' ? 20 : 15;
      else if (key.includes(qPhrase)) bonus = a.kind === 'name' ? 6 : a.kind === 'synonym' ? 4 : 2;
      if (bonus > best.bonus) best = { text: a.text, kind: a.kind, bonus };
    }
    hits.push({
      id: doc.d.id,
      name: doc.d.name,
      tissue: doc.tissue,
      score: Math.round((score + best.bonus) * 1000) / 1000,
      matched: best.text,
      kind: best.kind,
    });
  }
  return hits.sort((a, b2) => b2.score - a.score || compareText(a.id, b2.id)).slice(0, limit);
}

export interface PromptSynonyms {
  className: string;
  /** exact: a name or synonym up to case and punctuation; words: the same words in another order. */
  match: 'exact' | 'words' | 'none' | 'ambiguous';
  disease?: { id: string; name: string; tissue: string };
  /** The disease's name first, then its synonyms, without the class name itself. */
  synonyms: string[];
  /** Closest diseases by search, when there is no match. */
  suggestions?: { id: string; name: string; score: number }[];
}

export function promptSynonyms(
  tree: KnowledgeTree,
  classNames: readonly string[],
  max = 20,
): PromptSynonyms[] {
  const index = new DiseaseIndex(tree);
  return classNames.map((className) => {
    let match: PromptSynonyms['match'] = 'exact';
    let r = index.resolve(className);
    if (!r) {
      r = index.resolveWords(className);
      match = 'words';
    }
    if (!r || Array.isArray(r)) {
      const out: PromptSynonyms = {
        className,
        match: r ? 'ambiguous' : 'none',
        synonyms: [],
        suggestions: searchTree(tree, className, 3).map((h) => ({ id: h.id, name: h.name, score: h.score })),
      };
      return out;
    }
    const own = nameKey(className);
    const synonyms = r.attributes
      .filter((a) => (a.kind === 'name' || a.kind === 'synonym') && nameKey(a.text) !== own)
      .map((a) => a.text)
      .slice(0, max);
    return { className, match, disease: { id: r.id, name: r.name, tissue: index.tissue(r) ?? '' }, synonyms };
  });
}

/** Class names of a zero-shot prompt file ({"0": {"classnames": {LABEL: phrase}}, …}), distinct, in first-seen order. */
export function classNamesOfPromptFile(value: unknown): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  if (!value || typeof value !== 'object') return out;
  for (const set of Object.values(value as Record<string, unknown>)) {
    const names = (set as { classnames?: unknown } | null)?.classnames;
    if (!names || typeof names !== 'object') continue;
    for (const v of Object.values(names as Record<string, unknown>)) {
      const list = Array.isArray(v) ? v : [v];
      for (const s of list) {
        if (typeof s === 'string' && !seen.has(s)) {
          seen.add(s);
          out.push(s);
        }
      }
    }
  }
  return out;
}
