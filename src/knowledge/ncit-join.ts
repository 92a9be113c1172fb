// Which NCIt concept gives its texts to which disease of the tree. Rules (docs/knowledge.md):
//  - a disease's candidate codes are the NCIt codes it already carries (OncoTree's NCI reference, DO's
//    xrefs and NCIinDO.tsv); a disease without one borrows MONDO's: DOID (or OncoTree code) → MONDO →
//    NCIt, each step a one-to-one exact mapping;
//  - a code outside the NCIt file, or one naming a stage/recurrence/metastasis variant or a navigation
//    class, joins nothing;
//  - a code is joined only when it is unambiguous: exactly one disease of the tree is a candidate for it;
//  - a disease with several candidate codes joins only the exact ones: the NCIt label or a synonym equals
//    one of the disease's names, or MONDO maps the disease to that code. Several codes mostly mean a DO
//    term cross-referenced to a broader or sibling concept, whose texts would be wrong for it.
import { isGrouper, isVariantName, type Ncit } from './ncit.ts';
import { compareText, nameKey } from './normalise.ts';
import type { SssomMapping } from './sssom.ts';

export interface JoinCandidate {
  id: string;
  /** NCIt codes the disease carries ("C3512"). */
  ncit: readonly string[];
  doid: string | null;
  oncotree: string | null;
  /** Name and synonyms of the disease. */
  names: readonly string[];
}

/** How a disease found its NCIt concept: its own code, MONDO's mapping, or (ncit-build.ts) its name. */
export type NcitEvidence = 'code' | 'mondo' | 'name';

export interface NcitJoin {
  code: string;
  evidence: NcitEvidence;
}

/** One-to-one exact mappings: each side maps to exactly one of the other. */
export function oneToOne(mappings: readonly SssomMapping[]): Map<string, string> {
  const fwd = new Map<string, Set<string>>();
  const back = new Map<string, Set<string>>();
  for (const m of mappings) {
    (fwd.get(m.subject) ?? fwd.set(m.subject, new Set()).get(m.subject))?.add(m.object);
    (back.get(m.object) ?? back.set(m.object, new Set()).get(m.object))?.add(m.subject);
  }
  const out = new Map<string, string>();
  for (const [s, os] of fwd) {
    const [o] = os;
    if (os.size === 1 && o !== undefined && back.get(o)?.size === 1) out.set(s, o);
  }
  return out;
}

export interface MondoMaps {
  /** MONDO → NCIt code ("C3512"), one-to-one. */
  ncit: ReadonlyMap<string, string>;
  /** DOID → MONDO, one-to-one. */
  doid: ReadonlyMap<string, string>;
  /** OncoTree code → MONDO, one-to-one. */
  oncotree: ReadonlyMap<string, string>;
}

export function mondoMaps(ncit: SssomMapping[], doid: SssomMapping[], oncotree: SssomMapping[]): MondoMaps {
  const invert = (m: Map<string, string>) => new Map([...m].map(([a, b]) => [b, a]));
  const strip = (m: Map<string, string>, prefix: string) =>
    new Map([...m].map(([a, b]) => [a, b.startsWith(prefix) ? b.slice(prefix.length) : b]));
  return {
    ncit: strip(oneToOne(ncit.filter((m) => m.predicate === 'skos:exactMatch')), 'NCIT:'),
    doid: invert(oneToOne(doid.filter((m) => m.predicate === 'skos:exactMatch'))),
    oncotree: new Map(
      [...invert(oneToOne(oncotree))].map(([k, v]) => [k.replace(/^ONCOTREE:/, ''), v] as const),
    ),
  };
}

export function mondoCode(d: JoinCandidate, mondo: MondoMaps): string | undefined {
  const viaDo = d.doid ? mondo.doid.get(d.doid) : undefined;
  const viaOnco = d.oncotree ? mondo.oncotree.get(d.oncotree) : undefined;
  const m = viaDo ?? viaOnco;
  return m ? mondo.ncit.get(m) : undefined;
}

export interface NcitJoinResult {
  joins: Map<string, NcitJoin[]>;
  figures: Record<string, number>;
}

export function joinToNcit(diseases: readonly JoinCandidate[], ncit: Ncit, mondo: MondoMaps): NcitJoinResult {
  const figures: Record<string, number> = {
    ncitCodesNotInFile: 0,
    ncitCodesVariant: 0,
    ncitCodesAmbiguous: 0,
    ncitCodesNotExact: 0,
    ncitMondoAgrees: 0,
    ncitMondoDisagrees: 0,
    ncitJoinedByCode: 0,
    ncitJoinedByMondo: 0,
  };
  const candidates = new Map<string, { code: string; evidence: NcitEvidence }[]>();
  const claimants = new Map<string, number>();
  for (const d of diseases) {
    const viaMondo = mondoCode(d, mondo);
    if (viaMondo && d.ncit.length > 0)
      figures[d.ncit.includes(viaMondo) ? 'ncitMondoAgrees' : 'ncitMondoDisagrees']!++;
    const list =
      d.ncit.length > 0
        ? [...new Set(d.ncit)].map((code) => ({ code, evidence: 'code' as const }))
        : viaMondo
          ? [{ code: viaMondo, evidence: 'mondo' as const }]
          : [];
    const usable = list.filter(({ code }) => {
      const t = ncit.terms.get(code);
      if (!t) return (figures['ncitCodesNotInFile']!++, false);
      if (isVariantName(t.label) || isGrouper(t.label)) return (figures['ncitCodesVariant']!++, false);
      return true;
    });
    candidates.set(d.id, usable);
    for (const { code } of usable) claimants.set(code, (claimants.get(code) ?? 0) + 1);
  }
  const joins = new Map<string, NcitJoin[]>();
  for (const d of diseases) {
    const list = candidates.get(d.id) ?? [];
    const unambiguous = list.filter(({ code }) => {
      if ((claimants.get(code) ?? 0) === 1) return true;
      figures['ncitCodesAmbiguous']!++;
      return false;
    });
    let kept = unambiguous;
    if (list.length > 1) {
      const keys = new Set(d.names.map(nameKey));
      const viaMondo = mondoCode(d, mondo);
      kept = unambiguous.filter(({ code }) => {
        const t = ncit.terms.get(code);
        const exact =
          code === viaMondo ||
          (t !== undefined && [t.label, ...t.synonyms].some((s) => keys.has(nameKey(s))));
        if (!exact) figures['ncitCodesNotExact']!++;
        return exact;
      });
    }
    if (kept.length === 0) continue;
    kept.sort((a, b) => compareText(a.code, b.code));
    joins.set(d.id, kept);
    for (const k of kept) figures[k.evidence === 'code' ? 'ncitJoinedByCode' : 'ncitJoinedByMondo']!++;
  }
  return { joins, figures };
}
