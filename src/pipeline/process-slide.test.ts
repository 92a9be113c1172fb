// processSlide on its own, as a queue worker calls it: one slide, one context kept across jobs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { fakeColourModel } from '../eval/testing.ts';
import { processSlide } from './process-slide.ts';
import { createSlideContext, type SlideStage } from './slide-context.ts';
import { resolveSlideSettings, slideKeys } from './slide-settings.ts';

test('processSlide: stages in order, then done.json; the same job again is skipped without a model', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kep-process-slide-'));
  const w = 768;
  const data = new Uint8Array(w * w * 3).fill(255);
  for (let y = 0; y < w; y++)
    for (let x = 0; x < w; x++)
      if ((x - 384) ** 2 + (y - 384) ** 2 < 300 ** 2) data.set([200, 30, 40], (y * w + x) * 3);
  const path = join(dir, 'red.png');
  writeFileSync(
    path,
    await sharp(data, { raw: { width: w, height: w, channels: 3 } })
      .png()
      .toBuffer(),
  );
  const prompts = join(dir, 'prompts.json');
  writeFileSync(
    prompts,
    JSON.stringify({ '0': { classnames: { RED: 'red', GREEN: 'green' }, templates: 'CLASSNAME' } }),
  );
  const settings = resolveSlideSettings({
    model: { name: 'fake-colour' },
    prompts,
    ks: [1],
    overviewSize: 128,
    heatmapSize: 64,
    batchSize: 8,
  });
  // A worker gets its settings as JSON in the job: the round trip must not change the keys.
  const carried = JSON.parse(JSON.stringify(settings)) as typeof settings;
  assert.deepEqual(slideKeys({ id: 'red', path }, carried), slideKeys({ id: 'red', path }, settings));
  let loads = 0;
  const stages: string[] = [];
  const context = () =>
    createSlideContext({
      settings: carried,
      loadModel: async () => {
        loads++;
        return fakeColourModel();
      },
      workers: 0,
      onStage: (slide: string, stage: SlideStage) => stages.push(`${slide}:${stage}`),
    });
  const out = join(dir, 'out');
  const first = context();
  try {
    const s = await processSlide({ input: { id: 'red', path }, out }, first);
    assert.equal(s.status, 'done', s.error ?? '');
    assert.ok(s.n_patches! > 0);
  } finally {
    await first.close();
  }
  assert.deepEqual(stages, ['red:segment', 'red:patch', 'red:embed', 'red:score', 'red:done']);
  const done = JSON.parse(readFileSync(join(out, 'red', 'done.json'), 'utf8')) as {
    outputs: Record<string, unknown>;
  };
  assert.deepEqual(Object.keys(done.outputs), [
    'features.h5',
    'heatmap-GREEN.png',
    'heatmap-RED.png',
    'overview.png',
    'scores.json',
    'tissue.geojson',
  ]);
  assert.ok(!existsSync(join(out, 'red', '.lock')), 'lock released');

  loads = 0;
  stages.length = 0;
  const second = context();
  const again = await processSlide({ input: { id: 'red', path }, out }, second);
  await second.close();
  assert.equal(again.status, 'skipped');
  assert.equal(loads, 0, 'no model loaded for a complete slide');
  assert.deepEqual(stages, []);
});
