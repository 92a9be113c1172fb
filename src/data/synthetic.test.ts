import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadImage } from './image.ts';
import { readLabelledImages } from './labelled.ts';
import { readPairs } from './pairs.ts';
import { readPromptFile } from './prompt-sets.ts';
import {
  SYNONYMS,
  renderSynthetic,
  syntheticClasses,
  syntheticItems,
  writeSyntheticSet,
} from './synthetic.ts';

const dir = mkdtempSync(join(tmpdir(), 'kep-synthetic-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The shape's colour family by which channel dominates the pixels far from the background. */
function dominantColour(data: Uint8Array): string {
  const votes = { red: 0, green: 0, blue: 0 };
  for (let i = 0; i < data.length; i += 3) {
    const [r, g, b] = [data[i]!, data[i + 1]!, data[i + 2]!];
    const max = Math.max(r, g, b);
    if (max - Math.min(r, g, b) < 80) continue; // grey background
    if (max === r) votes.red++;
    else if (max === g) votes.green++;
    else votes.blue++;
  }
  return Object.entries(votes).sort((a, b) => b[1] - a[1])[0]![0];
}

test('a written set reads back through the published-format readers, and the pixels match the captions', async () => {
  const files = await writeSyntheticSet(join(dir, 'a'), { count: 36, seed: 7, size: 24 });
  assert.deepEqual(files.classes, syntheticClasses({ count: 1 }));
  assert.equal(files.classes.length, 9);
  const pairs = await readPairs(files.pairs);
  const labels = await readLabelledImages(files.labels);
  const prompts = readPromptFile(files.prompts);
  assert.equal(pairs.size, 36);
  assert.equal(labels.items.length, 36);
  assert.equal(prompts.length, 10);
  assert.deepEqual(
    prompts[0]!.classes.map((c) => c.label),
    files.classes,
  );
  // Balanced: four of each of nine classes.
  const counts = new Map<string, number>();
  for (const i of labels.items) counts.set(i.label, (counts.get(i.label) ?? 0) + 1);
  assert.deepEqual([...counts.values()], Array(9).fill(4));
  for (let i = 0; i < pairs.size; i++) {
    const item = files.items[i]!;
    assert.equal(pairs.caption(i), item.caption);
    assert.equal(labels.items[i]!.label, `${item.colour}_${item.shape}`);
    assert.ok(
      SYNONYMS[item.colour].some((w) => item.caption.includes(w)),
      item.caption,
    );
    assert.ok(
      SYNONYMS[item.shape].some((w) => item.caption.includes(w)),
      item.caption,
    );
    const img = await loadImage(pairs.imagePath(i));
    assert.equal(img.width, 24);
    assert.equal(dominantColour(img.data), item.colour, `${item.name}: ${item.caption}`);
  }
});

test('the same seed gives the same files; another seed other captions and pixels', async () => {
  const a = await writeSyntheticSet(join(dir, 'b1'), { count: 12, seed: 3, size: 16 });
  const b = await writeSyntheticSet(join(dir, 'b2'), { count: 12, seed: 3, size: 16 });
  for (const f of ['pairs.csv', 'labels.csv', 'prompts.json', a.items[5]!.name])
    assert.deepEqual(readFileSync(join(a.dir, f)), readFileSync(join(b.dir, f)), f);
  const other = syntheticItems({ count: 12, seed: 4 });
  assert.notDeepEqual(
    other.map((i) => i.caption),
    a.items.map((i) => i.caption),
  );
  const item = a.items[0]!;
  assert.notDeepEqual(renderSynthetic(item, 16, 3, 0).data, renderSynthetic(item, 16, 4, 0).data);
});

test('labels by shape or by colour; prompt phrases use the synonyms; bad options are refused', () => {
  assert.deepEqual(syntheticClasses({ count: 1, classBy: 'shape', shapes: ['ring', 'cross'] }), [
    'ring',
    'cross',
  ]);
  const items = syntheticItems({ count: 10, classBy: 'colour', colours: ['yellow', 'purple'] });
  assert.deepEqual(
    items.map((i) => i.label),
    ['yellow', 'purple', 'yellow', 'purple', 'yellow', 'purple', 'yellow', 'purple', 'yellow', 'purple'],
  );
  assert.ok(items.every((i) => i.colour === i.label));
  assert.throws(() => syntheticItems({ count: 0 }), /count must be a positive integer/);
  assert.throws(() => syntheticItems({ count: 1, size: 4 }), /size must be an integer ≥ 8/);
  assert.throws(() => syntheticItems({ count: 1, shapes: [] }), /at least one value/);
});
