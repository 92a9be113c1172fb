// Training runs under careless inputs, through the real command line (docs/knowledge-encoder.md and
// docs/vision-language-training.md, "When something goes wrong"): a resume with settings that do
// not fit the folder's checkpoint is refused with the folder byte-identical; a data set whose every
// image is unusable stops before a folder exists; a killed writer's temporary file is cleared; an
// image size no machine can hold is refused at once.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { writeSyntheticSet, type SyntheticSetFiles } from '../data/synthetic.ts';
import { expectKep, expectUnchanged, kep } from './testing.ts';

const dir = mkdtempSync(join(tmpdir(), 'kep-reliability-train-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const TINY_S1 = {
  layers: 1,
  hidden: 16,
  heads: 2,
  intermediate: 32,
  embedDim: 16,
  vocabSize: 100,
  p: 4,
  k: 2,
  steps: 2,
  evalEvery: 2,
  checkpointEvery: 2,
  warmup: 1,
  threads: 1,
};
let set: SyntheticSetFiles;
const samples = join(dir, 'samples.jsonl');
before(async () => {
  set = await writeSyntheticSet(join(dir, 'set'), { count: 16, seed: 1, size: 40 });
  const rows: string[] = [];
  for (const organ of ['lung', 'breast', 'kidney', 'colon', 'liver', 'skin'])
    for (const text of [`${organ} carcinoma`, `carcinoma of the ${organ}`, `${organ} cancer`])
      rows.push(JSON.stringify({ text, label: `X:${organ}`, kind: 'name' }));
  writeFileSync(samples, `${rows.join('\n')}\n`);
  writeFileSync(join(dir, 's1.json'), JSON.stringify(TINY_S1));
  writeFileSync(join(dir, 's1-wide.json'), JSON.stringify({ ...TINY_S1, embedDim: 24 }));
  writeFileSync(
    join(dir, 'vlp.json'),
    JSON.stringify({ warmup: 1, threads: 1, workers: 0, freezeEpochs: 0 }),
  );
});

const vlp = (out: string, ...more: string[]): ReturnType<typeof kep> =>
  kep([
    'train',
    'vlp',
    '--pairs',
    set.pairs,
    '--out',
    out,
    '--model',
    'kep-tiny',
    '--loss',
    'clip',
    '--batch',
    '8',
    '--steps',
    '2',
    '--config',
    join(dir, 'vlp.json'),
    ...more,
  ]);

test('train knowledge: resuming with another embedDim is refused, names the setting, and leaves the folder byte-identical', () => {
  const out = join(dir, 's1');
  const args = ['train', 'knowledge', '--samples', samples, '--out', out];
  expectKep(kep([...args, '--config', join(dir, 's1.json')]), { status: 0 });
  const r = expectUnchanged(out, () => kep([...args, '--config', join(dir, 's1-wide.json')]));
  expectKep(r, {
    status: 1,
    stderr: [
      /cannot resume this run with these settings/,
      /embedDim 24 \(the run's: 16\)/,
      /another folder \(--out\)/,
    ],
  });
});

test('train vlp: resuming at another --image-size is refused before kep-model.json changes', () => {
  const out = join(dir, 'vlp');
  expectKep(vlp(out, '--image-size', '32'), { status: 0 });
  const r = expectUnchanged(out, () => vlp(out, '--image-size', '48', '--steps', '4'));
  expectKep(r, {
    status: 1,
    stderr: [/cannot resume/, /--image-size 48 \(the run's: 32\)/, /Nothing in .* was changed/],
  });
});

test("train vlp: a killed writer's temporary checkpoint is removed when the run resumes", () => {
  const out = join(dir, 'vlp-stale');
  expectKep(vlp(out), { status: 0 });
  // pid 2^22 + 1 exceeds Linux's pid_max: the writer that left this is certainly gone.
  const stale = join(out, 'checkpoints', `.step-000004.safetensors.${2 ** 22 + 1}.1700000000000.tmp`);
  writeFileSync(stale, 'half a checkpoint');
  expectKep(vlp(out, '--steps', '3'), { status: 0 });
  assert.equal(existsSync(stale), false);
  assert.deepEqual(
    readdirSync(join(out, 'checkpoints')).filter((f) => f.endsWith('.tmp')),
    [],
  );
});

test('train vlp: a data set whose every image is unusable stops before the run folder exists', () => {
  const bad = join(dir, 'bad');
  const pairs = join(dir, 'bad-pairs.csv');
  writeFileSync(
    pairs,
    `image_name|caption\n${Array.from({ length: 10 }, (_, i) => `missing-${i}.png|a red circle`).join('\n')}\n`,
  );
  const r = kep([
    'train',
    'vlp',
    '--pairs',
    pairs,
    '--out',
    bad,
    '--model',
    'kep-tiny',
    '--loss',
    'clip',
    '--batch',
    '4',
    '--steps',
    '1',
    '--config',
    join(dir, 'vlp.json'),
  ]);
  expectKep(r, {
    status: 1,
    stderr:
      /bad-pairs\.csv: no usable batch of 4 images: 8 of the 8 images tried are unusable \(first: .*missing-0\.png/,
  });
  assert.equal(existsSync(bad), false);
});

test('train vlp: --image-size beyond what a machine can hold is refused at once', () => {
  const r = vlp(join(dir, 'huge'), '--image-size', '100000');
  expectKep(r, { status: 1, stderr: /--image-size.*at most 1024/ });
  assert.equal(existsSync(join(dir, 'huge')), false);
});
