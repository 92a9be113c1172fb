import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Trainer } from '../engine/trainer.ts';
import { kepTrainingLoss } from './kep.ts';
import { getModel, registry } from './registry.ts';
import { kepTestBatch as batch } from './testing.ts';

test('the registry has the named models the project promises', () => {
  for (const name of [
    'vit-b-16',
    'vit-b-32',
    'ctranspath',
    'vit-tiny-16',
    'bert-base',
    'bert-small',
    'kep-32',
    'kep-16',
    'kep-ctp',
  ])
    assert.ok(registry.has(name), name);
  assert.throws(() => getModel('vit-h-14'), /unknown model "vit-h-14"; known: vit-b-16/);
});

test('KEP S2 training moves the image and text towers and the scale, never the knowledge tower', async () => {
  const entry = getModel('kep-tiny');
  if (entry.kind !== 'kep') throw new Error('kep-tiny is a KEP model');
  const trainer = await Trainer.create(
    (g) => {
      const pixels = g.input('pixels', 'float32', ['batch', 3, 32, 32]);
      const ids = g.input('ids', 'int64', ['batch', 'seq']);
      const mask = g.input('mask', 'int64', ['batch', 'seq']);
      return { loss: kepTrainingLoss(g, pixels, ids, mask, entry.config) };
    },
    { seed: 1 },
  );
  const before = new Map([...trainer.params].map(([k, v]) => [k, Float32Array.from(v)]));
  const b = batch(6, 32, 8);
  const losses: number[] = [];
  for (let s = 0; s < 8; s++) losses.push((await trainer.trainStep(b, 3e-3)).loss);
  assert.ok(losses.at(-1)! < losses[0]!, `loss ${losses[0]} → ${losses.at(-1)}`);
  const changed = (prefix: string) =>
    [...trainer.params]
      .filter(([k]) => k.startsWith(prefix))
      .some(([k, v]) => v.some((x, i) => x !== before.get(k)![i]));
  assert.ok(
    changed('image.') &&
      changed('image_head.') &&
      changed('text.') &&
      changed('text_head.') &&
      changed('logit_scale'),
  );
  assert.ok(!changed('knowledge.') && !changed('knowledge_head.'), 'the knowledge tower is frozen');
  await trainer.release();
});
