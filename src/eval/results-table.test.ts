import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ReportEntry, datasetName, resultsTable } from './results-table.ts';

const entry = (name: string, dataset: string, median: number, untrained = false): ReportEntry => ({
  name,
  dataset,
  file: `${name}-${dataset}.json`,
  prompts: `${dataset}_prompts_100.json`,
  wF1: { median, q1: median - 0.01, q3: median + 0.02 },
  bacc: { median: median / 2, q1: 0, q3: 1 },
  n_sets: 100,
  n_images: 10,
  untrained,
});

test('data set names come from the prompt files', () => {
  assert.equal(datasetName('../shared/data/prompts/kep/Kather_prompts_100.json'), 'Kather');
  assert.equal(datasetName('tcga_rcc_prompts.json'), 'tcga_rcc');
  assert.equal(datasetName('mine.json'), 'mine');
});

test('runs are rows, data sets columns, gaps a dash', () => {
  const t = resultsTable(
    [entry('KEP-16', 'Kather', 0.8), entry('KEP-16', 'Bach', 0.5), entry('CLIP-16', 'Kather', 0.7)],
    'wF1',
  );
  assert.equal(
    t,
    [
      'Zero-shot weighted F1, median [q1, q3] over prompt sets',
      '',
      '| run | Kather | Bach |',
      '|---|---:|---:|',
      '| KEP-16 | 0.800 [0.790, 0.820] | 0.500 [0.490, 0.520] |',
      '| CLIP-16 | 0.700 [0.690, 0.720] | – |',
      '',
    ].join('\n'),
  );
});

test('int8 runs are marked and explained', () => {
  const t = resultsTable(
    [entry('KEP-16', 'Kather', 0.8), { ...entry('KEP-16 int8', 'Kather', 0.79), precision: 'int8' }],
    'wF1',
  );
  assert.match(t, /\| KEP-16 \| 0\.800 \[0\.790, 0\.820\] \|/);
  assert.match(t, /\| KEP-16 int8 \| 0\.790 \[0\.780, 0\.810\] ‡ \|/);
  assert.match(t, /‡ int8 run/);
});
