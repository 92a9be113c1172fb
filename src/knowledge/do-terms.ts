// One record per current Disease Ontology term, merged from the DO files: labels and the asserted
// hierarchy from HumanDO.tsv, is_a/synonyms/definitions/xrefs from the current OBO subsets, NCIt codes
// from NCIinDO.tsv, axioms from the subClassOf report, and the 2016 full release to fill what the
// current subsets lack (terms they do not cover, definitions they do not give, merged terms' synonyms).
import { SourceError } from './errors.ts';
import type { DiseaseAxioms, Restriction } from './do-axioms.ts';
import type { HumanDoRow, NciInDoRow } from './do-reports.ts';
import type { OboDocument, SynonymScope } from './obo.ts';
import type { Provenance } from './schema.ts';
import type { SourceId } from './sources.ts';

export interface DoSynonym {
  text: string;
  scope: SynonymScope;
  type?: string;
  provenance: Provenance;
}

export interface DoDefinition {
  text: string;
  /** True for the current release; the 2016 text only fills a gap. */
  current: boolean;
  provenance: Provenance;
}

export interface DoEdge {
  parent: string;
  file: string;
  line: number;
  field: string;
}

export interface DoTerm {
  id: string;
  label: string;
  labelProvenance: Provenance;
  parents: DoEdge[];
  ncit: string[];
  umls: string[];
  icdo: string[];
  synonyms: DoSynonym[];
  definitions: DoDefinition[];
  restrictions: Restriction[];
}

export interface DoObo {
  source: SourceId;
  licence: string;
  doc: OboDocument;
}

export interface DoInputs {
  humanDo: { source: SourceId; file: string; licence: string; rows: HumanDoRow[] };
  nciMap: { file: string; licence: string; rows: NciInDoRow[] };
  axioms: { file: string; licence: string; rows: DiseaseAxioms[] };
  /** Current OBO subsets, most preferred first. */
  current: DoObo[];
  historical?: DoObo;
}

/** The DO root, which HumanDO.tsv names as a parent but does not list as a term. */
const ROOT_LABEL = 'disease';

function addUnique(list: string[], values: Iterable<string>): void {
  for (const v of values) if (!list.includes(v)) list.push(v);
}

function codesOf(xrefs: readonly string[], prefix: string): string[] {
  return xrefs.filter((x) => x.startsWith(prefix)).map((x) => x.slice(prefix.length));
}

export function mergeDoTerms(inputs: DoInputs): Map<string, DoTerm> {
  const terms = new Map<string, DoTerm>();
  const blank = (id: string, label: string, labelProvenance: Provenance): DoTerm => ({
    id,
    label,
    labelProvenance,
    parents: [],
    ncit: [],
    umls: [],
    icdo: [],
    synonyms: [],
    definitions: [],
    restrictions: [],
  });

  const { humanDo } = inputs;
  const byLabel = new Map<string, string>();
  for (const row of humanDo.rows) {
    if (!terms.has(row.id))
      terms.set(
        row.id,
        blank(row.id, row.label, {
          source: humanDo.source,
          ref: `${row.id} label`,
          licence: humanDo.licence,
        }),
      );
    byLabel.set(row.label, row.id);
  }
  for (const row of humanDo.rows) {
    if (row.parentLabel === '' || row.parentLabel === ROOT_LABEL) continue;
    const parent = byLabel.get(row.parentLabel);
    if (!parent) {
      throw new SourceError(
        { file: humanDo.file, line: row.line, field: 'subClassOf' },
        `parent ${JSON.stringify(row.parentLabel)} of ${row.id} is not a term in this file`,
      );
    }
    const term = terms.get(row.id);
    if (term && !term.parents.some((e) => e.parent === parent)) {
      term.parents.push({ parent, file: humanDo.file, line: row.line, field: 'subClassOf' });
    }
  }

  const altIds = new Map<string, string>();
  for (const { source, licence, doc } of inputs.current) {
    for (const t of doc.terms) {
      if (t.obsolete) continue;
      let term = terms.get(t.id);
      if (!term) {
        term = blank(t.id, t.name, { source, ref: `${t.id} name`, licence });
        terms.set(t.id, term);
      }
      for (const a of t.altIds) altIds.set(a, t.id);
      for (const e of t.isA) {
        if (!term.parents.some((p) => p.parent === e.id))
          term.parents.push({ parent: e.id, file: doc.file, line: e.line, field: 'is_a' });
      }
      addUnique(term.ncit, codesOf(t.xrefs, 'NCI:'));
      addUnique(term.umls, codesOf(t.xrefs, 'UMLS_CUI:'));
      addUnique(term.icdo, codesOf(t.xrefs, 'ICDO:'));
      for (const s of t.synonyms) {
        const syn: DoSynonym = {
          text: s.text,
          scope: s.scope,
          provenance: { source, ref: `${t.id} synonym ${s.scope}`, licence },
        };
        if (s.type) syn.type = s.type;
        term.synonyms.push(syn);
      }
      if (t.def)
        term.definitions.push({
          text: t.def.text,
          current: true,
          provenance: { source, ref: `${t.id} def`, licence },
        });
    }
  }

  for (const row of inputs.nciMap.rows) {
    const term = terms.get(row.id);
    if (term) addUnique(term.ncit, row.ncit);
  }
  for (const row of inputs.axioms.rows) terms.get(row.id)?.restrictions.push(...row.restrictions);

  const hist = inputs.historical;
  if (hist) {
    const { source, licence, doc } = hist;
    for (const t of doc.terms) {
      if (t.obsolete) continue;
      const id = terms.has(t.id) ? t.id : altIds.get(t.id);
      const term = id === undefined ? undefined : terms.get(id);
      if (!term) continue;
      for (const s of t.synonyms) {
        const syn: DoSynonym = {
          text: s.text,
          scope: s.scope,
          provenance: { source, ref: `${t.id} synonym ${s.scope}`, licence },
        };
        if (s.type) syn.type = s.type;
        term.synonyms.push(syn);
      }
      // A 2016 term merged into a current one keeps its old name as a synonym of the survivor.
      if (t.id !== term.id) {
        term.synonyms.push({
          text: t.name,
          scope: 'EXACT',
          provenance: { source, ref: `${t.id} name (merged into ${term.id})`, licence },
        });
      }
      if (t.def)
        term.definitions.push({
          text: t.def.text,
          current: false,
          provenance: { source, ref: `${t.id} def`, licence },
        });
      if (term.ncit.length === 0) addUnique(term.ncit, codesOf(t.xrefs, 'NCI:'));
      if (term.umls.length === 0) addUnique(term.umls, codesOf(t.xrefs, 'UMLS_CUI:'));
      if (term.icdo.length === 0) addUnique(term.icdo, codesOf(t.xrefs, 'ICDO:'));
    }
  }

  for (const term of terms.values()) {
    // An is_a to a term outside the current release (obsolete, or cut from every file given) is dropped.
    term.parents = term.parents.filter((e) => terms.has(e.parent) && e.parent !== term.id);
    term.ncit.sort();
    term.umls.sort();
    term.icdo.sort();
  }
  checkAcyclic(terms);
  return terms;
}

/** Depth-first search for a cycle; the error points at the edge that closes it. */
export function checkAcyclic(terms: ReadonlyMap<string, DoTerm>): void {
  const state = new Map<string, 1 | 2>();
  const ids = [...terms.keys()].sort();
  for (const start of ids) {
    if (state.has(start)) continue;
    const stack: { id: string; next: number }[] = [{ id: start, next: 0 }];
    const path: string[] = [start];
    state.set(start, 1);
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      if (!top) break;
      const term = terms.get(top.id);
      const edge = term?.parents[top.next];
      if (!edge) {
        state.set(top.id, 2);
        stack.pop();
        path.pop();
        continue;
      }
      top.next++;
      const s = state.get(edge.parent);
      if (s === 1) {
        const cycle = [...path.slice(path.indexOf(edge.parent)), edge.parent];
        // Every edge of the cycle with its place: the wrong one may be in another file.
        const places = cycle.slice(0, -1).map((child, k) => {
          const e = terms.get(child)?.parents.find((x) => x.parent === cycle[k + 1]);
          return e ? `${child} → ${e.parent} at ${e.file}:${e.line}` : `${child} → ${cycle[k + 1] ?? ''}`;
        });
        throw new SourceError(
          { file: edge.file, line: edge.line, field: edge.field },
          `cycle in the disease hierarchy: ${cycle.join(' → ')} (${places.join('; ')})`,
        );
      }
      if (s === undefined) {
        state.set(edge.parent, 1);
        stack.push({ id: edge.parent, next: 0 });
        path.push(edge.parent);
      }
    }
  }
}
