import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildTree } from './build.ts';
import { SourceError } from './errors.ts';
import { ATTRIBUTE_KINDS, treeSchema, type Disease, type KnowledgeTree } from './schema.ts';
import { serialiseTree } from './tree-io.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/sources/', import.meta.url));
const SHARED = fileURLToPath(new URL('../../../shared/data/knowledge/', import.meta.url));

function disease(tree: KnowledgeTree, id: string): Disease & { tissue: string } {
  for (const t of tree.tissues) for (const d of t.diseases) if (d.id === id) return { ...d, tissue: t.id };
  assert.fail(`no ${id}`);
}

const texts = (d: Disease, kind: string) => d.attributes.filter((a) => a.kind === kind).map((a) => a.text);

describe('buildTree on the hand-written fixture sources', () => {
  const tree = buildTree(FIXTURES);

  it('is a valid tree with OncoTree’s tissues', () => {
    assert.ok(treeSchema.safeParse(tree).success);
    assert.deepEqual(
      tree.tissues.map((t) => t.id),
      ['BREAST', 'LUNG', 'OTHER', 'SKIN'],
    );
    assert.deepEqual(tree.build.counts, {
      tissues: 4,
      diseases: 20,
      attributes: { name: 20, synonym: 30, definition: 24, histology: 10, cytology: 13 },
    });
  });

  it('joins OncoTree types to DO terms and carries the DO texts over', () => {
    const luad = disease(tree, 'ONCOTREE:LUAD');
    assert.equal(luad.tissue, 'LUNG');
    assert.deepEqual(luad.codes, {
      oncotree: ['LUAD'],
      doid: ['DOID:3910'],
      ncit: ['C2923', 'C3512'],
      umls: ['C0152013'],
      icdo: ['8140/3'],
    });
    assert.deepEqual(texts(luad, 'name'), ['Lung Adenocarcinoma']);
    // The DO label and NCIt's label and synonym equal the OncoTree name up to case: one attribute
    // with every provenance.
    assert.deepEqual(
      luad.attributes[0]?.provenance.map((p) => `${p.source} ${p.ref}`),
      [
        'oncotree LUAD name',
        'do-humando DOID:3910 label',
        'ncit-disease C3512 label',
        'ncit-disease C3512 synonym',
      ],
    );
    // Current synonyms, 2016 ones, the merged 2016 term's name; not the BROAD "lung cancer".
    assert.deepEqual(texts(luad, 'synonym'), [
      'Adenocarcinoma of lung',
      'adenocarcinoma of the lung',
      'bronchial adenocarcinoma',
      'bronchogenic adenocarcinoma',
      'pulmonary adenocarcinoma',
    ]);
    // "adenocarcinoma of the lung" came from three DO files and NCIt: one attribute, four provenances.
    assert.equal(luad.attributes.find((a) => a.text === 'adenocarcinoma of the lung')?.provenance.length, 4);
    // The current DO definition (in two subsets) wins over the 2016 one; NCIt's is added.
    assert.deepEqual(
      luad.attributes.filter((a) => a.kind === 'definition').map((a) => a.provenance[0]?.source),
      ['ncit-disease', 'do-ncit-subset'],
    );
    assert.deepEqual(texts(luad, 'histology'), [
      'A lung non-small cell carcinoma that forms glands.',
      'Microscopically, it shows papillary pattern.',
      'Microscopically, the tumour forms glands, papillae or solid nests with mucin production.',
    ]);
    assert.deepEqual(texts(luad, 'cytology'), [
      'A lung non-small cell carcinoma that derives from epithelial cells of glandular origin.',
      'It contains malignant glandular epithelial cells.',
      'Lung Adenocarcinoma derives from epithelial cells of glandular origin.',
      'The tumor cells have abundant cytoplasm and prominent nucleoli.',
    ]);
  });

  it('joins by UMLS CUI and by exact synonym', () => {
    assert.deepEqual(disease(tree, 'ONCOTREE:MEL').codes.doid, ['DOID:1909']);
    assert.deepEqual(disease(tree, 'ONCOTREE:IDC').codes.doid, ['DOID:3008']);
    assert.deepEqual(disease(tree, 'ONCOTREE:BRCA').codes.doid, []);
  });

  it('places DO-only diseases by location, name, ancestor, or under Other', () => {
    const placed = (id: string) => {
      const d = disease(tree, id);
      return `${d.tissue}: ${d.placedBy}`;
    };
    assert.equal(placed('DOID:1324'), "LUNG: location 'lung'");
    assert.equal(placed('DOID:8923'), "SKIN: location 'zone of skin'");
    assert.equal(placed('DOID:1612'), "BREAST: name 'breast'");
    assert.equal(placed('DOID:9000'), 'SKIN: ancestor DOID:1909');
    assert.equal(placed('DOID:552'), 'LUNG: ancestor DOID:850');
    assert.equal(placed('DOID:305'), 'OTHER: no site (neoplasm without location)');
  });

  it('takes parents from OncoTree and from the nearest DO ancestor in the same tissue', () => {
    assert.equal(disease(tree, 'ONCOTREE:LUAD').parent, 'ONCOTREE:NSCLC');
    assert.equal(disease(tree, 'DOID:4200').parent, 'ONCOTREE:LUAD');
    assert.deepEqual(disease(tree, 'ONCOTREE:LUAD').children, ['DOID:4200', 'NCIT:C45514']);
    assert.equal(disease(tree, 'DOID:8923').parent, 'ONCOTREE:MEL');
    assert.equal(disease(tree, 'DOID:1324').parent, null);
  });

  it('leaves out hereditary organ diseases, organ systems without a tissue, and the system roots', () => {
    const ids = tree.tissues.flatMap((t) => t.diseases.map((d) => d.id));
    assert.ok(!ids.includes('DOID:0110883'), 'numbered hereditary syndrome');
    assert.ok(!ids.includes('DOID:1826'), 'nervous system disease');
    assert.ok(!ids.includes('DOID:1579'), 'organ-system root');
    assert.equal(tree.build.notes['doOrganHereditaryLeftOut'], 1);
  });

  it('records every source with version, licence and checksum', () => {
    assert.deepEqual(
      tree.build.sources.map((s) => [s.id, s.file, s.version, s.licence]),
      [
        ['oncotree', 'oncotree/oncotree_fixture.json', 'oncotree_fixture', 'CC-BY-4.0'],
        [
          'do-ncit-subset',
          'doid/current/NCIthesaurus.obo',
          'doid/releases/2099-01-01/subsets/NCIthesaurus.obo',
          'CC0-1.0',
        ],
        [
          'do-cancer-slim',
          'doid/current/DO_cancer_slim.obo',
          'doid/releases/2099-01-01/subsets/DO_cancer_slim.obo',
          'CC0-1.0',
        ],
        [
          'do-rare-slim',
          'doid/current/DO_rare_slim.obo',
          'doid/releases/2099-01-01/subsets/DO_rare_slim.obo',
          'CC0-1.0',
        ],
        ['do-humando', 'doid/current/HumanDO.tsv', 'doid/releases/2099-01-01', 'CC0-1.0'],
        ['do-ncit-map', 'doid/current/NCIinDO.tsv', 'doid/releases/2099-01-01', 'CC0-1.0'],
        ['do-axioms', 'doid/current/DO-subClassOf-anonymous.tsv', 'doid/releases/2099-01-01', 'CC0-1.0'],
        ['do-2016', 'doid/2016-09-01/doid.obo', 'releases/2016-09-01', 'CC-BY-3.0'],
        ['ncit-disease', 'mondo/ncit-disease-2018-06-08.json.gz', '2018-06-08', 'CC-BY-4.0'],
        [
          'mondo-ncit',
          'mondo/mondo_exactmatch_ncit.sssom.tsv',
          'http://purl.obolibrary.org/obo/mondo/releases/2099-01-01/mappings/mondo_exactmatch_ncit.sssom.tsv',
          'CC0-1.0',
        ],
        [
          'mondo-doid',
          'mondo/mondo_exactmatch_doid.sssom.tsv',
          'http://purl.obolibrary.org/obo/mondo/releases/2099-01-01/mappings/mondo_exactmatch_doid.sssom.tsv',
          'CC0-1.0',
        ],
        [
          'mondo-oncotree',
          'mondo/mondo_hasdbxref_oncotree.sssom.tsv',
          'http://purl.obolibrary.org/obo/mondo/releases/2099-01-01/mappings/mondo_hasdbxref_oncotree.sssom.tsv',
          'CC0-1.0',
        ],
      ],
    );
    assert.ok(tree.build.sources.every((s) => (s.attribution ?? '').length > 0));
    assert.match(
      tree.build.sources.find((s) => s.id === 'ncit-disease')?.attribution ?? '',
      /National Cancer Institute/,
    );
    assert.match(tree.build.sources[0]?.sha256 ?? '', /^[0-9a-f]{64}$/);
  });
});

describe('buildTree with the NCI Thesaurus', () => {
  const tree = buildTree(FIXTURES);
  const ids = tree.tissues.flatMap((t) => t.diseases.map((d) => d.id));

  it('adds NCIt neoplasms the tree lacks, placed by primary site or ancestor, with parents', () => {
    const adenosquamous = disease(tree, 'NCIT:C9133');
    assert.deepEqual(
      [adenosquamous.tissue, adenosquamous.placedBy, adenosquamous.parent],
      ['LUNG', "location 'Lung'", 'ONCOTREE:NSCLC'],
    );
    const solid = disease(tree, 'NCIT:C45514');
    assert.deepEqual(
      [solid.tissue, solid.placedBy, solid.parent],
      ['LUNG', 'ancestor NCIT:C3512', 'ONCOTREE:LUAD'],
    );
    assert.deepEqual(disease(tree, 'NCIT:C3709').tissue, 'OTHER');
    assert.equal(tree.build.notes['ncitNewDiseases'], 3);
  });

  it('drops stage, recurrence and navigation classes, and codes that are not exact for their disease', () => {
    assert.ok(!ids.includes('NCIT:C8757'), 'recurrent variant');
    assert.ok(!ids.includes('NCIT:C8755'), 'stage variant');
    assert.ok(!ids.includes('NCIT:C3263'), 'navigation class');
    // LUAD carries C2923 (Lung Carcinoma) and C3512: only the exact C3512 gives texts, and C2923,
    // carried by a disease already, is not added as a new one.
    assert.ok(!ids.includes('NCIT:C2923'));
    assert.ok(!texts(disease(tree, 'ONCOTREE:LUAD'), 'synonym').includes('Lung Carcinoma'));
    assert.equal(tree.build.notes['ncitNeoplasmVariantsLeftOut'], 2);
    assert.equal(tree.build.notes['ncitNeoplasmGroupersLeftOut'], 1);
  });

  it('adds synonyms, but none that is the name of another disease', () => {
    const luad = disease(tree, 'ONCOTREE:LUAD');
    assert.ok(!texts(luad, 'synonym').includes('Non-Small Cell Lung Cancer'));
    assert.equal(tree.build.notes['ncitSynonymsNamingAnotherDisease'], 1);
    assert.deepEqual(texts(disease(tree, 'NCIT:C9133'), 'synonym'), ['Adenosquamous Lung Carcinoma']);
  });

  it('joins a DO term without an NCIt code through MONDO and records the code', () => {
    const idc = disease(tree, 'ONCOTREE:IDC');
    assert.deepEqual(idc.codes.ncit, ['C4194']);
    assert.ok(texts(idc, 'synonym').includes('Invasive Ductal Carcinoma, Not Otherwise Specified'));
    assert.equal(tree.build.notes['ncitJoinedByMondo'], 1);
    assert.equal(tree.build.notes['ncitMondoDisagrees'], 1);
  });

  it('phrases microscopic findings and cells, not symptoms, with provenance', () => {
    const luad = disease(tree, 'ONCOTREE:LUAD');
    const finding = luad.attributes.find((a) => a.text.includes('papillary pattern'));
    assert.deepEqual(finding?.provenance, [
      { source: 'ncit-disease', ref: 'C3512 Disease_Has_Finding', licence: 'CC-BY-4.0' },
    ]);
    assert.ok(!luad.attributes.some((a) => /weight loss/i.test(a.text)));
    assert.deepEqual(texts(disease(tree, 'NCIT:C9133'), 'histology'), [
      'On microscopic examination it may show mucin production.',
    ]);
  });

  it('gives every NCIt text a source id that starts with "ncit"', () => {
    for (const t of tree.tissues)
      for (const d of t.diseases)
        for (const a of d.attributes)
          for (const p of a.provenance) assert.ok(!p.source.startsWith('mondo'), `${d.id}: ${p.source}`);
  });
});

describe('buildTree on malformed sources', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const broken = (file: string, edit: (text: string) => string): string => {
    const dir = mkdtempSync(join(tmpdir(), 'kep-knowledge-'));
    dirs.push(dir);
    cpSync(FIXTURES, dir, { recursive: true });
    const path = join(dir, file);
    const before = readFileSync(path, 'utf8');
    const afterEdit = edit(before);
    assert.notEqual(afterEdit, before, 'the edit changed nothing');
    writeFileSync(path, afterEdit);
    return dir;
  };
  const failure = (dir: string): SourceError => {
    try {
      buildTree(dir);
    } catch (err) {
      assert.ok(err instanceof SourceError, String(err));
      return err;
    }
    assert.fail('the build succeeded');
  };

  it('names file, line and field of a broken OBO stanza', () => {
    const e = failure(
      broken('doid/current/DO_rare_slim.obo', (t) =>
        t.replace('def: "A melanoma that is', 'def: A melanoma that is'),
      ),
    );
    assert.equal(e.file, 'doid/current/DO_rare_slim.obo');
    assert.equal(e.field, 'def');
    assert.equal(e.line, 14);
  });

  it('names file, line and field of an unknown tissue', () => {
    const e = failure(
      broken('oncotree/oncotree_fixture.json', (t) =>
        t.replace(
          '"tissue": "Other",\n            "parent": "OTHER"',
          '"tissue": "Elsewhere",\n            "parent": "OTHER"',
        ),
      ),
    );
    assert.equal(e.file, 'oncotree/oncotree_fixture.json');
    assert.equal(e.field, 'TISSUE.children.OTHER.children.CUP.tissue');
    assert.ok(e.line > 1);
    assert.match(e.reason, /unknown tissue "Elsewhere"/);
  });

  it('names file, line and field of a cycle in the hierarchy', () => {
    const e = failure(
      broken('doid/2016-09-01/../current/DO_cancer_slim.obo', (t) =>
        t.replace('is_a: DOID:162 ! cancer', 'is_a: DOID:4200 ! lung mucinous adenocarcinoma'),
      ),
    );
    assert.match(e.message, /cycle in the disease hierarchy/);
    assert.ok(['doid/current/DO_cancer_slim.obo', 'doid/current/HumanDO.tsv'].includes(e.file), e.file);
    assert.ok(e.line > 0 && ['is_a', 'subClassOf'].includes(e.field));
  });

  it('names file, line and field of a broken SSSOM row and of an NCIt graph edge', () => {
    const e = failure(
      broken('mondo/mondo_exactmatch_doid.sssom.tsv', (t) => t.replace('\tDOID:1324\t', '\tDOID 1324\t')),
    );
    assert.deepEqual([e.file, e.line, e.field], ['mondo/mondo_exactmatch_doid.sssom.tsv', 10, 'object_id']);
  });

  it('names a missing source file', () => {
    const dir = broken('doid/current/NCIinDO.tsv', () => '');
    rmSync(join(dir, 'doid/current/NCIinDO.tsv'));
    assert.match(failure(dir).message, /NCIinDO\.tsv: field "do-ncit-map": missing source file/);
  });
});

describe('buildTree on the shared sources', () => {
  // Build time is a benchmark figure (docs/knowledge.md), not a test: a loaded machine would fail it.
  it('meets the targets and rebuilds byte-identical', () => {
    const first = buildTree(SHARED);
    const c = first.build.counts;
    assert.equal(c.tissues, 32);
    // The targets of tree v2 (issue 11): the paper's disease, cytology counts and more.
    assert.ok(c.diseases >= 4718, `${c.diseases} diseases`);
    const total = ATTRIBUTE_KINDS.reduce((s, k) => s + c.attributes[k], 0);
    assert.ok(total >= 40000, `${total} attributes`);
    assert.ok(c.attributes.synonym >= 20000, `${c.attributes.synonym} synonyms`);
    assert.ok(c.attributes.definition >= 7000, `${c.attributes.definition} definitions`);
    assert.ok(c.attributes.histology >= 1000, `${c.attributes.histology} histology`);
    assert.ok(c.attributes.cytology >= 1117, `${c.attributes.cytology} cytology`);
    for (const k of ATTRIBUTE_KINDS) assert.ok(c.attributes[k] > 0, `no ${k}`);
    assert.ok(
      first.tissues.every((t) => t.diseases.length > 0),
      'a tissue without diseases',
    );
    assert.ok(treeSchema.safeParse(first).success);
    const second = buildTree(SHARED);
    assert.equal(serialiseTree(second), serialiseTree(first));
  });
});
