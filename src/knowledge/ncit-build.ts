// Adds the NCI Thesaurus to a tree being built: texts of joined diseases (ncit-join.ts), NCIt
// neoplasms the tree lacks as new diseases placed under a tissue, histology and cytology from NCIt's
// roles (ncit-texts.ts) and from the definition sentences the classifier assigns to those kinds.
import { AttributeSet } from './attributes.ts';
import { classifySentence } from './classify.ts';
import type { DoTerm } from './do-terms.ts';
import { descendants, isGrouper, isVariantName, NCIT_NEOPLASM, type Ncit, type NcitTerm } from './ncit.ts';
import { joinToNcit, mondoCode, type MondoMaps, type NcitJoin } from './ncit-join.ts';
import { listText, pluralCells, ROLE_PHRASES, runningText } from './ncit-texts.ts';
import { cleanText, compareText, nameKey } from './normalise.ts';
import { placeDoTerms, type Placement } from './place.ts';
import type { Codes, Provenance } from './schema.ts';
import { splitSentences } from './sentences.ts';

/** A disease while the tree is built (build.ts makes them from OncoTree and DO). */
export interface DraftDisease {
  id: string;
  name: string;
  tissue: string;
  placedBy: string;
  oncotreeParent: string | null;
  doid: string | null;
  codes: Codes;
  attrs: AttributeSet;
}

export const NCIT_SOURCE = 'ncit-disease';
const NCIT_LICENCE = 'CC-BY-4.0';
const prov = (ref: string): Provenance => ({ source: NCIT_SOURCE, ref, licence: NCIT_LICENCE });

export interface NcitAddition {
  /** Parent of each new NCIt disease (a disease of the same tissue, or null). */
  parents: Map<string, string | null>;
  figures: Record<string, number>;
}

/** NCIt concepts as DO-shaped terms, so that place.ts can place them with the same rules. */
function asPlaceable(ncit: Ncit): Map<string, DoTerm> {
  const out = new Map<string, DoTerm>();
  for (const t of ncit.terms.values()) {
    const sites = t.roles.filter((r) => r.role === 'Disease_Has_Primary_Anatomic_Site');
    out.set(`NCIT:${t.code}`, {
      id: `NCIT:${t.code}`,
      label: t.label,
      labelProvenance: prov(`${t.code} label`),
      parents: t.parents
        .filter((p) => ncit.terms.has(p))
        .map((p) => ({ parent: `NCIT:${p}`, file: ncit.file, line: t.line, field: 'is_a' })),
      ncit: [t.code],
      umls: [],
      icdo: [],
      synonyms: [],
      definitions: [],
      // The primary anatomic site plays the part of DO's location axiom (placement rule 2).
      restrictions: sites.map((r) => ({
        relation: 'disease has location',
        fillers: [ncit.terms.get(r.filler)?.label ?? r.filler],
        alternatives: false,
      })),
    });
  }
  return out;
}

function isBelow(ncit: Ncit, code: string, root: string, memo: Map<string, boolean>): boolean {
  if (code === root) return true;
  const m = memo.get(code);
  if (m !== undefined) return m;
  memo.set(code, false);
  const v = (ncit.terms.get(code)?.parents ?? []).some((p) => isBelow(ncit, p, root, memo));
  memo.set(code, v);
  return v;
}

/** Histology and cytology sentences from the roles of one NCIt concept; returns how many were new. */
function addRoleTexts(d: DraftDisease, t: NcitTerm, ncit: Ncit, memo: Map<string, boolean>): number {
  let added = 0;
  for (const phrase of ROLE_PHRASES) {
    const fillers = t.roles
      .filter((r) => phrase.roles.includes(r.role))
      .filter((r) => !phrase.under || isBelow(ncit, r.filler, phrase.under, memo))
      .map((r) => ncit.terms.get(r.filler)?.label ?? '')
      .filter((l) => l !== '')
      .map((l) => (phrase.kind === 'cytology' ? pluralCells(runningText(l)) : runningText(l)));
    const unique = [...new Set(fillers)].sort(compareText);
    if (unique.length === 0) continue;
    const text = phrase.sentence(listText(unique));
    if (d.attrs.add(phrase.kind, text, prov(`${t.code} ${phrase.roles.join('/')}`))) added++;
  }
  return added;
}

function addDefinition(d: DraftDisease, t: NcitTerm, figures: Record<string, number>): void {
  if (!t.definition) return;
  if (d.attrs.add('definition', t.definition, prov(`${t.code} definition`))) figures['ncitDefinitions']!++;
  const names = [d.name, t.label, ...t.synonyms];
  splitSentences(cleanText(t.definition)).forEach((sentence, i) => {
    const c = classifySentence(sentence, names);
    if (c.label === 'other') return;
    if (d.attrs.add(c.label, sentence, prov(`${t.code} definition sentence ${i + 1}`)))
      figures[c.label === 'histology' ? 'ncitHistologyFromDefinitions' : 'ncitCytologyFromDefinitions']!++;
  });
}

function newDiseases(
  drafts: Map<string, DraftDisease>,
  ncit: Ncit,
  carried: ReadonlySet<string>,
  placements: Map<string, Placement | null>,
  tissueCodes: ReadonlySet<string>,
  fallbackTissue: string,
  figures: Record<string, number>,
): string[] {
  const added: string[] = [];
  for (const code of [...descendants(ncit, NCIT_NEOPLASM)].sort(compareText)) {
    const t = ncit.terms.get(code) as NcitTerm;
    if (carried.has(code)) continue;
    if (isVariantName(t.label) || isGrouper(t.label)) {
      figures[isGrouper(t.label) ? 'ncitNeoplasmGroupersLeftOut' : 'ncitNeoplasmVariantsLeftOut']!++;
      continue;
    }
    let p = placements.get(`NCIT:${code}`) ?? null;
    if (!p || !tissueCodes.has(p.tissue)) {
      figures['ncitNeoplasmsUnderOther']!++;
      p = { tissue: fallbackTissue, placedBy: 'no site (neoplasm without location)', rule: 6 };
    }
    const id = `NCIT:${code}`;
    const attrs = new AttributeSet();
    attrs.add('name', t.label, prov(`${code} label`));
    drafts.set(id, {
      id,
      name: cleanText(t.label),
      tissue: p.tissue,
      placedBy: p.placedBy,
      oncotreeParent: null,
      doid: null,
      codes: { oncotree: [], doid: [], ncit: [code], umls: [], icdo: [] },
      attrs,
    });
    added.push(id);
  }
  figures['ncitNewDiseases'] = added.length;
  return added;
}

export function addNcit(
  drafts: Map<string, DraftDisease>,
  ncit: Ncit,
  mondo: MondoMaps,
  tissueCodes: ReadonlySet<string>,
  fallbackTissue: string,
): NcitAddition {
  const candidates = [...drafts.values()].map((d) => ({
    id: d.id,
    ncit: d.codes.ncit,
    doid: d.doid,
    oncotree: d.codes.oncotree[0] ?? null,
    names: d.attrs
      .list()
      .filter((a) => a.kind === 'name' || a.kind === 'synonym')
      .map((a) => a.text),
  }));
  const { joins, figures } = joinToNcit(candidates, ncit, mondo);
  for (const k of [
    'ncitNewDiseases',
    'ncitNeoplasmVariantsLeftOut',
    'ncitNeoplasmGroupersLeftOut',
    'ncitNeoplasmsUnderOther',
    'ncitDefinitions',
    'ncitSynonyms',
    'ncitSynonymsNamingAnotherDisease',
    'ncitRoleTexts',
    'ncitHistologyFromDefinitions',
    'ncitCytologyFromDefinitions',
  ])
    figures[k] = 0;

  const carried = new Set<string>();
  for (const c of candidates) {
    for (const code of c.ncit) carried.add(code);
    const m = mondoCode(c, mondo);
    if (m) carried.add(m);
  }
  joinByName(drafts, ncit, joins, carried, figures);
  figures['ncitJoinedDiseases'] = joins.size;
  const diseaseOfCode = new Map<string, string>();
  const joinedTissue = new Map<string, { tissue: string; code: string }>();
  for (const [id, list] of joins) {
    for (const j of list) {
      // A code found through MONDO becomes one of the disease's codes.
      if (j.evidence === 'mondo') drafts.get(id)?.codes.ncit.push(j.code);
      diseaseOfCode.set(j.code, id);
      joinedTissue.set(`NCIT:${j.code}`, { tissue: drafts.get(id)?.tissue as string, code: id });
    }
  }
  const placeable = asPlaceable(ncit);
  const placements = placeDoTerms(placeable, joinedTissue, tissueCodes);
  const added = newDiseases(drafts, ncit, carried, placements, tissueCodes, fallbackTissue, figures);
  for (const id of added) diseaseOfCode.set(id.slice('NCIT:'.length), id);

  // A synonym that is another disease's name would label one text with two diseases.
  const nameOwner = new Map<string, string>();
  for (const d of drafts.values()) nameOwner.set(nameKey(d.name), d.id);
  const memo = new Map<string, boolean>();
  const sources = [...joins].map(([id, list]) => [id, list.map((j) => j.code)] as const);
  for (const id of added) sources.push([id, [id.slice('NCIT:'.length)]]);
  for (const [id, codes] of sources) {
    const d = drafts.get(id) as DraftDisease;
    for (const code of codes) {
      const t = ncit.terms.get(code) as NcitTerm;
      for (const [text, ref] of [[t.label, 'label'], ...t.synonyms.map((s) => [s, 'synonym'])] as const) {
        const owner = nameOwner.get(nameKey(text));
        if (owner !== undefined && owner !== id) {
          figures['ncitSynonymsNamingAnotherDisease']!++;
          continue;
        }
        if (isVariantName(text) && !isVariantName(d.name)) continue;
        if (d.attrs.add('synonym', text, prov(`${code} ${ref}`))) figures['ncitSynonyms']!++;
      }
      addDefinition(d, t, figures);
      figures['ncitRoleTexts']! += addRoleTexts(d, t, ncit, memo);
    }
  }
  return { parents: ncitParents(added, drafts, ncit, diseaseOfCode), figures };
}

/**
 * An NCIt neoplasm no code joined whose label is a name or synonym of a disease of the tree is that
 * disease, not a new one (OncoTree types whose NCIt code is newer than the 2018 file, DO terms without
 * a code). It joins the disease when exactly one disease has that name and the disease joined no other
 * NCIt concept; otherwise it is left out, as a duplicate, rather than added.
 */
function joinByName(
  drafts: ReadonlyMap<string, DraftDisease>,
  ncit: Ncit,
  joins: Map<string, NcitJoin[]>,
  carried: Set<string>,
  figures: Record<string, number>,
): void {
  const owners = new Map<string, Set<string>>();
  for (const d of drafts.values()) {
    for (const a of d.attrs.list()) {
      if (a.kind !== 'name' && a.kind !== 'synonym') continue;
      const k = nameKey(a.text);
      (owners.get(k) ?? owners.set(k, new Set()).get(k))?.add(d.id);
    }
  }
  figures['ncitJoinedByName'] = 0;
  figures['ncitNeoplasmsDuplicatingADisease'] = 0;
  const taken = new Set<string>();
  for (const code of [...descendants(ncit, NCIT_NEOPLASM)].sort(compareText)) {
    const t = ncit.terms.get(code) as NcitTerm;
    if (carried.has(code) || isVariantName(t.label) || isGrouper(t.label)) continue;
    const who = owners.get(nameKey(t.label));
    if (!who) continue;
    carried.add(code);
    const [only] = who;
    if (who.size === 1 && only !== undefined && !joins.has(only) && !taken.has(only)) {
      taken.add(only);
      joins.set(only, [{ code, evidence: 'name' }]);
      drafts.get(only)?.codes.ncit.push(code);
      figures['ncitJoinedByName']!++;
    } else {
      figures['ncitNeoplasmsDuplicatingADisease']!++;
    }
  }
}

/** The nearest NCIt ancestor that is a disease of the same tissue. */
function ncitParents(
  added: readonly string[],
  drafts: ReadonlyMap<string, DraftDisease>,
  ncit: Ncit,
  diseaseOfCode: ReadonlyMap<string, string>,
): Map<string, string | null> {
  const out = new Map<string, string | null>();
  for (const id of added) {
    const tissue = drafts.get(id)?.tissue;
    const seen = new Set<string>();
    let frontier = [...(ncit.terms.get(id.slice('NCIT:'.length))?.parents ?? [])].sort(compareText);
    let found: string | null = null;
    while (frontier.length > 0 && found === null) {
      const next: string[] = [];
      for (const code of frontier) {
        if (seen.has(code)) continue;
        seen.add(code);
        const candidate = diseaseOfCode.get(code);
        if (candidate && candidate !== id && drafts.get(candidate)?.tissue === tissue) {
          found = candidate;
          break;
        }
        next.push(...(ncit.terms.get(code)?.parents ?? []));
      }
      frontier = next.sort(compareText);
    }
    out.set(id, found);
  }
  return out;
}
