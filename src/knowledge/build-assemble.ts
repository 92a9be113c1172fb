// Assemble: each draft disease's parent (OncoTree's own, NCIt's, or the nearest DO ancestor that is
// a disease of the same tissue), then the tissues with their diseases, codes and attributes, sorted
// so that the same sources always give the same bytes.
import type { DoTerm } from './do-terms.ts';
import type { Drafts } from './build-join.ts';
import { compareText } from './normalise.ts';
import type { readOncotree } from './oncotree.ts';
import type { Codes, Disease, Tissue } from './schema.ts';

/** Parent of every draft (null at the top of its tissue). */
export function findParents(
  { drafts, diseaseOfDo }: Drafts,
  terms: ReadonlyMap<string, DoTerm>,
  ncitParents: ReadonlyMap<string, string | null>,
): Map<string, string | null> {
  const parentOf = new Map<string, string | null>();
  for (const d of drafts.values()) {
    if (d.id.startsWith('ONCOTREE:')) {
      parentOf.set(d.id, d.oncotreeParent);
      continue;
    }
    if (ncitParents.has(d.id)) {
      parentOf.set(d.id, ncitParents.get(d.id) ?? null);
      continue;
    }
    // DO ancestors elsewhere belong to another branch of the tree: breadth-first to the nearest
    // one that is a disease of the same tissue.
    const t = terms.get(d.id);
    let found: string | null = null;
    const seen = new Set<string>([d.id]);
    let frontier = (t?.parents ?? []).map((e) => e.parent);
    while (frontier.length > 0 && !found) {
      const next: string[] = [];
      for (const p of frontier) {
        if (seen.has(p)) continue;
        seen.add(p);
        const candidate = diseaseOfDo.get(p);
        if (candidate && drafts.get(candidate)?.tissue === d.tissue) {
          found = candidate;
          break;
        }
        next.push(...(terms.get(p)?.parents ?? []).map((e) => e.parent));
      }
      frontier = next;
    }
    parentOf.set(d.id, found);
  }
  return parentOf;
}

export function assembleTissues(
  oncotree: ReturnType<typeof readOncotree>,
  { drafts }: Drafts,
  parentOf: ReadonlyMap<string, string | null>,
): Tissue[] {
  const tissues: Tissue[] = oncotree.tissues
    .map((n) => ({
      id: n.code,
      name: n.name,
      codes: { ncit: [...n.ncit].sort(), umls: [...n.umls].sort() },
      diseases: [] as Disease[],
    }))
    .sort((a, b) => compareText(a.id, b.id));
  const tissueOf = new Map(tissues.map((t) => [t.id, t]));
  const children = new Map<string, string[]>();
  for (const [id, parent] of parentOf) {
    if (parent === null) continue;
    const list = children.get(parent) ?? [];
    list.push(id);
    children.set(parent, list);
  }
  const uniqSorted = (xs: string[]) => [...new Set(xs)].sort(compareText);
  for (const d of [...drafts.values()].sort((a, b) => compareText(a.id, b.id))) {
    const codes: Codes = {
      oncotree: uniqSorted(d.codes.oncotree),
      doid: uniqSorted(d.codes.doid),
      ncit: uniqSorted(d.codes.ncit),
      umls: uniqSorted(d.codes.umls),
      icdo: uniqSorted(d.codes.icdo),
    };
    tissueOf.get(d.tissue)?.diseases.push({
      id: d.id,
      name: d.name,
      parent: parentOf.get(d.id) ?? null,
      children: (children.get(d.id) ?? []).sort(compareText),
      placedBy: d.placedBy,
      codes,
      attributes: d.attrs.list(),
    });
  }
  return tissues;
}
