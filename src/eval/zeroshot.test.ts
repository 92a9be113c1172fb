import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { readLabelledImages } from '../data/labelled.ts';
import { parsePromptFile, readPromptFile } from '../data/prompt-sets.ts';
import { type SyntheticSetFiles, writeSyntheticSet } from '../data/synthetic.ts';
import { TextEmbeddingCache } from './class-embeddings.ts';
import { embedImageFiles } from './image-features.ts';
import { fakeColourModel } from './testing.ts';
import { ZeroShotError, zeroShotClassify } from './zeroshot.ts';
import { type ZeroShotMeta, writeZeroShotReport, zeroShotSummary } from './zeroshot-report.ts';

const dir = mkdtempSync(join(tmpdir(), 'kep-zeroshot-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let byColour: SyntheticSetFiles;
let byBoth: SyntheticSetFiles;
before(async () => {
  byColour = await writeSyntheticSet(join(dir, 'colour'), {
    count: 24,
    seed: 1,
    size: 24,
    classBy: 'colour',
  });
  byBoth = await writeSyntheticSet(join(dir, 'both'), { count: 27, seed: 2, size: 24 });
});

async function features(files: SyntheticSetFiles, model = fakeColourModel()) {
  const set = await readLabelledImages(files.labels);
  const f = await embedImageFiles(
    model,
    set.items.map((i) => i.path),
    { batchSize: 5, workers: 0, progress: false },
  );
  return { ...f, labels: f.indices.map((i) => set.items[i]!.label) };
}

test('colour classes: the colour model is right on every image of every set', async () => {
  const model = fakeColourModel();
  const f = await features(byColour, model);
  const texts = new TextEmbeddingCache(model);
  const sets = readPromptFile(byColour.prompts);
  const r = await zeroShotClassify(f.features, f.dim, f.labels, sets, texts);
  assert.equal(r.n_sets, 10);
  assert.equal(r.n_images, 24);
  assert.deepEqual(r.wF1, { median: 1, q1: 1, q3: 1 });
  assert.deepEqual(r.bacc, { median: 1, q1: 1, q3: 1 });
  assert.deepEqual(r.classes, ['blue', 'green', 'red']);
  assert.deepEqual(r.distractors, []);
  // Captions repeat across sets; each distinct one reaches the model once.
  const sent = model.textCalls.flat();
  assert.equal(new Set(sent).size, sent.length);
  assert.equal(texts.embedded + texts.reused, 10 * 3);
});

test('colour × shape classes: a model blind to shape gives the hand-computed wF1 1/6 and bacc 1/3', async () => {
  // Every caption of one colour embeds the same, so ties go to the first class of that colour
  // (circle): per colour, circle has F1 2n/(n+3n) = 1/2 and recall 1, square and triangle 0.
  const f = await features(byBoth);
  const r = await zeroShotClassify(
    f.features,
    f.dim,
    f.labels,
    readPromptFile(byBoth.prompts),
    new TextEmbeddingCache(fakeColourModel()),
  );
  for (const s of r.sets) {
    assert.ok(Math.abs(s.wF1 - 1 / 6) < 1e-12, `set ${s.id}: ${s.wF1}`);
    assert.ok(Math.abs(s.bacc - 1 / 3) < 1e-12, `set ${s.id}: ${s.bacc}`);
  }
  const med = r.sets.find((s) => s.id === r.median_set)!;
  assert.deepEqual(med.confusion[0], [3, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(med.confusion[1], [3, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(med.confusion[4], [0, 0, 0, 3, 0, 0, 0, 0, 0]);
});

test('a class no image has stays a distractor; a label a set lacks is an error naming both', async () => {
  const model = fakeColourModel();
  const f = await features(byColour, model);
  const withDistractor = parsePromptFile(
    {
      '0': {
        classnames: { red: 'red', green: 'green', blue: 'blue', yellow: 'yellow' },
        templates: 'a CLASSNAME shape',
      },
      '1': {
        classnames: { red: 'scarlet', green: 'emerald', blue: 'azure', grey: 'grey' },
        templates: 'CLASSNAME.',
      },
    },
    'd.json',
  );
  const r = await zeroShotClassify(
    f.features,
    f.dim,
    f.labels,
    withDistractor,
    new TextEmbeddingCache(model),
  );
  assert.deepEqual(r.distractors, ['yellow', 'grey']);
  assert.equal(r.wF1.median, 1);
  assert.deepEqual(r.sets[0]!.labels, ['red', 'green', 'blue', 'yellow']);
  assert.deepEqual(
    r.sets[0]!.confusion.map((row) => row[3]),
    [0, 0, 0, 0],
  );
  const calls = model.textCalls.length;
  const lacking = parsePromptFile(
    { '7': { classnames: { red: 'red', green: 'green' }, templates: 'CLASSNAME' } },
    'l.json',
  );
  await assert.rejects(
    zeroShotClassify(f.features, f.dim, f.labels, lacking, new TextEmbeddingCache(model), {
      source: 'l.json',
    }),
    (e: unknown) =>
      e instanceof ZeroShotError &&
      /label "blue" \(8 images\) is not a class of prompt set "7" in l\.json \(its classes: red, green\)/.test(
        e.message,
      ),
  );
  assert.equal(model.textCalls.length, calls, 'the check comes before any text is embedded');
});

test('unreadable images are left out of the features and listed', async () => {
  const bad = join(dir, 'bad.png');
  writeFileSync(bad, 'nope');
  const good = byColour.items.slice(0, 3).map((i) => join(byColour.dir, i.name));
  const f = await embedImageFiles(fakeColourModel(), [good[0]!, bad, good[1]!, good[2]!], {
    batchSize: 2,
    workers: 1,
    progress: false,
  });
  assert.deepEqual(f.indices, [0, 2, 3]);
  assert.equal(f.features.length, 3 * 4);
  assert.deepEqual(
    f.unreadable.map((u) => u.path),
    [bad],
  );
});

test('the report: JSON, Markdown and a confusion-matrix PNG, flagged loudly for an untrained model', async () => {
  const model = fakeColourModel({ untrained: true });
  const f = await features(byBoth, model);
  const r = await zeroShotClassify(
    f.features,
    f.dim,
    f.labels,
    readPromptFile(byBoth.prompts),
    new TextEmbeddingCache(model),
  );
  const meta: ZeroShotMeta = {
    name: 'colour test',
    model: { name: model.name, source: model.source, untrained: true },
    images: byBoth.labels,
    root: byBoth.dir,
    prompts: byBoth.prompts,
    ensemble: false,
    unreadable: [{ index: 3, path: '/x/y.png', reason: 'cannot read image' }],
    texts: { embedded: 12, reused: 78 },
  };
  const summary = zeroShotSummary(r, meta);
  assert.deepEqual(Object.keys(summary).slice(0, 3), ['wF1', 'bacc', 'n_sets']);
  assert.equal(summary.untrained, true);
  assert.match(summary.warning!, /UNTRAINED MODEL/);
  const out = join(dir, 'report');
  const files = await writeZeroShotReport(out, r, meta);
  const json = JSON.parse(readFileSync(files.json, 'utf8')) as {
    sets: unknown[];
    median: { id: string };
    warning: string;
  };
  assert.equal(json.sets.length, 10);
  assert.equal(json.median.id, r.median_set);
  assert.match(json.warning, /UNTRAINED/);
  const md = readFileSync(files.markdown, 'utf8');
  assert.match(md, /^# Zero-shot classification\n\n> \*\*⚠ UNTRAINED MODEL/);
  assert.match(md, /\| weighted F1 \| 0\.167 \| 0\.167 \| 0\.167 \|/);
  assert.match(md, /`\/x\/y\.png`: cannot read image/);
  assert.match(readFileSync(files.svg, 'utf8'), /UNTRAINED MODEL/);
  const png = await sharp(files.png).metadata();
  assert.equal(png.format, 'png');
  assert.ok(png.width! > 9 * 44 && png.height! > 9 * 44, `${png.width}×${png.height}`);
});
