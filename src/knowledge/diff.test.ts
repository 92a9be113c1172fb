import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildTree } from './build.ts';
import { diffTrees, formatDiff } from './diff.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/sources/', import.meta.url));

describe('diffTrees', () => {
  const before = buildTree(FIXTURES);

  it('finds nothing between two builds of the same sources', () => {
    const d = diffTrees(before, buildTree(FIXTURES));
    assert.deepEqual(
      [d.added, d.removed, d.changed, d.attributes.added, d.attributes.removed],
      [[], [], [], 0, 0],
    );
  });

  it('reports added, removed and changed diseases and attributes', () => {
    const after = structuredClone(before);
    const lung = after.tissues.find((t) => t.id === 'LUNG');
    const other = after.tissues.find((t) => t.id === 'OTHER');
    assert.ok(lung && other);
    // Remove the leaf "lung mucinous adenocarcinoma" (and its place among its parent's children).
    lung.diseases = lung.diseases.filter((x) => x.id !== 'DOID:4200');
    const luad = lung.diseases.find((x) => x.id === 'ONCOTREE:LUAD');
    assert.ok(luad);
    luad.children = [];
    luad.attributes.push({
      kind: 'synonym',
      text: 'LUAD',
      provenance: [{ source: 'user:x', ref: 'line 2', licence: 'l' }],
    });
    luad.attributes = luad.attributes.filter((a) => a.text !== 'pulmonary adenocarcinoma');
    // A change of case only is no change.
    const bronchial = luad.attributes.find((a) => a.text === 'bronchial adenocarcinoma');
    assert.ok(bronchial);
    bronchial.text = 'Bronchial Adenocarcinoma';
    luad.name = 'Adenocarcinoma of the Lung';
    const name = luad.attributes.find((a) => a.kind === 'name');
    assert.ok(name);
    name.text = 'Adenocarcinoma of the Lung';
    other.diseases.push({
      ...structuredClone(other.diseases[0]!),
      id: 'USER:new',
      parent: null,
      children: [],
    });

    const d = diffTrees(before, after);
    assert.deepEqual(
      d.added.map((x) => x.id),
      ['USER:new'],
    );
    assert.deepEqual(
      d.removed.map((x) => x.id),
      ['DOID:4200'],
    );
    const c = d.changed.find((x) => x.id === 'ONCOTREE:LUAD');
    assert.deepEqual(c?.fields, [
      { field: 'name', before: 'Lung Adenocarcinoma', after: 'Adenocarcinoma of the Lung' },
    ]);
    assert.deepEqual(c?.attributesAdded, [
      { kind: 'name', text: 'Adenocarcinoma of the Lung' },
      { kind: 'synonym', text: 'LUAD' },
    ]);
    assert.deepEqual(c?.attributesRemoved, [
      { kind: 'name', text: 'Lung Adenocarcinoma' },
      { kind: 'synonym', text: 'pulmonary adenocarcinoma' },
    ]);
    assert.equal(
      d.attributes.byKind.synonym.added,
      1 + (other.diseases[0]?.attributes.filter((a) => a.kind === 'synonym').length ?? 0),
    );
    const text = formatDiff(d);
    assert.match(text, /^diseases: \+1 -1 ~1$/m);
    assert.match(text, /^ {6}name: "Lung Adenocarcinoma" → "Adenocarcinoma of the Lung"$/m);
  });
});
