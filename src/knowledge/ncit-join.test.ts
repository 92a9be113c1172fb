import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ncitFromGraph } from './ncit.ts';
import { joinToNcit, mondoMaps, oneToOne, type JoinCandidate } from './ncit-join.ts';
import { readOboGraph } from './obo-graph.ts';
import { listText, pluralCells, runningText } from './ncit-texts.ts';
import type { SssomMapping } from './sssom.ts';

const ncit = ncitFromGraph(
  readOboGraph(
    readFileSync(fileURLToPath(new URL('./fixtures/mondo/ncit-fixture.json', import.meta.url))),
    'ncit-fixture.json',
  ),
);
const map = (subject: string, object: string): SssomMapping => ({
  subject,
  subjectLabel: '',
  predicate: 'skos:exactMatch',
  object,
  objectLabel: '',
  justification: 'semapv:ManualMappingCuration',
  line: 1,
});
const disease = (
  id: string,
  ncitCodes: string[],
  names: string[],
  doid: string | null = null,
): JoinCandidate => ({
  id,
  ncit: ncitCodes,
  doid,
  oncotree: null,
  names,
});
const noMondo = mondoMaps([], [], []);

describe('joining diseases to NCIt', () => {
  it('joins a single unambiguous code', () => {
    const { joins } = joinToNcit([disease('A:1', ['C9245'], ['invasive breast carcinoma'])], ncit, noMondo);
    assert.deepEqual(joins.get('A:1'), [{ code: 'C9245', evidence: 'code' }]);
  });

  it('joins a code that two diseases carry to neither', () => {
    const { joins, figures } = joinToNcit(
      [disease('A:1', ['C9245'], ['x']), disease('A:2', ['C9245'], ['y'])],
      ncit,
      noMondo,
    );
    assert.equal(joins.size, 0);
    assert.equal(figures['ncitCodesAmbiguous'], 2);
  });

  it('with several codes joins only the exact ones: a name match or MONDO’s mapping', () => {
    const { joins, figures } = joinToNcit(
      [disease('A:1', ['C2923', 'C3512'], ['Lung Adenocarcinoma', 'adenocarcinoma of the lung'])],
      ncit,
      noMondo,
    );
    assert.deepEqual(joins.get('A:1'), [{ code: 'C3512', evidence: 'code' }]);
    assert.equal(figures['ncitCodesNotExact'], 1);
    const viaMondo = mondoMaps([map('MONDO:1', 'NCIT:C2923')], [map('MONDO:1', 'DOID:9')], []);
    const both = joinToNcit(
      [disease('A:1', ['C2923', 'C3512'], ['Lung Adenocarcinoma'], 'DOID:9')],
      ncit,
      viaMondo,
    );
    assert.deepEqual(
      both.joins.get('A:1')?.map((j) => j.code),
      ['C2923', 'C3512'],
    );
  });

  it('skips codes outside the file and stage/recurrence variants', () => {
    const { joins, figures } = joinToNcit(
      [disease('A:1', ['C99999999'], ['x']), disease('A:2', ['C8757'], ['recurrent lung adenocarcinoma'])],
      ncit,
      noMondo,
    );
    assert.equal(joins.size, 0);
    assert.equal(figures['ncitCodesNotInFile'], 1);
    assert.equal(figures['ncitCodesVariant'], 1);
  });

  it('borrows MONDO’s one-to-one code for a disease without one, and cross-checks the others', () => {
    const mondo = mondoMaps(
      [map('MONDO:1', 'NCIT:C4194'), map('MONDO:2', 'NCIT:C2923')],
      [map('MONDO:1', 'DOID:3008'), map('MONDO:2', 'DOID:1324')],
      [],
    );
    const { joins, figures } = joinToNcit(
      [disease('A:1', [], ['idc'], 'DOID:3008'), disease('A:2', ['C7377'], ['lung cancer'], 'DOID:1324')],
      ncit,
      mondo,
    );
    assert.deepEqual(joins.get('A:1'), [{ code: 'C4194', evidence: 'mondo' }]);
    assert.deepEqual(joins.get('A:2'), [{ code: 'C7377', evidence: 'code' }]);
    assert.equal(figures['ncitMondoDisagrees'], 1);
  });

  it('uses only mappings that are one-to-one on both sides', () => {
    const m = oneToOne([map('MONDO:1', 'NCIT:C1'), map('MONDO:2', 'NCIT:C1'), map('MONDO:3', 'NCIT:C3')]);
    assert.deepEqual([...m], [['MONDO:3', 'NCIT:C3']]);
  });
});

describe('phrasing NCIt roles', () => {
  it('turns labels into running text and lists', () => {
    assert.equal(runningText('Myxoid Changes Present'), 'myxoid changes');
    assert.equal(runningText('CD30-Positive Neoplastic T-Cell'), 'CD30-positive neoplastic T-cell');
    assert.equal(pluralCells('neoplastic astrocyte'), 'neoplastic astrocytes');
    assert.equal(pluralCells('medullary bone'), 'medullary bone');
    assert.equal(listText(['a', 'b', 'c']), 'a, b and c');
  });
});
