import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { classifySentence, describingPart, type SentenceClass } from './classify.ts';
import { splitSentences } from './sentences.ts';

// Hand-labelled sentences (set, label, origin, sentence): "dev" were labelled before the rules were
// written and used to write them; "heldout" were drawn from the built tree afterwards (55 sentences
// the rules call histology, 55 cytology, 40 other), shuffled and labelled without the predictions.
// Labelling guide: histology = tissue-level microscopic features (architecture, growth pattern,
// stroma, glands, invasion, necrosis, tissue of origin or composition); cytology = features of cells
// (morphology, nuclei, cytoplasm, mitoses, the cell type or cell of origin); both → histology.
const SAMPLE = fileURLToPath(new URL('./fixtures/classifier-sample.tsv', import.meta.url));

interface Row {
  set: string;
  label: SentenceClass;
  sentence: string;
}

const rows: Row[] = readFileSync(SAMPLE, 'utf8')
  .trim()
  .split('\n')
  .slice(1)
  .map((line) => {
    const [set, label, , sentence] = line.split('\t');
    return { set: set ?? '', label: label as SentenceClass, sentence: sentence ?? '' };
  });

function measure(
  subset: Row[],
  kind: SentenceClass,
): { precision: number; recall: number; predicted: number } {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (const r of subset) {
    const p = classifySentence(r.sentence).label;
    if (p === kind && r.label === kind) tp++;
    else if (p === kind) fp++;
    else if (r.label === kind) fn++;
  }
  return { precision: tp / (tp + fp), recall: tp / (tp + fn), predicted: tp + fp };
}

describe('histology/cytology sentence classifier', () => {
  it('has a labelled sample of at least 100 sentences of each set and every class', () => {
    assert.ok(rows.length >= 200, `${rows.length} rows`);
    for (const set of ['dev', 'heldout']) {
      const mine = rows.filter((r) => r.set === set);
      assert.ok(mine.length >= 100, `${set}: ${mine.length}`);
      for (const c of ['histology', 'cytology', 'other'])
        assert.ok(
          mine.some((r) => r.label === c),
          `${set} lacks ${c}`,
        );
    }
  });

  // Measured when this test was written: held-out histology precision 49/55 = 0.891, cytology
  // 46/53 = 0.868 (46/55 = 0.836 before plural-only cell cues); the thresholds sit just below.
  it('is precise on the held-out sentences', () => {
    const heldout = rows.filter((r) => r.set === 'heldout');
    const h = measure(heldout, 'histology');
    const c = measure(heldout, 'cytology');
    assert.ok(h.precision >= 0.85, `histology precision ${h.precision.toFixed(3)}`);
    assert.ok(c.precision >= 0.85, `cytology precision ${c.precision.toFixed(3)}`);
    assert.ok(h.predicted >= 40 && c.predicted >= 40, 'enough predictions to measure precision');
    assert.ok(
      h.recall >= 0.75 && c.recall >= 0.85,
      `recall histology ${h.recall.toFixed(3)}, cytology ${c.recall.toFixed(3)}`,
    );
  });

  it('fits the development sentences it was written from', () => {
    const dev = rows.filter((r) => r.set === 'dev');
    for (const kind of ['histology', 'cytology'] as const) {
      const m = measure(dev, kind);
      assert.ok(
        m.precision >= 0.95 && m.recall >= 0.95,
        `${kind}: precision ${m.precision}, recall ${m.recall}`,
      );
    }
  });

  it('ignores the genus and the disease names, which name rather than describe', () => {
    assert.equal(
      classifySentence('A squamous cell carcinoma that is located in the gallbladder.').label,
      'other',
    );
    assert.equal(describingPart('A giant cell tumor that is located in bone.'), ' that is located in bone. ');
    assert.equal(
      classifySentence('Clear cell sarcoma is rare in children.', ['clear cell sarcoma']).label,
      'other',
    );
    assert.equal(
      classifySentence('Clear cell sarcoma is composed of nests of clear cells.', ['clear cell sarcoma'])
        .label,
      'histology',
    );
    assert.deepEqual(classifySentence('The tumour cells have large nuclei with prominent nucleoli.'), {
      label: 'cytology',
      cues: ['nuclei', 'tumour cells', 'cells have'],
    });
  });
});

describe('splitSentences', () => {
  it('splits at sentence ends but not at abbreviations, initials, decimals or inside brackets', () => {
    assert.deepEqual(
      splitSentences(
        'A disease, e.g. gastritis. It has 2.5 cm nodules (see Fig. 2. Right). Chr. 19 is involved. Second.',
      ),
      [
        'A disease, e.g. gastritis.',
        'It has 2.5 cm nodules (see Fig. 2. Right).',
        'Chr. 19 is involved.',
        'Second.',
      ],
    );
    assert.deepEqual(splitSentences('.A connective tissue disease. Caused by J. Smith syndrome.'), [
      'A connective tissue disease.',
      'Caused by J. Smith syndrome.',
    ]);
  });
});
