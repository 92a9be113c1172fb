// The NCI Thesaurus disease branch as the tree needs it: one record per concept with its label,
// definition, synonyms, is_a parents and the NCIt roles (Disease_Has_Finding, Disease_Has_Abnormal_Cell,
// Disease_Has_Primary_Anatomic_Site, …) by their names, read from MONDO's OBO-graph extract.
import { SourceError } from './errors.ts';
import type { OboGraph } from './obo-graph.ts';

/** NCIt's neoplasm root; its descendants are the tumours the tree may add. */
export const NCIT_NEOPLASM = 'C3262';
/** NCIt's "Microscopic Finding": only findings below it describe what a pathologist sees. */
export const NCIT_MICROSCOPIC_FINDING = 'C83490';

export interface NcitRole {
  /** The role's NCIt name, e.g. "Disease_Has_Finding". */
  role: string;
  filler: string;
}

export interface NcitTerm {
  /** NCIt code without prefix, e.g. "C3512" (the form OncoTree and DO use). */
  code: string;
  label: string;
  definition: string | null;
  synonyms: string[];
  parents: string[];
  roles: NcitRole[];
  line: number;
}

export interface Ncit {
  file: string;
  terms: Map<string, NcitTerm>;
  children: Map<string, string[]>;
}

const codeOf = (id: string): string | null => /^NCIT:(C\d+)$/.exec(id)?.[1] ?? null;

export function ncitFromGraph(g: OboGraph): Ncit {
  const terms = new Map<string, NcitTerm>();
  const roleNames = new Map<string, string>();
  for (const n of g.nodes) {
    if (n.type === 'PROPERTY') {
      roleNames.set(n.id, n.label);
      continue;
    }
    const code = codeOf(n.id);
    if (!code || n.deprecated) continue;
    terms.set(code, {
      code,
      label: n.label,
      definition: n.definition,
      synonyms: n.synonyms.filter((s) => s.pred === 'hasExactSynonym').map((s) => s.text),
      parents: [],
      roles: [],
      line: n.line,
    });
  }
  const children = new Map<string, string[]>();
  for (const e of g.edges) {
    const sub = codeOf(e.sub);
    const obj = codeOf(e.obj);
    const term = sub ? terms.get(sub) : undefined;
    if (!term || !obj) {
      // NCIt's gene and process nodes have roles too; only edges of concepts in the file matter.
      if (sub && !terms.has(sub))
        throw new SourceError({ file: g.file, line: e.line, field: 'sub' }, `unknown node ${e.sub}`);
      continue;
    }
    if (e.pred === 'is_a') {
      term.parents.push(obj);
      const list = children.get(obj) ?? [];
      list.push(sub as string);
      children.set(obj, list);
    } else {
      term.roles.push({ role: roleNames.get(e.pred) ?? e.pred, filler: obj });
    }
  }
  return { file: g.file, terms, children };
}

export function descendants(ncit: Ncit, root: string): Set<string> {
  const out = new Set<string>();
  const stack = [root];
  while (stack.length > 0) {
    for (const c of ncit.children.get(stack.pop() as string) ?? []) {
      if (!out.has(c)) {
        out.add(c);
        stack.push(c);
      }
    }
  }
  return out;
}

/**
 * Stage, recurrence, metastasis, refractoriness, remission and treatment state qualify a disease
 * without making another one ("Stage IIIA Lung Cancer AJCC v7", "Recurrent Melanoma"): as diseases
 * of their own they would be near-copies of their parent whose texts differ only by the qualifier.
 */
const VARIANT =
  /\b(stages?|recurrent|relapsed|refractory|metastatic|metastasis|metastases|remission|untreated|previously treated|resectable|unresectable|locally advanced|advanced|ajcc|figo|ann arbor|lugano|postneoadjuvant)\b/i;

export function isVariantName(label: string): boolean {
  return VARIANT.test(label);
}

/** NCIt's navigation classes ("Neoplasm by Site", "Lung Cancer by AJCC v8 Stage") are not diseases. */
export function isGrouper(label: string): boolean {
  return /\sby\s/i.test(label);
}
