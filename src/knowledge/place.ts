// Puts Disease Ontology terms under OncoTree tissues. For each term, the first rule that gives a
// tissue wins:
//  1. it is joined to an OncoTree tumour type → that type's tissue;
//  2. its anatomical-location axiom ('disease has location' some X) names a site → X's tissue;
//  3. its name names a site ("vulvar leiomyosarcoma") → that site's tissue;
//  4. an ancestor in the DO hierarchy is placed → the nearest such ancestor's tissue (a site-specific
//     placement of a parent is preferred over one inherited through a tumour family). A class passes
//     its tissue down only when it is "pure": at least half of its descendants that have their own
//     site evidence (rules 1–3) are in that tissue. Broad classes that OncoTree happens to file in one
//     tissue ("cancer" = OncoTree's "Malignant Tumor", under CNS/Brain) would otherwise drag
//     thousands of unrelated descendants there;
//  5. its name names a tumour family that OncoTree files under one tissue (lymphoma → Lymphoid).
// Site evidence outranks the hierarchy so that "uterine leiomyosarcoma" lands under Uterus even
// though its parent "leiomyosarcoma" is an OncoTree Soft Tissue type.
import { lineageTissue, siteTissue } from './anatomy.ts';
import type { DoTerm } from './do-terms.ts';

export interface Placement {
  tissue: string;
  placedBy: string;
  /** 1–5, the rule above; lower is stronger. */
  rule: number;
}

export function placeDoTerms(
  terms: ReadonlyMap<string, DoTerm>,
  joined: ReadonlyMap<string, { tissue: string; code: string }>,
  tissues: ReadonlySet<string>,
): Map<string, Placement | null> {
  const memo = new Map<string, Placement | null>();
  const ownOf = new Map<string, Placement | null>();
  for (const t of terms.values()) ownOf.set(t.id, own(t));
  const purity = tissuePurity(terms, ownOf);

  function own(t: DoTerm): Placement | null {
    const j = joined.get(t.id);
    if (j) return { tissue: j.tissue, placedBy: `oncotree ${j.code}`, rule: 1 };
    for (const r of t.restrictions) {
      if (r.relation !== 'disease has location') continue;
      for (const f of r.fillers) {
        const m = siteTissue(f, tissues);
        if (m) return { tissue: m.tissue, placedBy: `location '${f}'`, rule: 2 };
      }
    }
    const byName = siteTissue(t.label, tissues);
    if (byName) return { tissue: byName.tissue, placedBy: `name '${byName.term}'`, rule: 3 };
    return null;
  }

  // The hierarchy is acyclic (checked when the terms were merged), so plain recursion terminates;
  // an explicit stack keeps deep chains from exhausting the call stack.
  const place = (id: string): Placement | null => {
    if (memo.has(id)) return memo.get(id) ?? null;
    const order: string[] = [];
    const stack = [id];
    const seen = new Set<string>();
    while (stack.length > 0) {
      const cur = stack.pop() as string;
      if (memo.has(cur) || seen.has(cur)) continue;
      seen.add(cur);
      order.push(cur);
      for (const e of terms.get(cur)?.parents ?? []) stack.push(e.parent);
    }
    // Resolve ancestors before descendants: reverse discovery order is not enough in a DAG, so
    // repeat until every term in `order` is settled.
    let pending = order.filter((x) => !memo.has(x));
    while (pending.length > 0) {
      const next: string[] = [];
      for (const cur of pending) {
        const t = terms.get(cur);
        if (!t) {
          memo.set(cur, null);
          continue;
        }
        const parents = t.parents.map((e) => e.parent);
        if (parents.some((p) => !memo.has(p) && terms.has(p))) {
          next.push(cur);
          continue;
        }
        memo.set(cur, decide(t, parents));
      }
      if (next.length === pending.length) throw new Error(`placement did not settle for ${next.join(', ')}`);
      pending = next;
    }
    return memo.get(id) ?? null;
  };

  const decide = (t: DoTerm, parents: readonly string[]): Placement | null => {
    const mine = ownOf.get(t.id);
    if (mine) return mine;
    let best: { p: Placement; parent: string } | undefined;
    for (const parent of parents) {
      const p = memo.get(parent);
      if (!p) continue;
      const shares = purity.get(parent);
      if (shares && (shares.get(p.tissue) ?? 0) < 0.5) continue;
      if (!best || p.rule < best.p.rule) best = { p, parent };
    }
    if (best)
      return { tissue: best.p.tissue, placedBy: `ancestor ${best.parent}`, rule: Math.max(4, best.p.rule) };
    const lineage = lineageTissue(t.label, tissues);
    if (lineage) return { tissue: lineage.tissue, placedBy: `family '${lineage.term}'`, rule: 5 };
    return null;
  };

  for (const id of [...terms.keys()].sort()) place(id);
  return memo;
}

/**
 * For each class, the share of each tissue among its descendants that carry their own site evidence;
 * a class without such descendants has no entry.
 */
export function tissuePurity(
  terms: ReadonlyMap<string, DoTerm>,
  ownOf: ReadonlyMap<string, Placement | null>,
): Map<string, Map<string, number>> {
  const counts = new Map<string, Map<string, number>>();
  for (const t of terms.values()) {
    const p = ownOf.get(t.id);
    if (!p) continue;
    const seen = new Set<string>();
    const stack = t.parents.map((e) => e.parent);
    while (stack.length > 0) {
      const a = stack.pop() as string;
      if (seen.has(a)) continue;
      seen.add(a);
      const c = counts.get(a) ?? new Map<string, number>();
      c.set(p.tissue, (c.get(p.tissue) ?? 0) + 1);
      counts.set(a, c);
      for (const e of terms.get(a)?.parents ?? []) stack.push(e.parent);
    }
  }
  const out = new Map<string, Map<string, number>>();
  for (const [id, c] of counts) {
    let total = 0;
    for (const n of c.values()) total += n;
    out.set(id, new Map([...c].map(([k, n]) => [k, n / total])));
  }
  return out;
}
