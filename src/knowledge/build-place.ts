// Place: DO's neoplasms and organ-system diseases that no OncoTree type stands for, each placed
// under a tissue (place.ts's rules); neoplasms that nothing places go under OTHER, organ diseases
// that nothing places and hereditary syndromes are left out.
import { AttributeSet } from './attributes.ts';
import type { DoTerm } from './do-terms.ts';
import { emptyCodes, type BuildFigures, type OncotreeJoin } from './build-join.ts';
import { compareText, cleanText } from './normalise.ts';
import { placeDoTerms, type Placement } from './place.ts';

/** DO roots whose descendants are candidate diseases. */
export const NEOPLASM_ROOT = 'DOID:14566'; // disease of cellular proliferation
/**
 * Non-neoplastic diseases come from the DO organ systems that correspond to OncoTree tissues and whose
 * diseases are diagnosed on tissue (gastritis, hepatitis, glomerulonephritis, dermatitis, osteomyelitis).
 * Left out: the nervous, sensory, cardiovascular, muscular and immune systems, whose DO branches are
 * mostly clinical and functional syndromes (epilepsy, glaucoma, arrhythmia) with no tissue picture.
 */
export const ORGAN_SYSTEM_ROOTS: readonly string[] = [
  'DOID:77', // gastrointestinal system disease
  'DOID:1579', // respiratory system disease
  'DOID:18', // urinary system disease
  'DOID:15', // reproductive system disease
  'DOID:16', // integumentary system disease
  'DOID:28', // endocrine system disease
  'DOID:3463', // breast disease
  'DOID:4961', // bone marrow disease
  'DOID:75', // lymphatic system disease
  'DOID:0080001', // bone disease
  'DOID:0050117', // disease by infectious agent (kept only where a site places it)
];
/** Where a neoplasm goes when nothing places it (generic histotypes such as "adenocarcinoma"). */
export const FALLBACK_TISSUE = 'OTHER';

function descendantsOf(root: string, terms: ReadonlyMap<string, DoTerm>): Set<string> {
  const children = new Map<string, string[]>();
  for (const t of terms.values()) {
    for (const e of t.parents) {
      const list = children.get(e.parent) ?? [];
      list.push(t.id);
      children.set(e.parent, list);
    }
  }
  const out = new Set<string>();
  const stack = [root];
  while (stack.length > 0) {
    const cur = stack.pop() as string;
    for (const c of children.get(cur) ?? []) {
      if (!out.has(c)) {
        out.add(c);
        stack.push(c);
      }
    }
  }
  return out;
}

/**
 * Hereditary syndromes (DO's "has material basis in" some inheritance pattern, deletion, repeat
 * expansion) are diagnosed from genes and family history, not from tissue; as non-neoplastic organ
 * diseases they would fill the tree with numbered subtypes ("… type 47") that differ only by gene.
 */
export function isHereditary(t: DoTerm): boolean {
  return t.restrictions.some(
    (r) =>
      r.relation === 'has material basis in' &&
      r.fillers.some((f) =>
        /inheritance|deletion|duplication|chromosome|trinucleotide|variant|mutation/i.test(f),
      ),
  );
}

/** "spinocerebellar ataxia 15", "dilated cardiomyopathy 1Q", "limb-girdle muscular dystrophy type 2S". */
const NUMBERED_SUBTYPE = /\s(type\s)?\d+[A-Z]?\d*$/;

/** Hereditary itself, a numbered subtype, or below one (memoised over the DO graph). */
function hereditaryTest(terms: ReadonlyMap<string, DoTerm>): (id: string) => boolean {
  const memo = new Map<string, boolean>();
  const test = (id: string): boolean => {
    const m = memo.get(id);
    if (m !== undefined) return m;
    const t = terms.get(id);
    memo.set(id, false);
    const v =
      t !== undefined &&
      (isHereditary(t) || NUMBERED_SUBTYPE.test(t.label) || t.parents.some((e) => test(e.parent)));
    memo.set(id, v);
    return v;
  };
  return test;
}

/** Adds the placed DO diseases to the join's drafts, in DOID order. */
export function placeDoDiseases(
  terms: ReadonlyMap<string, DoTerm>,
  join: OncotreeJoin,
  figures: BuildFigures,
): void {
  const { drafts, diseaseOfDo, tissueCodes } = join;
  const placements = placeDoTerms(terms, join.joinedTissue, tissueCodes);
  const neoplasms = descendantsOf(NEOPLASM_ROOT, terms);
  const organ = new Set<string>();
  for (const root of ORGAN_SYSTEM_ROOTS) {
    for (const id of descendantsOf(root, terms)) organ.add(id);
  }
  const hereditary_ = hereditaryTest(terms);
  let unplacedOrgan = 0;
  let hereditary = 0;
  let fallback = 0;
  for (const t of [...terms.values()].sort((a, b) => compareText(a.id, b.id))) {
    if (join.nodeOfDo.has(t.id)) continue;
    const isNeoplasm = neoplasms.has(t.id);
    if (!isNeoplasm && !organ.has(t.id)) continue;
    if (!isNeoplasm && hereditary_(t.id)) {
      hereditary++;
      continue;
    }
    let p: Placement | null = placements.get(t.id) ?? null;
    // Organ diseases need anatomical evidence; a tumour-family word says nothing about them.
    if (!isNeoplasm && p && p.rule === 5) p = null;
    if (!p) {
      if (!isNeoplasm) {
        unplacedOrgan++;
        continue;
      }
      fallback++;
      p = { tissue: FALLBACK_TISSUE, placedBy: 'no site (neoplasm without location)', rule: 6 };
    }
    if (!tissueCodes.has(p.tissue)) continue;
    drafts.set(t.id, {
      id: t.id,
      name: cleanText(t.label),
      tissue: p.tissue,
      placedBy: p.placedBy,
      oncotreeParent: null,
      doid: t.id,
      codes: emptyCodes(),
      attrs: new AttributeSet(),
    });
    diseaseOfDo.set(t.id, t.id);
  }
  figures['doTerms'] = terms.size;
  figures['doNeoplasmTerms'] = neoplasms.size;
  figures['doOrganSystemTerms'] = organ.size;
  figures['doOrganUnplaced'] = unplacedOrgan;
  figures['doOrganHereditaryLeftOut'] = hereditary;
  figures['doNeoplasmsUnderOther'] = fallback;
}
