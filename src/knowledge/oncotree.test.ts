import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readOncotree } from './oncotree.ts';
import { sourceError } from './testing.ts';

const FILE = fileURLToPath(new URL('./fixtures/sources/oncotree/oncotree_fixture.json', import.meta.url));
const TEXT = readFileSync(FILE, 'utf8');

function lineOf(text: string, needle: string): number {
  const i = text.indexOf(needle);
  assert.ok(i >= 0, needle);
  return text.slice(0, i).split('\n').length;
}

describe('readOncotree', () => {
  const tree = readOncotree(TEXT, 'oncotree.json');

  it('returns the level-1 tissues and the tumour types below them', () => {
    assert.deepEqual(
      tree.tissues.map((t) => t.code),
      ['LUNG', 'BREAST', 'SKIN', 'OTHER'],
    );
    assert.deepEqual(
      tree.tumourTypes.map((t) => t.code),
      ['NSCLC', 'LUAD', 'LUSC', 'BRCA', 'IDC', 'MEL', 'CUP'],
    );
  });

  it('keeps codes, parents, levels and external references', () => {
    const luad = tree.tumourTypes.find((t) => t.code === 'LUAD');
    assert.ok(luad);
    assert.equal(luad.parent, 'NSCLC');
    assert.equal(luad.level, 3);
    assert.equal(luad.tissue, 'Lung');
    assert.deepEqual(luad.ncit, ['C3512']);
    assert.deepEqual(luad.umls, ['C0152013']);
    assert.equal(luad.line, lineOf(TEXT, '"LUAD": {'));
  });

  it('rejects an unknown tissue, naming the line and the field', () => {
    const bad = TEXT.replace(
      '"tissue": "Skin",\n            "parent": "SKIN"',
      '"tissue": "Skn",\n            "parent": "SKIN"',
    );
    assert.notEqual(bad, TEXT);
    const e = sourceError(() => readOncotree(bad, 'oncotree.json'));
    assert.equal(e.field, 'TISSUE.children.SKIN.children.MEL.tissue');
    assert.equal(e.line, lineOf(bad, '"tissue": "Skn"'));
    assert.match(e.reason, /unknown tissue "Skn"/);
  });

  it('rejects a node whose parent or level disagrees with where it sits', () => {
    const badParent = TEXT.replace(
      '"parent": "NSCLC",\n                "level": 3,\n                "externalReferences": { "NCI": ["C3493"] }',
      '"parent": "LUNG",\n                "level": 3,\n                "externalReferences": { "NCI": ["C3493"] }',
    );
    assert.notEqual(badParent, TEXT);
    assert.equal(
      sourceError(() => readOncotree(badParent, 'o.json')).field,
      'TISSUE.children.LUNG.children.NSCLC.children.LUSC.parent',
    );
  });

  it('rejects a member whose code differs from its key, and a missing field', () => {
    const renamed = TEXT.replace('"code": "CUP"', '"code": "CUPX"');
    assert.match(
      sourceError(() => readOncotree(renamed, 'o.json')).reason,
      /is CUPX but the member is named CUP/,
    );
    const noName = TEXT.replace('"name": "Melanoma",', '');
    assert.equal(
      sourceError(() => readOncotree(noName, 'o.json')).field,
      'TISSUE.children.SKIN.children.MEL.name',
    );
  });
});
