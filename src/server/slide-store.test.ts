import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RunFolder } from './run-folder.ts';
import { modelSourceOf } from './slide-store.ts';

function runWith(model: Record<string, unknown> | undefined): RunFolder {
  return {
    root: '/r',
    wsiDir: '/r',
    summary: {
      model: 'kep-tiny',
      untrained: true,
      ...(model ? { settings: { model } } : {}),
    } as RunFolder['summary'],
    slides: [],
    trainingRuns: [],
    problems: [],
  };
}

test("text queries use the run's model at the precision its patches were embedded at", () => {
  assert.deepEqual(modelSourceOf(undefined, runWith({ name: 'kep-16', precision: 'int8' })), {
    name: 'kep-16',
    precision: 'int8',
  });
  assert.deepEqual(modelSourceOf(undefined, runWith({ name: 'kep-16' })), { name: 'kep-16' });
  // --precision overrides the run's; a given model keeps the run's precision unless told.
  assert.deepEqual(modelSourceOf(undefined, runWith({ name: 'kep-16', precision: 'int8' }), 'fp32'), {
    name: 'kep-16',
  });
  assert.deepEqual(modelSourceOf('kep-32', runWith({ name: 'kep-16', precision: 'int8' })), {
    name: 'kep-32',
    precision: 'int8',
  });
  assert.equal(modelSourceOf('kep-32', runWith(undefined)), 'kep-32');
  assert.deepEqual(modelSourceOf(undefined, runWith(undefined), 'int8'), {
    name: 'kep-tiny',
    precision: 'int8',
  });
});
