import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { contentWords, nearCopyTest } from './near-copies.ts';
import { familiesOf, sourceFamily, splitSamples, type SplitChoice } from './held-out-splits.ts';
import type { TrainingSample } from './samples.ts';
import { textKey } from './split.ts';

const row = (label: string, kind: TrainingSample['kind'], text: string, source: string): TrainingSample => ({
  label,
  kind,
  text,
  source,
});

// Three diseases; texts from OncoTree, DO and NCIt, some shared, some twins and near-copies across sources.
const FIXTURE: TrainingSample[] = [
  row('D:luad', 'name', 'Lung Adenocarcinoma', 'do-core+oncotree-2021'),
  row('D:luad', 'synonym', 'adenocarcinoma of lung', 'do-core'),
  row('D:luad', 'synonym', 'pulmonary adenocarcinoma', 'ncit-disease'), // NCIt only: gallery
  row('D:luad', 'synonym', 'LUAD', 'do-core+ncit-disease'), // shared: training
  row(
    'D:luad',
    'definition',
    'A carcinoma that arises from glandular epithelial cells of the lung.',
    'ncit-disease+ncit-subset', // every source is NCIt's: gallery
  ),
  row(
    'D:luad',
    'definition',
    'A carcinoma arises from the glandular epithelial cells of lungs.', // near-copy of NCIt's
    'do-core',
  ),
  row('D:brca', 'name', 'Breast Carcinoma', 'oncotree-2021'),
  row('D:brca', 'synonym', 'Pulmonary  ADENOCARCINOMA', 'do-core'), // a twin of an NCIt gallery text
  row('D:brca', 'synonym', 'mammary cancer', 'ncit-disease'),
  row('D:brca', 'synonym', 'breast cancer', 'do-core'),
  row('D:brca', 'histology', 'Infiltrating ducts of atypical cells.', 'user:mine.tsv'),
  row('D:brca', 'cytology', 'breast carcinoma', 'ncit-disease'), // NCIt only but equal to a name
  row('D:none', 'synonym', 'orphan text', 'ncit-disease'), // no name: never a query
  row('D:gist', 'name', 'Gastrointestinal Stromal Tumor', 'ncit-disease'),
  row('D:gist', 'synonym', 'GIST', 'do-core'),
];

const choice = (over: Partial<SplitChoice>): SplitChoice => ({
  split: 'cross-source',
  holdoutSource: 'ncit',
  fraction: 0.2,
  seed: 0,
  file: 'fixture.jsonl',
  ...over,
});

const keys = (ss: readonly TrainingSample[]): Set<string> => new Set(ss.map((s) => textKey(s.text)));

function assertNoGalleryTextInTraining(r: { train: TrainingSample[]; heldOut: TrainingSample[] }): void {
  const trained = keys(r.train);
  for (const s of r.heldOut)
    if (s.kind !== 'name') assert.ok(!trained.has(textKey(s.text)), `gallery text in training: ${s.text}`);
}

describe('source families', () => {
  it('are the part before the first "-", "user" for user imports', () => {
    assert.equal(sourceFamily('do-ncit-subset'), 'do');
    assert.equal(sourceFamily('ncit'), 'ncit');
    assert.equal(sourceFamily('user:my-file.tsv'), 'user');
    assert.deepEqual(familiesOf('do-core+ncit-disease+ncit-subset'), ['do', 'ncit']);
  });
});

describe('cross-source split', () => {
  it('holds out the texts only the held-out family contributes; every name is a query', () => {
    const r = splitSamples(FIXTURE, choice({}));
    assert.deepEqual(
      r.heldOut.filter((s) => s.kind !== 'name').map((s) => s.text),
      [
        'pulmonary adenocarcinoma',
        'A carcinoma that arises from glandular epithelial cells of the lung.',
        'mammary cancer',
      ],
    );
    assert.deepEqual(
      r.heldOut.filter((s) => s.kind === 'name').map((s) => s.label),
      ['D:luad', 'D:brca', 'D:gist'],
    );
    assertNoGalleryTextInTraining(r);
    // The twin under another disease and the DO definition copied from NCIt's are gone from training.
    assert.equal(r.removedTwins, 1);
    assert.equal(r.removedNearCopies, 1);
    assert.ok(!r.train.some((s) => s.text.startsWith('A carcinoma arises')));
    // Only-NCIt texts that cannot be galleries (a name's twin; no name to query) are not trained on.
    assert.equal(r.ineligible, 2);
    for (const s of r.train)
      if (s.kind !== 'name')
        assert.ok(
          familiesOf(s.source!).some((f) => f !== 'ncit'),
          s.text,
        );
    // Names always train, even one only NCIt gives; shared texts train.
    assert.ok(r.train.some((s) => s.text === 'Gastrointestinal Stromal Tumor'));
    assert.ok(r.train.some((s) => s.text === 'LUAD'));
  });

  it('runs the other way round: holding out DO', () => {
    const r = splitSamples(FIXTURE, choice({ holdoutSource: 'do' }));
    assert.deepEqual(
      r.heldOut
        .filter((s) => s.kind !== 'name')
        .map((s) => s.text)
        .sort(),
      [
        'A carcinoma arises from the glandular epithelial cells of lungs.',
        'GIST',
        'Pulmonary  ADENOCARCINOMA',
        'adenocarcinoma of lung',
        'breast cancer',
      ],
    );
    assertNoGalleryTextInTraining(r);
    // NCIt's synonym is the DO gallery text's twin, its definition the DO definition's near-copy.
    assert.ok(!r.train.some((s) => s.text === 'pulmonary adenocarcinoma'));
    assert.ok(!r.train.some((s) => s.kind === 'definition'));
  });

  it('refuses samples without provenance, naming the file and the flag; and an absent family', () => {
    const bare = FIXTURE.map(({ source: _s, ...rest }) => rest as TrainingSample);
    assert.throws(
      () => splitSamples([...FIXTURE, ...bare.slice(0, 2)], choice({ file: 'mine.jsonl' })),
      /mine\.jsonl: 2 of 17 samples have no "source" field .*--split cross-source/,
    );
    assert.throws(
      () => splitSamples(FIXTURE, choice({ holdoutSource: 'mondo' })),
      /fixture\.jsonl: --holdout-source mondo: .*families present: do, ncit, oncotree, user/,
    );
  });
});

// 40 diseases, each a name and 3 texts; D:7's synonym repeats D:8's name-like text under a twin.
function corpus(): TrainingSample[] {
  const out: TrainingSample[] = [];
  for (let i = 0; i < 40; i++) {
    const label = `D:${i}`;
    out.push({ label, kind: 'name', text: `disease number ${i}` });
    out.push({ label, kind: 'synonym', text: `syndrome ${i} of the ${i % 3 ? 'lung' : 'skin'}` });
    out.push({
      label,
      kind: 'definition',
      text: `A disorder characterised by finding ${i} and sign ${i + 100}.`,
    });
    out.push({ label, kind: 'histology', text: `Sheets of cells type ${i}.` });
  }
  out.push({ label: 'D:1', kind: 'synonym', text: 'SHEETS of cells, type 2' }); // twin of D:2's histology
  return out;
}

describe('disease-disjoint split', () => {
  it('holds out a seeded fraction of diseases whole, none of their texts in training', () => {
    const all = corpus();
    const r = splitSamples(all, choice({ split: 'disease-disjoint', fraction: 0.25, seed: 1 }));
    const held = new Set(r.heldOut.map((s) => s.label));
    assert.equal(held.size, 10);
    assert.ok(r.train.every((s) => !held.has(s.label)));
    assert.equal(r.heldOut.filter((s) => s.kind === 'name').length, 10);
    assert.equal(r.heldOut.length, 40);
    const trained = keys(r.train);
    for (const s of r.heldOut) assert.ok(!trained.has(textKey(s.text)), s.text);
    if (held.has('D:2') && !held.has('D:1')) assert.equal(r.removedTwins, 1);
  });

  it('is deterministic, independent of row order, and varies with the seed', () => {
    const all = corpus();
    const dd = (ss: TrainingSample[], seed: number) =>
      splitSamples(ss, choice({ split: 'disease-disjoint', seed }))
        .heldOut.map((s) => `${s.label}|${s.kind}|${s.text}`)
        .sort();
    assert.deepEqual(dd(all, 3), dd([...all].reverse(), 3));
    assert.notDeepEqual(dd(all, 3), dd(all, 4));
    assert.throws(
      () => splitSamples(all, choice({ split: 'disease-disjoint', fraction: 1 })),
      /must be in \(0, 1\)/,
    );
  });

  it('in-distribution is the attribute hold-out split, and needs no provenance', () => {
    const r = splitSamples(corpus(), choice({ split: 'in-distribution', fraction: 0.25 }));
    assert.equal(r.train.filter((s) => s.kind === 'name').length, 40);
    assert.equal(r.heldOut.filter((s) => s.kind === 'histology').length, 10);
  });
});

describe('near-copies', () => {
  it('are the same content words in any order, or ≥ 80 % of them shared in texts of ≥ 4 words', () => {
    assert.deepEqual(contentWords('The tumours of the Lung.'), ['tumour', 'lung']);
    const test = nearCopyTest([
      'lung adenocarcinoma',
      'A malignant epithelial neoplasm arising from the alveolar cells of the lung.',
    ]);
    assert.equal(test('Adenocarcinoma of the lungs'), true);
    assert.equal(test('lung squamous carcinoma'), false);
    assert.equal(test('A malignant epithelial neoplasm arising from alveolar cells in the lungs.'), true);
    assert.equal(
      test('A malignant epithelial neoplasm arising from the bronchial glands of the lung.'),
      false,
    );
    assert.equal(test('...'), false);
  });
});
