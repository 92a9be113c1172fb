// Attributes from DO for every disease joined to or made from a DO term: its codes, name and
// synonyms (not BROAD ones), definitions, the histology and cytology sentences the classifier finds
// in them, and sentences made from 'derives from' axioms.
import { classifySentence } from './classify.ts';
import type { DoTerm } from './do-terms.ts';
import type { BuildFigures } from './build-join.ts';
import type { DraftDisease } from './ncit-build.ts';
import { cleanText } from './normalise.ts';
import type { AttributeKind } from './schema.ts';
import { sourceSpec } from './sources.ts';
import { splitSentences } from './sentences.ts';

function pluralCell(filler: string): string {
  if (/(cell|cyte|blast|phage)$/.test(filler)) return `${filler}s`;
  if (filler === 'mucosa') return 'the mucosa';
  return filler;
}

export function addDoAttributes(
  drafts: ReadonlyMap<string, DraftDisease>,
  terms: ReadonlyMap<string, DoTerm>,
  figures: BuildFigures,
): void {
  let histFromDefs = 0;
  let cytoFromDefs = 0;
  let fromAxioms = 0;
  for (const d of drafts.values()) {
    const t = d.doid ? terms.get(d.doid) : undefined;
    if (!t) continue;
    addNamesAndDefinitions(d, t);
    const found = addDefinitionSentences(d, t, terms);
    histFromDefs += found.histology;
    cytoFromDefs += found.cytology;
    fromAxioms += addAxiomSentences(d, t);
  }
  figures['histologyFromDefinitions'] = histFromDefs;
  figures['cytologyFromDefinitions'] = cytoFromDefs;
  figures['featuresFromAxioms'] = fromAxioms;
}

function addNamesAndDefinitions(d: DraftDisease, t: DoTerm): void {
  d.codes.doid.push(t.id);
  d.codes.ncit.push(...t.ncit);
  d.codes.umls.push(...t.umls);
  d.codes.icdo.push(...t.icdo);
  if (d.id === t.id) d.attrs.add('name', t.label, t.labelProvenance);
  else d.attrs.add('synonym', t.label, t.labelProvenance);
  // BROAD synonyms name a wider class ("cancer" for a subtype): as samples they would teach
  // the encoder that the subtype and the class are the same thing.
  for (const s of t.synonyms) if (s.scope !== 'BROAD') d.attrs.add('synonym', s.text, s.provenance);
  const currentDefs = t.definitions.filter((x) => x.current);
  for (const def of currentDefs.length > 0 ? currentDefs : t.definitions)
    d.attrs.add('definition', def.text, def.provenance);
}

/** Histology and cytology sentences of the term's definitions; returns how many were new. */
function addDefinitionSentences(
  d: DraftDisease,
  t: DoTerm,
  terms: ReadonlyMap<string, DoTerm>,
): { histology: number; cytology: number } {
  const found = { histology: 0, cytology: 0 };
  const names = [
    d.name,
    t.label,
    ...t.synonyms.map((s) => s.text),
    ...t.parents.map((e) => terms.get(e.parent)?.label ?? ''),
  ];
  for (const def of t.definitions) {
    const sentences = splitSentences(cleanText(def.text));
    sentences.forEach((sentence, i) => {
      const c = classifySentence(sentence, names);
      if (c.label === 'other') return;
      const prov = { ...def.provenance, ref: `${def.provenance.ref} sentence ${i + 1}` };
      if (d.attrs.add(c.label, sentence, prov)) {
        if (c.label === 'histology') found.histology++;
        else found.cytology++;
      }
    });
  }
  return found;
}

/** "X derives from epithelial cells of glandular origin." from 'derives from' axioms; returns how many were new. */
function addAxiomSentences(d: DraftDisease, t: DoTerm): number {
  let added = 0;
  const origin = t.restrictions.find((r) => r.relation === 'has_origin')?.fillers[0];
  for (const r of t.restrictions) {
    if (r.relation !== 'derives from') continue;
    const what = r.fillers.map(pluralCell).join(r.alternatives ? ' or ' : ' and ');
    const kind: AttributeKind = r.fillers.every((f) => /(cell|cyte|blast|phage|sperm)$/.test(f))
      ? 'cytology'
      : 'histology';
    const originWord = origin === 'gland' ? 'glandular' : origin;
    const text = `${d.name} derives from ${what}${originWord && kind === 'cytology' ? ` of ${originWord} origin` : ''}.`;
    if (
      d.attrs.add(kind, text, {
        source: 'do-axioms',
        ref: `${t.id} 'derives from'`,
        licence: sourceSpec('do-axioms').licence,
      })
    )
      added++;
  }
  return added;
}
