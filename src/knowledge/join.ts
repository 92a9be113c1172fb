// Pairs OncoTree tumour types with Disease Ontology terms. Evidence, strongest first: a shared NCI
// Thesaurus code, a shared UMLS CUI, an equal name (the DO label or an exact synonym, compared
// case-, punctuation- and "NOS"-insensitively). Each OncoTree node takes at most one DO term and
// each DO term at most one node, so that no two diseases of the tree share a DO term; the
// strongest pairs are taken first, ties in code order, which makes the result independent of file order.
import type { DoTerm } from './do-terms.ts';
import { nameKey, compareText } from './normalise.ts';
import type { OncotreeNode } from './oncotree.ts';

export type JoinEvidence = 'ncit' | 'umls' | 'name';

export interface JoinPair {
  oncotree: string;
  doid: string;
  evidence: JoinEvidence[];
}

const WEIGHT: Record<JoinEvidence, number> = { ncit: 4, umls: 2, name: 1 };

function index(terms: Iterable<DoTerm>): {
  ncit: Map<string, string[]>;
  umls: Map<string, string[]>;
  name: Map<string, string[]>;
} {
  const ncit = new Map<string, string[]>();
  const umls = new Map<string, string[]>();
  const name = new Map<string, string[]>();
  const add = (m: Map<string, string[]>, k: string, id: string) => {
    const list = m.get(k);
    if (!list) m.set(k, [id]);
    else if (!list.includes(id)) list.push(id);
  };
  for (const t of terms) {
    for (const c of t.ncit) add(ncit, c, t.id);
    for (const c of t.umls) add(umls, c, t.id);
    add(name, nameKey(t.label), t.id);
    for (const s of t.synonyms) if (s.scope === 'EXACT') add(name, nameKey(s.text), t.id);
  }
  return { ncit, umls, name };
}

export function joinOncotreeToDo(
  nodes: readonly OncotreeNode[],
  terms: ReadonlyMap<string, DoTerm>,
): JoinPair[] {
  const idx = index(terms.values());
  const candidates: (JoinPair & { score: number })[] = [];
  for (const node of nodes) {
    const found = new Map<string, Set<JoinEvidence>>();
    const note = (ids: readonly string[] | undefined, e: JoinEvidence) => {
      for (const id of ids ?? []) {
        const s = found.get(id) ?? new Set<JoinEvidence>();
        s.add(e);
        found.set(id, s);
      }
    };
    for (const c of node.ncit) note(idx.ncit.get(c), 'ncit');
    for (const c of node.umls) note(idx.umls.get(c), 'umls');
    note(idx.name.get(nameKey(node.name)), 'name');
    for (const [doid, ev] of found) {
      const evidence = (['ncit', 'umls', 'name'] as const).filter((e) => ev.has(e));
      candidates.push({
        oncotree: node.code,
        doid,
        evidence,
        score: evidence.reduce((s, e) => s + WEIGHT[e], 0),
      });
    }
  }
  candidates.sort(
    (a, b) => b.score - a.score || compareText(a.oncotree, b.oncotree) || compareText(a.doid, b.doid),
  );
  const usedNode = new Set<string>();
  const usedTerm = new Set<string>();
  const pairs: JoinPair[] = [];
  for (const c of candidates) {
    if (usedNode.has(c.oncotree) || usedTerm.has(c.doid)) continue;
    usedNode.add(c.oncotree);
    usedTerm.add(c.doid);
    pairs.push({ oncotree: c.oncotree, doid: c.doid, evidence: c.evidence });
  }
  return pairs.sort((a, b) => compareText(a.oncotree, b.oncotree));
}
