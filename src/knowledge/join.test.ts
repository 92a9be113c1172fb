import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DoTerm } from './do-terms.ts';
import { joinOncotreeToDo } from './join.ts';
import type { OncotreeNode } from './oncotree.ts';

function node(code: string, name: string, refs: { ncit?: string[]; umls?: string[] } = {}): OncotreeNode {
  return {
    code,
    name,
    mainType: null,
    tissue: 'Lung',
    parent: 'LUNG',
    level: 2,
    ncit: refs.ncit ?? [],
    umls: refs.umls ?? [],
    children: [],
    line: 1,
    column: 1,
  };
}

function term(id: string, label: string, more: Partial<DoTerm> = {}): DoTerm {
  return {
    id,
    label,
    labelProvenance: { source: 'do-humando', ref: `${id} label`, licence: 'CC0-1.0' },
    parents: [],
    ncit: [],
    umls: [],
    icdo: [],
    synonyms: [],
    definitions: [],
    restrictions: [],
    ...more,
  };
}

const terms = new Map(
  [
    term('DOID:1', 'lung adenocarcinoma', { ncit: ['C3512'], umls: ['C0152013'] }),
    term('DOID:2', 'adenocarcinoma of lung, acinar', { ncit: ['C3512'] }),
    term('DOID:3', 'melanoma', { umls: ['C0025202'] }),
    term('DOID:4', 'invasive ductal carcinoma', {
      synonyms: [
        {
          text: 'Breast Invasive Ductal Carcinoma',
          scope: 'EXACT',
          provenance: { source: 's', ref: 'r', licence: 'l' },
        },
        { text: 'ductal carcinoma', scope: 'BROAD', provenance: { source: 's', ref: 'r', licence: 'l' } },
      ],
    }),
    term('DOID:5', 'ductal carcinoma'),
  ].map((t) => [t.id, t]),
);

describe('joinOncotreeToDo', () => {
  it('joins by NCIt code, then UMLS CUI, then normalised name or exact synonym', () => {
    const pairs = joinOncotreeToDo(
      [
        node('LUAD', 'Lung Adenocarcinoma', { ncit: ['C3512'], umls: ['C0152013'] }),
        node('MEL', 'Malignant Melanoma', { umls: ['C0025202'] }),
        node('IDC', 'Breast Invasive Ductal Carcinoma, NOS'),
        node('XYZ', 'Nothing Like It'),
      ],
      terms,
    );
    assert.deepEqual(pairs, [
      { oncotree: 'IDC', doid: 'DOID:4', evidence: ['name'] },
      { oncotree: 'LUAD', doid: 'DOID:1', evidence: ['ncit', 'umls', 'name'] },
      { oncotree: 'MEL', doid: 'DOID:3', evidence: ['umls'] },
    ]);
  });

  it('pairs one to one, strongest evidence first, whatever the input order', () => {
    const nodes = [
      node('A', 'Acinar Lung Adenocarcinoma', { ncit: ['C3512'] }),
      node('B', 'Lung Adenocarcinoma', { ncit: ['C3512'] }),
    ];
    const forward = joinOncotreeToDo(nodes, terms);
    const backward = joinOncotreeToDo([...nodes].reverse(), new Map([...terms].reverse()));
    assert.deepEqual(forward, backward);
    // B shares the code and the name of DOID:1; A gets the other term with the code.
    assert.deepEqual(forward, [
      { oncotree: 'A', doid: 'DOID:2', evidence: ['ncit'] },
      { oncotree: 'B', doid: 'DOID:1', evidence: ['ncit', 'name'] },
    ]);
  });

  it('does not join through a broad synonym', () => {
    assert.deepEqual(joinOncotreeToDo([node('DC', 'Ductal Carcinoma')], terms), [
      { oncotree: 'DC', doid: 'DOID:5', evidence: ['name'] },
    ]);
  });
});
