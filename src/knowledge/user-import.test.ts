import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildTree } from './build.ts';
import { treeSchema, type KnowledgeTree } from './schema.ts';
import { applyImport, readImportFile } from './user-import.ts';
import { sourceError } from './testing.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const SHARED = fileURLToPath(new URL('../../../shared/data/knowledge/', import.meta.url));

const load = (name: string) => readImportFile(readFileSync(`${FIXTURES}imports/${name}`), name);
const text = (file: string, body: string) => readImportFile(Buffer.from(body), file);

function find(tree: KnowledgeTree, id: string) {
  for (const t of tree.tissues) for (const d of t.diseases) if (d.id === id) return { ...d, tissue: t.id };
  return undefined;
}

describe('user import', () => {
  const tree = buildTree(`${FIXTURES}sources/`);

  it('reads the TSV form and merges it: by id, name, NCIt and UMLS code; new diseases with a tissue', () => {
    const input = load('user-attributes.tsv');
    assert.equal(input.records.length, 6);
    const { tree: next, report } = applyImport(tree, input, { licence: 'proprietary' });
    assert.ok(treeSchema.safeParse(next).success);
    assert.deepEqual(report, {
      added: 4,
      merged: 1,
      skipped: 0,
      createdDiseases: ['USER:mesothelioma-of-the-lung'],
    });
    const luad = find(next, 'ONCOTREE:LUAD');
    assert.ok(luad);
    const histology = luad.attributes.find((a) => a.text.startsWith('The tumour shows acinar'));
    assert.deepEqual(histology?.provenance, [
      { source: 'user:user-attributes.tsv', ref: 'line 2 (Pathology notes)', licence: 'CC-BY-4.0' },
    ]);
    assert.equal(luad.attributes.find((a) => a.text === 'LUAD')?.provenance[0]?.licence, 'proprietary');
    // A synonym equal to the name only adds provenance to the name (OncoTree, DO, NCIt label and
    // synonym, then the import).
    assert.equal(luad.attributes.filter((a) => a.kind === 'name')[0]?.provenance.length, 5);
    assert.ok(
      find(next, 'ONCOTREE:MEL')?.attributes.some(
        (a) => a.kind === 'cytology' && a.text.startsWith('Melanoma cells'),
      ),
    );
    const meso = find(next, 'USER:mesothelioma-of-the-lung');
    assert.equal(meso?.tissue, 'LUNG');
    // Named by its `name` record; the label it was referred by becomes a synonym.
    assert.equal(meso?.name, 'Pulmonary mesothelioma');
    assert.deepEqual(
      meso?.attributes.map((a) => a.kind),
      ['name', 'synonym', 'definition'],
    );
    assert.equal(next.build.counts.diseases, tree.build.counts.diseases + 1);
    assert.equal(next.build.sources.at(-1)?.id, 'user:user-attributes.tsv');
    // The input tree is left as it was.
    assert.equal(find(tree, 'USER:mesothelioma-of-the-lung'), undefined);
  });

  it('reads the JSON form; a new disease named by an id gets its name from a name record', () => {
    const { tree: next, report } = applyImport(tree, load('user-attributes.json'));
    assert.deepEqual(report.createdDiseases, ['NEW:1']);
    const d = find(next, 'NEW:1');
    assert.equal(d?.name, 'Sclerosing pneumocytoma');
    assert.equal(d?.tissue, 'LUNG');
    assert.equal(find(next, 'DOID:8923')?.attributes.filter((a) => a.kind === 'histology').length, 2);
  });

  it('reads the KEEP disease-graph form, skipping diseases outside the tree when asked', () => {
    const input = load('keep-graph.json');
    assert.match(
      sourceError(() => applyImport(tree, input)).message,
      /keep-graph\.json:\d+: field "disease": unknown disease "DOID:0014667"/,
    );
    const { tree: next, report } = applyImport(tree, input, { skipUnknown: true });
    assert.equal(report.skipped, 2);
    const luad = find(next, 'ONCOTREE:LUAD');
    assert.ok(luad?.attributes.some((a) => a.text === 'LUAD - Lung adenocarcinoma'));
    assert.ok(
      luad?.attributes.some(
        (a) => a.kind === 'definition' && a.provenance.some((p) => p.ref === 'DOID:3910 definitions.UMLS_0'),
      ),
    );
  });

  it('names file, line and field of a bad record', () => {
    const unknownTissue = sourceError(() =>
      applyImport(tree, text('u.tsv', 'disease\tkind\ttext\ttissue\nnew thing\tname\tNew thing\tHeart\n')),
    );
    assert.deepEqual([unknownTissue.file, unknownTissue.line, unknownTissue.field], ['u.tsv', 2, 'tissue']);
    assert.match(unknownTissue.reason, /unknown tissue "Heart"/);
    const badKind = sourceError(() => text('k.tsv', 'disease\tkind\ttext\nDOID:3910\tgross\tx\n'));
    assert.deepEqual([badKind.line, badKind.field], [2, 'kind']);
    const renamed = sourceError(() =>
      applyImport(tree, text('n.tsv', 'disease\tkind\ttext\nDOID:3910\tname\tLung ACA\n')),
    );
    assert.match(renamed.reason, /already has its name/);
    const twice = structuredClone(tree);
    twice.tissues[0]?.diseases[0]?.attributes.push({
      kind: 'synonym',
      text: 'carcinoma',
      provenance: [{ source: 's', ref: 'r', licence: 'l' }],
    });
    const ambiguous = sourceError(() =>
      applyImport(twice, text('a.tsv', 'disease\tkind\ttext\ncarcinoma\tsynonym\tx\n')),
    );
    assert.equal(ambiguous.field, 'disease');
    assert.match(ambiguous.reason, /names several diseases \(.*DOID:305.*\)/);
    const json = sourceError(() => text('j.json', '[\n {"disease": "DOID:1", "kind": "name"}\n]'));
    assert.deepEqual([json.line, json.field], [2, '[0].text']);
  });

  it('refuses the trailing-comma JSON of example_konwledge_graph.json, naming line and field', () => {
    const e = sourceError(() =>
      readImportFile(readFileSync(`${SHARED}example_konwledge_graph.json`), 'example_konwledge_graph.json'),
    );
    assert.equal(
      e.message,
      `example_konwledge_graph.json:480:19: field "DOID:0050145.children": trailing comma before '}' (JSON allows none)`,
    );
  });
});
