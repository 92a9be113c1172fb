import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildTree } from './build.ts';
import {
  classNamesOfPromptFile,
  findDisease,
  formatDisease,
  formatStatsTable,
  promptSynonyms,
  searchTree,
  treeStats,
} from './query.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/sources/', import.meta.url));
const PROMPTS = fileURLToPath(new URL('../../../shared/data/prompts/kep/', import.meta.url));

describe('queries', () => {
  const tree = buildTree(FIXTURES);

  it('counts per tissue and kind, with mean lengths', () => {
    const s = treeStats(tree);
    assert.equal(s.tissues, 4);
    assert.equal(s.diseases, 20);
    assert.deepEqual(s.attributes, tree.build.counts.attributes);
    assert.equal(s.attributesTotal, 97);
    assert.equal(s.perTissue.find((t) => t.id === 'LUNG')?.diseases, 9);
    assert.equal(
      s.perTissue.reduce((n, t) => n + t.attributes.synonym, 0),
      s.attributes.synonym,
    );
    assert.equal(s.meanWords.name, 2.4);
    const table = formatStatsTable(s);
    assert.match(table, /^tissue\s+diseases\s+name\s+synonym\s+definition\s+histology\s+cytology\s+total$/m);
    assert.match(table, /^all 4 tissues\s+20\s+20\s+30\s+24\s+10\s+13\s+97$/m);
  });

  it('finds a disease by id, code, name or synonym, and says when a reference is ambiguous', () => {
    const id = (ref: string) => {
      const f = findDisease(tree, ref);
      return typeof f === 'string' ? f : f.disease.id;
    };
    assert.equal(id('ONCOTREE:LUAD'), 'ONCOTREE:LUAD');
    assert.equal(id('DOID:3910'), 'ONCOTREE:LUAD');
    assert.equal(id('NCIT:C3512'), 'ONCOTREE:LUAD');
    assert.equal(id('nci:c3512'), 'ONCOTREE:LUAD');
    assert.equal(id('UMLS:C0025202'), 'ONCOTREE:MEL');
    assert.equal(id('Pulmonary Adenocarcinoma'), 'ONCOTREE:LUAD');
    assert.equal(id('cutaneous melanoma'), 'DOID:8923');
    assert.match(id('no such thing'), /no disease matches/);
    const shown = formatDisease(findDisease(tree, 'LUAD') as never, tree);
    assert.match(shown, /^ONCOTREE:LUAD {2}Lung Adenocarcinoma$/m);
    assert.match(shown, /^histology \(3\):$/m);
    assert.match(shown, /\[do-2016: DOID:3910 def sentence 1\]/);
  });

  it('ranks exact names first, then synonyms and texts', () => {
    const hits = searchTree(tree, 'melanoma');
    // Nodular melanoma's NCIt synonyms ("Cutaneous Nodular Melanoma", …) put it before skin melanoma.
    assert.deepEqual(
      hits.map((h) => h.id),
      ['ONCOTREE:MEL', 'DOID:9000', 'DOID:8923'],
    );
    assert.ok((hits[0]?.score ?? 0) > (hits[1]?.score ?? 0));
    assert.deepEqual(
      searchTree(tree, 'glands nests').map((h) => h.id),
      ['ONCOTREE:LUAD', 'DOID:8923', 'ONCOTREE:IDC'],
    );
    assert.equal(searchTree(tree, 'cutaneous melanoma')[0]?.id, 'DOID:8923');
    assert.deepEqual(searchTree(tree, 'zzz'), []);
    assert.equal(searchTree(tree, 'carcinoma', 2).length, 2);
  });

  it('gives synonyms for class names, and suggestions when a name is unknown', () => {
    const [luad, tumour] = promptSynonyms(tree, ['lung adenocarcinoma', 'Tumor']);
    assert.equal(luad?.match, 'exact');
    assert.deepEqual(luad?.disease, { id: 'ONCOTREE:LUAD', name: 'Lung Adenocarcinoma', tissue: 'LUNG' });
    assert.deepEqual(luad?.synonyms, [
      'Adenocarcinoma of lung',
      'adenocarcinoma of the lung',
      'bronchial adenocarcinoma',
      'bronchogenic adenocarcinoma',
      'pulmonary adenocarcinoma',
    ]);
    assert.equal(tumour?.match, 'none');
    assert.deepEqual(tumour?.synonyms, []);
    assert.equal(promptSynonyms(tree, ['NSCLC'], 2)[0]?.synonyms.length, 2);
    // Freely phrased: the same words in another order, without "the" and "of".
    const [lusc] = promptSynonyms(tree, ['Squamous-cell carcinoma of the lung']);
    assert.equal(lusc?.match, 'words');
    assert.equal(lusc?.disease?.id, 'ONCOTREE:LUSC');
    assert.deepEqual(lusc?.synonyms, ['Lung Squamous Cell Carcinoma', 'squamous cell carcinoma of lung']);
  });

  it('reads the class names of a KEP prompt file', () => {
    const names = classNamesOfPromptFile(
      JSON.parse(readFileSync(`${PROMPTS}Lc25000_prompts_100.json`, 'utf8')),
    );
    assert.ok(names.length >= 5);
    assert.equal(new Set(names).size, names.length);
    assert.deepEqual(
      classNamesOfPromptFile({ 0: { classnames: { A: 'x', B: ['y', 'x'] } }, 1: { classnames: { A: 'z' } } }),
      ['x', 'y', 'z'],
    );
  });
});
