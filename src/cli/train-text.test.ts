// Bad input to `kep train text`, through the real command line: a message naming the file or flag,
// and the run folder left untouched.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'kep-cli-text-'));
const kep = (cwd: string, ...args: string[]) =>
  spawnSync(process.execPath, [join(ROOT, 'bin/kep.js'), ...args], { encoding: 'utf8', cwd });

test('an empty or unreadable corpus file is named, before the run folder is created', () => {
  const good = join(dir, 'good.txt');
  writeFileSync(good, 'Some text.\n');
  const empty = join(dir, 'empty.txt');
  writeFileSync(empty, '\n');
  const out = join(dir, 'run');
  let r = kep(dir, 'train', 'text', '--out', out, '--corpus', good, empty);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /empty\.txt: no text/);
  r = kep(dir, 'train', 'text', '--out', out, '--corpus', good, join(dir, 'absent.txt.gz'));
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /absent\.txt\.gz: cannot read/);
  r = kep(dir, 'train', 'text', '--out', out, '--corpus', good, '--tree', join(dir, 'no-tree.json'));
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /no-tree\.json/);
  r = kep(dir, 'train', 'text', '--out', out, '--corpus', good, '--tree-weight', '-1');
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /--tree-weight/);
  assert.ok(!existsSync(out), 'nothing written');
});

test('a tiny run with a samples file as the tree texts ends with a model folder and its manifest', () => {
  const corpus = join(dir, 'corpus.txt');
  const lines = Array.from({ length: 60 }, (_, i) => `Paragraph ${i} about the liver and the lung cells.`);
  writeFileSync(corpus, `${lines.join('\n')}\n`);
  const samples = join(dir, 'train.jsonl');
  writeFileSync(samples, `${JSON.stringify({ text: 'clear cell carcinoma', label: 'D:1', kind: 'name' })}\n`);
  const config = join(dir, 'tiny.json');
  writeFileSync(
    config,
    JSON.stringify({
      layers: 1,
      hidden: 16,
      heads: 2,
      seqLength: 16,
      vocabSize: 80,
      batchSize: 2,
      steps: 2,
      warmup: 0,
      evalEvery: 2,
      heldOut: 0.1,
      threads: 1,
    }),
  );
  const out = join(dir, 'run3');
  const r = kep(
    dir,
    'train',
    'text',
    '--out',
    out,
    '--corpus',
    corpus,
    '--tree',
    samples,
    '--tree-weight',
    '3',
    '--config',
    config,
  );
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /trained steps 0→2 .*held-out valid\.accuracy/);
  const manifest = JSON.parse(readFileSync(join(out, 'kep-text-model.json'), 'utf8')) as {
    tree: { texts: number; repeated: number };
    settings: { treeWeight: number };
  };
  assert.deepEqual([manifest.tree.texts, manifest.tree.repeated, manifest.settings.treeWeight], [1, 3, 3]);
});

test('without --corpus the default folder ../shared/data/corpus is required', () => {
  const r = kep(dir, 'train', 'text', '--out', join(dir, 'run2'));
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /no --corpus given and the default corpus folder \.\.\/shared\/data\/corpus/);
  assert.ok(!existsSync(join(dir, 'run2')));
});
