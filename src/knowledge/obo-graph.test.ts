import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { compactIri, parseOboGraph, readOboGraph } from './obo-graph.ts';
import { descendants, isGrouper, isVariantName, ncitFromGraph } from './ncit.ts';
import { sourceError } from './testing.ts';

const dir = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const read = (name: string) => readFileSync(dir(name));

describe('OBO-graph JSON reader', () => {
  const fixture = readOboGraph(read('mondo/ncit-fixture.json'), 'ncit-fixture.json');

  it('reads nodes with label, definition, synonyms and line; edges with compact ids', () => {
    const luad = fixture.nodes.find((n) => n.id === 'NCIT:C3512');
    assert.equal(luad?.label, 'Lung Adenocarcinoma');
    assert.match(luad?.definition ?? '', /^A carcinoma that arises from the lung/);
    assert.ok(
      luad?.synonyms.some((s) => s.pred === 'hasExactSynonym' && s.text === 'Adenocarcinoma of Lung'),
    );
    assert.ok((luad?.line ?? 0) > 1);
    assert.ok(
      fixture.edges.some((e) => e.sub === 'NCIT:C3512' && e.pred === 'NCIT:R108' && e.obj === 'NCIT:C35911'),
    );
    assert.equal(compactIri('http://example.org/x'), 'http://example.org/x');
  });

  it('reads the gzip copy in the fixture sources exactly as the plain JSON', () => {
    const gz = readOboGraph(read('sources/mondo/ncit-disease-2018-06-08.json.gz'), 'ncit-fixture.json');
    assert.deepEqual(gz, fixture);
    assert.deepEqual(readOboGraph(gzipSync(read('mondo/ncit-fixture.json')), 'ncit-fixture.json'), fixture);
  });

  it('names file, line and field of malformed JSON and of records that break the format', () => {
    const trailing = sourceError(() =>
      readOboGraph(read('mondo/bad-trailing-comma.json'), 'bad-trailing-comma.json'),
    );
    assert.equal(trailing.line, 6);
    assert.equal(trailing.field, 'graphs[0].nodes[0].lbl');
    assert.match(trailing.reason, /trailing comma/);
    const synonym = sourceError(() => readOboGraph(read('mondo/bad-synonym.json'), 'bad-synonym.json'));
    assert.equal(synonym.file, 'bad-synonym.json');
    assert.equal(synonym.line, 8);
    assert.equal(synonym.field, 'graphs[0].nodes[0].meta.synonyms[0].val');
    const edge = sourceError(() => readOboGraph(read('mondo/bad-edge.json'), 'bad-edge.json'));
    assert.equal(edge.line, 8); // the edge's opening brace: the member is missing
    assert.equal(edge.field, 'graphs[0].edges[0].obj');
    const noGraphs = sourceError(() => parseOboGraph('{"graphs": []}', 'x.json'));
    assert.equal(noGraphs.field, 'graphs');
  });

  it('rejects a broken gzip stream', () => {
    const gz = gzipSync(read('mondo/ncit-fixture.json'));
    const e = sourceError(() => readOboGraph(gz.subarray(0, 100), 'cut.json.gz'));
    assert.match(e.reason, /not a readable gzip file/);
  });
});

describe('NCIt from the OBO graph', () => {
  const ncit = ncitFromGraph(readOboGraph(read('mondo/ncit-fixture.json'), 'ncit-fixture.json'));

  it('keeps concepts with parents and named roles; properties are not concepts', () => {
    const luad = ncit.terms.get('C3512');
    assert.deepEqual(luad?.parents, ['C2926']);
    assert.deepEqual(
      luad?.roles.map((r) => `${r.role} ${r.filler}`),
      [
        'Disease_Has_Finding C35911',
        'Disease_Has_Finding C3445',
        'Disease_Has_Abnormal_Cell C36763',
        'Disease_Has_Primary_Anatomic_Site C12468',
      ],
    );
    assert.ok(!ncit.terms.has('R108'));
    assert.ok(descendants(ncit, 'C3262').has('C45514'));
    assert.ok(!descendants(ncit, 'C3262').has('C12468'));
  });

  it('tells stage, recurrence and metastasis variants and navigation classes from diseases', () => {
    for (const v of [
      'Stage IIIA Lung Cancer AJCC v7',
      'Recurrent Melanoma',
      'Metastatic Squamous Cell Carcinoma of the Hypopharynx',
      'Refractory Plasma Cell Myeloma',
      'Ann Arbor Stage I Burkitt Lymphoma',
      'Postneoadjuvant Therapy Stage IVB Esophageal Adenocarcinoma AJCC v8',
    ])
      assert.ok(isVariantName(v), v);
    for (const d of ['Metastasizing Leiomyoma', 'Lung Adenocarcinoma', 'Grade 2 Follicular Lymphoma'])
      assert.ok(!isVariantName(d), d);
    assert.ok(isGrouper('Neoplasm by Site'));
    assert.ok(!isGrouper('Bystander Lymphoma'));
  });
});
