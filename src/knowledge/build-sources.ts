// Read sources: every source file of the knowledge build (sources.ts lists them), parsed, with a
// record of each (file, version, licence, SHA-256, size) for the tree's provenance.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { readSubClassOfAxioms } from './do-axioms.ts';
import { readHumanDoTsv, readNciInDoTsv } from './do-reports.ts';
import { mergeDoTerms, type DoTerm } from './do-terms.ts';
import { ncitFromGraph, type Ncit } from './ncit.ts';
import { mondoMaps, type MondoMaps } from './ncit-join.ts';
import { parseObo } from './obo.ts';
import { readOboGraph } from './obo-graph.ts';
import { readOncotree } from './oncotree.ts';
import type { SourceRecord } from './schema.ts';
import { SOURCES, locateSources, sourceSpec, type SourceId } from './sources.ts';
import { parseSssom } from './sssom.ts';

export interface LoadedSources {
  records: SourceRecord[];
  oncotree: ReturnType<typeof readOncotree>;
  terms: Map<string, DoTerm>;
  ncit: Ncit;
  mondo: MondoMaps;
}

export function loadSources(dir: string): LoadedSources {
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
