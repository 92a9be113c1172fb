// Builds the knowledge tree from the source files: tissues from OncoTree's level-1 nodes; diseases
// from OncoTree's tumour types joined to DO terms, plus DO's neoplasms and organ diseases placed under
// a tissue (place.ts); attributes from both, deduplicated, each with its provenance.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { classifySentence } from './classify.ts';
import { readSubClassOfAxioms } from './do-axioms.ts';
import { readHumanDoTsv, readNciInDoTsv } from './do-reports.ts';
import { mergeDoTerms, type DoTerm } from './do-terms.ts';
import { joinOncotreeToDo, type JoinEvidence } from './join.ts';
import { AttributeSet } from './attributes.ts';
import { cleanText, compareText } from './normalise.ts';
import { parseObo } from './obo.ts';
import { readOncotree, type OncotreeNode } from './oncotree.ts';
import { placeDoTerms, type Placement } from './place.ts';
import { ncitFromGraph, type Ncit } from './ncit.ts';
import { addNcit, type DraftDisease } from './ncit-build.ts';
import { mondoMaps, type MondoMaps } from './ncit-join.ts';
import { readOboGraph } from './obo-graph.ts';
import { parseSssom } from './sssom.ts';
import {
  TREE_FORMAT,
  TREE_VERSION,
  countTree,
  type AttributeKind,
  type Codes,
  type Disease,
  type KnowledgeTree,
  type Provenance,
  type SourceRecord,
  type Tissue,
} from './schema.ts';
import { SOURCES, locateSources, sourceSpec, type SourceId } from './sources.ts';
import { splitSentences } from './sentences.ts';

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

interface LoadedSources {
  records: SourceRecord[];
  oncotree: ReturnType<typeof readOncotree>;
  terms: Map<string, DoTerm>;
  ncit: Ncit;
  mondo: MondoMaps;
}

function loadSources(dir: string): LoadedSources {
  const paths = locateSources(dir);
  const records: SourceRecord[] = [];
  const texts = {} as Record<SourceId, string>;
  const raw = {} as Record<SourceId, Buffer>;
  for (const s of SOURCES) {
    const path = paths[s.id];
    const bytes = readFileSync(path);
    raw[s.id] = bytes;
    // The NCIt branch is gzip: it is decoded by its reader.
    if (s.id !== 'ncit-disease') texts[s.id] = bytes.toString('utf8');
    records.push({
      id: s.id,
      title: s.title,
      file: relative(dir, path).split('\\').join('/'),
      version: '',
      licence: s.licence,
      attribution: s.attribution,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      bytes: bytes.length,
    });
  }
  const rel = (id: SourceId) => records.find((r) => r.id === id)?.file ?? id;
  const record = (id: SourceId) => records.find((r) => r.id === id) as SourceRecord;

  const oncotree = readOncotree(texts.oncotree, rel('oncotree'));
  record('oncotree').version = rel('oncotree')
    .replace(/^.*\//, '')
    .replace(/\.json$/, '');
  const obo = (id: SourceId) => {
    const doc = parseObo(texts[id], rel(id));
    record(id).version = doc.header.dataVersion ?? '';
    return { source: id, licence: sourceSpec(id).licence, doc };
  };
  const current = [obo('do-ncit-subset'), obo('do-cancer-slim'), obo('do-rare-slim')];
  const historical = obo('do-2016');
  const doVersion = current[0]?.doc.header.dataVersion?.replace(/\/subsets\/.*$/, '') ?? '';
  for (const id of ['do-humando', 'do-ncit-map', 'do-axioms'] as const) record(id).version = doVersion;

  const terms = mergeDoTerms({
    humanDo: {
      source: 'do-humando',
      file: rel('do-humando'),
      licence: sourceSpec('do-humando').licence,
      rows: readHumanDoTsv(texts['do-humando'], rel('do-humando')),
    },
    nciMap: {
      file: rel('do-ncit-map'),
      licence: sourceSpec('do-ncit-map').licence,
      rows: readNciInDoTsv(texts['do-ncit-map'], rel('do-ncit-map')),
    },
    axioms: {
      file: rel('do-axioms'),
      licence: sourceSpec('do-axioms').licence,
      rows: readSubClassOfAxioms(texts['do-axioms'], rel('do-axioms')),
    },
    current,
    historical,
  });
  const ncit = ncitFromGraph(readOboGraph(raw['ncit-disease'], rel('ncit-disease')));
  record('ncit-disease').version = /\d{4}-\d{2}-\d{2}/.exec(rel('ncit-disease'))?.[0] ?? '';
  const sssom = (id: 'mondo-ncit' | 'mondo-doid' | 'mondo-oncotree') => {
    const table = parseSssom(texts[id], rel(id));
    record(id).version = table.metadata['mapping_set_version'] ?? '';
    return table.mappings;
  };
  const mondo = mondoMaps(sssom('mondo-ncit'), sssom('mondo-doid'), sssom('mondo-oncotree'));
  return { records, oncotree, terms, ncit, mondo };
}

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

function pluralCell(filler: string): string {
  if (/(cell|cyte|blast|phage)$/.test(filler)) return `${filler}s`;
  if (filler === 'mucosa') return 'the mucosa';
  return filler;
}

export interface BuildFigures {
  [key: string]: number;
}

export function buildTree(sourcesDir: string): KnowledgeTree {
  const { records, oncotree, terms, ncit, mondo } = loadSources(sourcesDir);
  const figures: BuildFigures = {};
  const tissueByName = new Map(oncotree.tissues.map((t) => [t.tissue, t.code]));
  const tissueCodes = new Set(oncotree.tissues.map((t) => t.code));
  const nodeTissue = (n: OncotreeNode) => tissueByName.get(n.tissue) as string;

  const pairs = joinOncotreeToDo(oncotree.tumourTypes, terms);
  const doOfNode = new Map(pairs.map((p) => [p.oncotree, p]));
  const nodeOfDo = new Map(pairs.map((p) => [p.doid, p.oncotree]));
  for (const e of ['ncit', 'umls', 'name'] as JoinEvidence[])
    figures[`joinedBy_${e}`] = pairs.filter((p) => p.evidence[0] === e).length;
  figures['oncotreeJoined'] = pairs.length;
  figures['oncotreeUnjoined'] = oncotree.tumourTypes.length - pairs.length;

  const nodesByCode = new Map(oncotree.tumourTypes.map((n) => [n.code, n]));
  const joinedTissue = new Map(
    pairs.map((p) => [
      p.doid,
      { tissue: nodeTissue(nodesByCode.get(p.oncotree) as OncotreeNode), code: p.oncotree },
    ]),
  );
  const placements = placeDoTerms(terms, joinedTissue, tissueCodes);

  const neoplasms = descendantsOf(NEOPLASM_ROOT, terms);
  const organ = new Set<string>();
  for (const root of ORGAN_SYSTEM_ROOTS) {
    for (const id of descendantsOf(root, terms)) organ.add(id);
  }
  const diseaseOfDo = new Map<string, string>(); // DOID → disease id in the tree
  const drafts = new Map<string, DraftDisease>();

  const emptyCodes = (): Codes => ({ oncotree: [], doid: [], ncit: [], umls: [], icdo: [] });
  const oncoProv = (ref: string): Provenance => ({
    source: 'oncotree',
    ref,
    licence: sourceSpec('oncotree').licence,
  });

  for (const n of oncotree.tumourTypes) {
    const id = `ONCOTREE:${n.code}`;
    const pair = doOfNode.get(n.code);
    const codes = emptyCodes();
    codes.oncotree.push(n.code);
    codes.ncit.push(...n.ncit);
    codes.umls.push(...n.umls);
    const attrs = new AttributeSet();
    attrs.add('name', n.name, oncoProv(`${n.code} name`));
    const d: DraftDisease = {
      id,
      name: cleanText(n.name),
      tissue: nodeTissue(n),
      placedBy: 'oncotree',
      oncotreeParent: n.level >= 3 ? `ONCOTREE:${n.parent}` : null,
      doid: pair?.doid ?? null,
      codes,
      attrs,
    };
    drafts.set(id, d);
    if (pair) diseaseOfDo.set(pair.doid, id);
  }

  const hereditaryMemo = new Map<string, boolean>();
  const hereditary_ = (id: string): boolean => {
    const m = hereditaryMemo.get(id);
    if (m !== undefined) return m;
    const t = terms.get(id);
    hereditaryMemo.set(id, false);
    const v =
      t !== undefined &&
      (isHereditary(t) || NUMBERED_SUBTYPE.test(t.label) || t.parents.some((e) => hereditary_(e.parent)));
    hereditaryMemo.set(id, v);
    return v;
  };
  let unplacedOrgan = 0;
  let hereditary = 0;
  let fallback = 0;
  for (const t of [...terms.values()].sort((a, b) => compareText(a.id, b.id))) {
    if (nodeOfDo.has(t.id)) continue;
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
    const attrs = new AttributeSet();
    const d: DraftDisease = {
      id: t.id,
      name: cleanText(t.label),
      tissue: p.tissue,
      placedBy: p.placedBy,
      oncotreeParent: null,
      doid: t.id,
      codes: emptyCodes(),
      attrs,
    };
    drafts.set(t.id, d);
    diseaseOfDo.set(t.id, t.id);
  }
  figures['doTerms'] = terms.size;
  figures['doNeoplasmTerms'] = neoplasms.size;
  figures['doOrganSystemTerms'] = organ.size;
  figures['doOrganUnplaced'] = unplacedOrgan;
  figures['doOrganHereditaryLeftOut'] = hereditary;
  figures['doNeoplasmsUnderOther'] = fallback;

  let histFromDefs = 0;
  let cytoFromDefs = 0;
  let fromAxioms = 0;
  for (const d of drafts.values()) {
    const t = d.doid ? terms.get(d.doid) : undefined;
    if (!t) continue;
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
          if (c.label === 'histology') histFromDefs++;
          else cytoFromDefs++;
        }
      });
    }
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
        fromAxioms++;
    }
  }
  figures['histologyFromDefinitions'] = histFromDefs;
  figures['cytologyFromDefinitions'] = cytoFromDefs;
  figures['featuresFromAxioms'] = fromAxioms;

  const fromNcit = addNcit(drafts, ncit, mondo, tissueCodes, FALLBACK_TISSUE);
  Object.assign(figures, fromNcit.figures);

  // Parents: OncoTree's own for its types; for DO terms the nearest DO ancestor that is a disease
  // of the same tissue (ancestors elsewhere belong to another branch of the tree).
  const parentOf = new Map<string, string | null>();
  for (const d of drafts.values()) {
    if (d.id.startsWith('ONCOTREE:')) {
      parentOf.set(d.id, d.oncotreeParent);
      continue;
    }
    if (fromNcit.parents.has(d.id)) {
      parentOf.set(d.id, fromNcit.parents.get(d.id) ?? null);
      continue;
    }
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

  const counts = countTree(tissues);
  return {
    format: TREE_FORMAT,
    version: TREE_VERSION,
    build: { sources: records, counts, notes: sortedRecord(figures) },
    tissues,
  };
}

function sortedRecord(r: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => compareText(a, b)));
}
