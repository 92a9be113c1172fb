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
      diseases: 17,
      attributes: { name: 17, synonym: 19, definition: 13, histology: 6, cytology: 8 },
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
    // The DO label equals the OncoTree name up to case: it stays one attribute with two provenances.
    assert.deepEqual(
      luad.attributes[0]?.provenance.map((p) => p.source),
      ['oncotree', 'do-humando'],
    );
    // Current synonyms, 2016 ones, the merged 2016 term's name; not the BROAD "lung cancer".
    assert.deepEqual(texts(luad, 'synonym'), [
      'Adenocarcinoma of lung',
      'adenocarcinoma of the lung',
      'bronchial adenocarcinoma',
      'bronchogenic adenocarcinoma',
      'pulmonary adenocarcinoma',
    ]);
    // "adenocarcinoma of the lung" came from three files: one attribute, three provenances.
    assert.equal(luad.attributes.find((a) => a.text === 'adenocarcinoma of the lung')?.provenance.length, 3);
    // The current definition (in two subsets) wins; the 2016 one only fills gaps.
    assert.equal(texts(luad, 'definition').length, 1);
    assert.deepEqual(texts(luad, 'histology'), [
      'A lung non-small cell carcinoma that forms glands.',
      'Microscopically, the tumour forms glands, papillae or solid nests with mucin production.',
    ]);
    assert.deepEqual(texts(luad, 'cytology'), [
      'A lung non-small cell carcinoma that derives from epithelial cells of glandular origin.',
      'Lung Adenocarcinoma derives from epithelial cells of glandular origin.',
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
    assert.deepEqual(disease(tree, 'ONCOTREE:LUAD').children, ['DOID:4200']);
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
      ],
    );
    assert.match(tree.build.sources[0]?.sha256 ?? '', /^[0-9a-f]{64}$/);
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

  it('names a missing source file', () => {
    const dir = broken('doid/current/NCIinDO.tsv', () => '');
    rmSync(join(dir, 'doid/current/NCIinDO.tsv'));
    assert.match(failure(dir).message, /NCIinDO\.tsv: field "do-ncit-map": missing source file/);
  });
});

describe('buildTree on the shared sources', () => {
  it('meets the targets in under a minute and rebuilds byte-identical', () => {
    const started = performance.now();
    const first = buildTree(SHARED);
    const seconds = (performance.now() - started) / 1000;
    assert.ok(seconds < 60, `${seconds.toFixed(1)} s`);
    const c = first.build.counts;
    assert.equal(c.tissues, 32);
    assert.ok(c.diseases >= 2500, `${c.diseases} diseases`);
    const total = ATTRIBUTE_KINDS.reduce((s, k) => s + c.attributes[k], 0);
    assert.ok(total >= 15000, `${total} attributes`);
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
