// The source files a knowledge tree is built from: where each lives inside a sources directory
// (the layout of ../shared/data/knowledge, which a download into the cache reproduces), where it
// comes from publicly, and under which licence its text may be redistributed.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { SourceError } from './errors.ts';

export type SourceId =
  | 'oncotree'
  | 'do-humando'
  | 'do-ncit-map'
  | 'do-axioms'
  | 'do-ncit-subset'
  | 'do-cancer-slim'
  | 'do-rare-slim'
  | 'do-2016'
  | 'ncit-disease'
  | 'mondo-ncit'
  | 'mondo-doid'
  | 'mondo-oncotree';

export interface SourceSpec {
  id: SourceId;
  title: string;
  /** Path inside the sources directory. */
  path: string;
  licence: string;
  /** Who to credit when the texts are shared, as the licence asks. */
  attribution: string;
  /** Public addresses to fetch it from, tried in order. */
  origins: string[];
}

export const ONCOTREE_RELEASE = 'oncotree_2025_10_03';
export const DO_HISTORICAL_RELEASE = '2016-09-01';

const DO_RAW = 'https://raw.githubusercontent.com/DiseaseOntology/HumanDiseaseOntology/main';
const MONDO_RAW = 'https://raw.githubusercontent.com/monarch-initiative/mondo/master/src/ontology';
export const NCIT_RELEASE = '2018-06-08';
const DO_ATTRIBUTION = 'Human Disease Ontology (disease-ontology.org), Schriml et al.';

/** Sources in the order their text is preferred when two give the same attribute. */
export const SOURCES: readonly SourceSpec[] = [
  {
    id: 'oncotree',
    title: 'OncoTree tumour-type tree',
    path: `oncotree/${ONCOTREE_RELEASE}.json`,
    licence: 'CC-BY-4.0',
    attribution: 'OncoTree, Memorial Sloan Kettering Cancer Center (oncotree.mskcc.org)',
    origins: [
      `https://raw.githubusercontent.com/cBioPortal/oncotree/master/trees/${ONCOTREE_RELEASE}.json`,
      `https://oncotree.info/api/tumorTypes/tree?version=${ONCOTREE_RELEASE}`,
    ],
  },
  {
    id: 'do-ncit-subset',
    title: 'Human Disease Ontology, NCI Thesaurus subset',
    path: 'doid/current/NCIthesaurus.obo',
    licence: 'CC0-1.0',
    attribution: DO_ATTRIBUTION,
    origins: [`${DO_RAW}/src/ontology/releases/subsets/NCIthesaurus.obo`],
  },
  {
    id: 'do-cancer-slim',
    title: 'Human Disease Ontology, cancer slim',
    path: 'doid/current/DO_cancer_slim.obo',
    licence: 'CC0-1.0',
    attribution: DO_ATTRIBUTION,
    origins: [`${DO_RAW}/src/ontology/releases/subsets/DO_cancer_slim.obo`],
  },
  {
    id: 'do-rare-slim',
    title: 'Human Disease Ontology, rare-disease slim',
    path: 'doid/current/DO_rare_slim.obo',
    licence: 'CC0-1.0',
    attribution: DO_ATTRIBUTION,
    origins: [`${DO_RAW}/src/ontology/releases/subsets/DO_rare_slim.obo`],
  },
  {
    id: 'do-humando',
    title: 'Human Disease Ontology, term hierarchy report',
    path: 'doid/current/HumanDO.tsv',
    licence: 'CC0-1.0',
    attribution: DO_ATTRIBUTION,
    origins: [`${DO_RAW}/DOreports/HumanDO.tsv`],
  },
  {
    id: 'do-ncit-map',
    title: 'Human Disease Ontology, DOID to NCIt report',
    path: 'doid/current/NCIinDO.tsv',
    licence: 'CC0-1.0',
    attribution: DO_ATTRIBUTION,
    origins: [`${DO_RAW}/DOreports/NCIinDO.tsv`],
  },
  {
    id: 'do-axioms',
    title: 'Human Disease Ontology, logical axioms report',
    path: 'doid/current/DO-subClassOf-anonymous.tsv',
    licence: 'CC0-1.0',
    attribution: DO_ATTRIBUTION,
    origins: [`${DO_RAW}/DOreports/DO-subClassOf-anonymous.tsv`],
  },
  {
    id: 'do-2016',
    title: `Human Disease Ontology, full release ${DO_HISTORICAL_RELEASE}`,
    path: `doid/${DO_HISTORICAL_RELEASE}/doid.obo`,
    licence: 'CC-BY-3.0',
    attribution: DO_ATTRIBUTION,
    origins: [`http://purl.obolibrary.org/obo/doid/releases/${DO_HISTORICAL_RELEASE}/doid.obo`],
  },
  {
    id: 'ncit-disease',
    title: `NCI Thesaurus, disease branch ${NCIT_RELEASE} (MONDO's OBO-graph extract)`,
    path: `mondo/ncit-disease-${NCIT_RELEASE}.json.gz`,
    licence: 'CC-BY-4.0',
    attribution: 'NCI Thesaurus, National Cancer Institute (ncithesaurus.nci.nih.gov)',
    origins: [`${MONDO_RAW}/sources/ncit-disease-${NCIT_RELEASE}.json.gz`],
  },
  {
    id: 'mondo-ncit',
    title: 'Mondo Disease Ontology, SSSOM exact matches to NCIt',
    path: 'mondo/mondo_exactmatch_ncit.sssom.tsv',
    licence: 'CC0-1.0',
    attribution: 'Mondo Disease Ontology (mondo.monarchinitiative.org)',
    origins: [`${MONDO_RAW}/mappings/mondo_exactmatch_ncit.sssom.tsv`],
  },
  {
    id: 'mondo-doid',
    title: 'Mondo Disease Ontology, SSSOM exact matches to DOID',
    path: 'mondo/mondo_exactmatch_doid.sssom.tsv',
    licence: 'CC0-1.0',
    attribution: 'Mondo Disease Ontology (mondo.monarchinitiative.org)',
    origins: [`${MONDO_RAW}/mappings/mondo_exactmatch_doid.sssom.tsv`],
  },
  {
    id: 'mondo-oncotree',
    title: 'Mondo Disease Ontology, SSSOM database cross-references to OncoTree',
    path: 'mondo/mondo_hasdbxref_oncotree.sssom.tsv',
    licence: 'CC0-1.0',
    attribution: 'Mondo Disease Ontology (mondo.monarchinitiative.org)',
    origins: [`${MONDO_RAW}/mappings/mondo_hasdbxref_oncotree.sssom.tsv`],
  },
];

/** Licence texts that travel with the data (fetched with it; their absence does not stop a build). */
export const LICENCE_FILES: readonly { path: string; origins: string[] }[] = [
  {
    path: 'oncotree/LICENSE.md',
    origins: ['https://raw.githubusercontent.com/cBioPortal/oncotree/master/LICENSE.md'],
  },
  { path: 'doid/current/LICENSE', origins: [`${DO_RAW}/LICENSE`] },
];

export function sourceSpec(id: SourceId): SourceSpec {
  const s = SOURCES.find((x) => x.id === id);
  if (!s) throw new Error(`unknown source ${id}`);
  return s;
}

/**
 * Paths of every source inside `dir`. The OncoTree tree may be any release: with one file under
 * oncotree/ of another date that one is used, so that a user can build from the release they need.
 */
export function locateSources(dir: string): Record<SourceId, string> {
  const out = {} as Record<SourceId, string>;
  for (const s of SOURCES) {
    let path = join(dir, s.path);
    if (s.id === 'oncotree' && !existsSync(path)) {
      const folder = join(dir, 'oncotree');
      const trees = existsSync(folder)
        ? readdirSync(folder)
            .filter((f) => /^oncotree_.*\.json$/.test(f))
            .sort()
        : [];
      const last = trees[trees.length - 1];
      if (last) path = join(folder, last);
    }
    if (!existsSync(path)) {
      throw new SourceError(
        { file: path, line: 0, field: s.id },
        `missing source file (${s.title}); expected at ${s.path} under ${dir}`,
      );
    }
    out[s.id] = path;
  }
  return out;
}
