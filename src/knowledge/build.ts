// Builds the knowledge tree from the source files, stage by stage: read the sources
// (build-sources.ts); join OncoTree's tumour types to DO terms (build-join.ts); place DO's neoplasms
// and organ diseases under a tissue (build-place.ts); attributes from DO (build-attributes.ts); the
// NCI Thesaurus's texts and neoplasms (ncit-build.ts); parents and the sorted tree
// (build-assemble.ts). Attributes are deduplicated, each with its provenance.
import { assembleTissues, findParents } from './build-assemble.ts';
import { addDoAttributes } from './build-attributes.ts';
import { joinOncotree, type BuildFigures } from './build-join.ts';
import { FALLBACK_TISSUE, placeDoDiseases } from './build-place.ts';
import { loadSources } from './build-sources.ts';
import { addNcit } from './ncit-build.ts';
import { compareText } from './normalise.ts';
import { TREE_FORMAT, TREE_VERSION, countTree, type KnowledgeTree } from './schema.ts';

export type { BuildFigures } from './build-join.ts';
export { FALLBACK_TISSUE, NEOPLASM_ROOT, ORGAN_SYSTEM_ROOTS, isHereditary } from './build-place.ts';

export function buildTree(sourcesDir: string): KnowledgeTree {
  const { records, oncotree, terms, ncit, mondo } = loadSources(sourcesDir);
  const figures: BuildFigures = {};
  const join = joinOncotree(oncotree, terms, figures);
  placeDoDiseases(terms, join, figures);
  addDoAttributes(join.drafts, terms, figures);
  const fromNcit = addNcit(join.drafts, ncit, mondo, join.tissueCodes, FALLBACK_TISSUE);
  Object.assign(figures, fromNcit.figures);
  const parentOf = findParents(join, terms, fromNcit.parents);
  const tissues = assembleTissues(oncotree, join, parentOf);
  return {
    format: TREE_FORMAT,
    version: TREE_VERSION,
    build: { sources: records, counts: countTree(tissues), notes: sortedRecord(figures) },
    tissues,
  };
}

function sortedRecord(r: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => compareText(a, b)));
}
