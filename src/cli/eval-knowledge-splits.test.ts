// The held-out splits and the hybrid ranker through the real command line (issue 11): `kep train
// knowledge --split …` holds the right texts out and stores the hybrid weight; `kep eval knowledge`
// keeps its JSON contract, adds the hybrid column, and evaluates the whole file or one split's
// held-out part.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { TINY_KNOWLEDGE_SETTINGS } from './testing.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'kep-cli-splits-'));
const samples = join(dir, 'samples.jsonl');
const bare = join(dir, 'bare.jsonl');
const tiny = join(dir, 'tiny.json');
const out = join(dir, 'cross');

const kep = (...args: string[]): { status: number | null; stdout: string; stderr: string } =>
  spawnSync(process.execPath, [join(ROOT, 'bin/kep.js'), ...args], { encoding: 'utf8' });

interface Metrics {
  rank1: number;
  rank5: number;
  mAP: number;
  n: number;
}
type Report = Record<'galleries' | 'baseline' | 'hybrid', Record<string, Metrics>> & {
  hybridWeight: { alpha: number; fitted: boolean };
};

before(() => {
  const roots = ['adeno', 'sarco', 'lympho', 'melano', 'glio', 'blasto', 'fibro', 'myo', 'osteo', 'chondro'];
  const sites = ['breast', 'lung', 'kidney', 'liver'];
  const rows: object[] = [];
  roots.forEach((r, i) =>
    sites.forEach((site, j) => {
      const label = `D:${r}-${site}`;
      rows.push({ text: `${site} ${r}ma`, label, kind: 'name', source: 'oncotree-2021+do-core' });
      rows.push({ text: `${r}ma of the ${site}`, label, kind: 'synonym', source: 'do-core' });
      rows.push({ text: `${site} ${r}matous tumour`, label, kind: 'synonym', source: 'oncotree-2021' });
      // One disease in four has nothing from NCIt: a query without positives in the cross-source split.
      if ((i + j) % 4 !== 0) {
        rows.push({
          text: `primary ${r}ma arising in the ${site}`,
          label,
          kind: 'synonym',
          source: 'ncit-disease',
        });
        rows.push({
          text: `A neoplasm of ${r} cells located in the ${site}.`,
          label,
          kind: 'definition',
          source: 'ncit-disease+ncit-subset',
        });
      }
    }),
  );
  writeFileSync(samples, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  writeFileSync(bare, rows.map((r) => JSON.stringify({ ...r, source: undefined })).join('\n') + '\n');
  writeFileSync(tiny, JSON.stringify({ ...TINY_KNOWLEDGE_SETTINGS, calibration: 0.5 }));
});

test('train --split cross-source holds out what only NCIt gives and stores a fitted hybrid weight', () => {
  const r = kep(
    'train',
    'knowledge',
    '--samples',
    samples,
    '--out',
    out,
    '--config',
    tiny,
    '--steps',
    '4',
    '--split',
    'cross-source',
  );
  assert.equal(r.status, 0, r.stderr);
  assert.match(
    r.stderr,
    /split cross-source: 60 texts only "ncit" contributes held out \(queries: 40 names\)/,
  );
  assert.match(r.stderr, /hybrid weight [\d.]+ \(encoder\)/);
  assert.match(r.stdout, /split: cross-source/);
  assert.match(r.stdout, /hybrid \(encoder \+ BM25\)/);
  const hybrid = JSON.parse(readFileSync(join(out, 'hybrid.json'), 'utf8')) as {
    alpha: number;
    grid: unknown[];
  };
  assert.ok(hybrid.alpha >= 0 && hybrid.alpha <= 1);
  assert.equal(hybrid.grid.length, 21);
  const enc = JSON.parse(readFileSync(join(out, 'encoder.json'), 'utf8')) as {
    config: Record<string, unknown>;
  };
  assert.equal(enc.config.split, 'cross-source');
  assert.equal(enc.config.holdoutSource, 'ncit');
});

test('eval --json keeps galleries and baseline, adds hybrid; all lines or one split’s held-out part', () => {
  const shape = (report: Report) => {
    for (const side of ['galleries', 'baseline', 'hybrid'] as const)
      for (const m of Object.values(report[side]))
        for (const key of ['rank1', 'rank5', 'mAP', 'n'] as const)
          assert.equal(typeof m[key], 'number', `${side}.${key}`);
  };
  let r = kep('eval', 'knowledge', '--encoder', out, '--samples', samples, '--json');
  assert.equal(r.status, 0, r.stderr);
  const all = JSON.parse(r.stdout) as Report;
  shape(all);
  assert.equal(all.hybridWeight.fitted, true);
  assert.equal(all.galleries.synonym!.n, 40);
  assert.equal(all.hybrid.definition!.n, 30);

  r = kep('eval', 'knowledge', '--encoder', out, '--samples', samples, '--json', '--split', 'cross-source');
  assert.equal(r.status, 0, r.stderr);
  const cross = JSON.parse(r.stdout) as Report;
  shape(cross);
  assert.equal(cross.hybrid.synonym!.n, 30); // only NCIt's synonyms: 10 diseases have none
  assert.doesNotMatch(r.stderr, /warning/);

  r = kep(
    'eval',
    'knowledge',
    '--encoder',
    out,
    '--samples',
    samples,
    '--json',
    '--split',
    'disease-disjoint',
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as Report).galleries.synonym!.n, 8); // 20 % of 40 diseases
  assert.match(r.stderr, /warning: .* was trained with --split cross-source --holdout-source ncit/);

  r = kep(
    'eval',
    'knowledge',
    '--encoder',
    out,
    '--samples',
    samples,
    '--split',
    'cross-source',
    '--holdout-source',
    'do',
  );
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /hybrid weight [\d.]+ \(fitted at training\)/);
});

test('link and tree-prompt look-ups rank with the encoder, BM25 or their hybrid', () => {
  const tree = join(dir, 'tree.json');
  let r = kep('knowledge', 'build', '--sources', join(ROOT, 'src/knowledge/fixtures/sources'), '--out', tree);
  assert.equal(r.status, 0, r.stderr);
  type Hit = { label: string; name: string; score: number; via: string };
  r = kep('knowledge', 'link', 'melanoma of skin', '--tree', tree, '--ranker', 'lexical', '--json');
  assert.equal(r.status, 0, r.stderr);
  const lexical = JSON.parse(r.stdout) as Hit[];
  assert.match(lexical[0]!.via, /melanoma/i);
  r = kep('knowledge', 'link', 'melanoma of skin', '--tree', tree, '--encoder', out, '--top', '3', '--json');
  assert.equal(r.status, 0, r.stderr);
  const hybrid = JSON.parse(r.stdout) as Hit[];
  assert.equal(hybrid.length, 3);
  assert.ok(hybrid.every((h) => h.score >= 0 && h.score <= 1)); // fused scores lie in [0, 1]
  r = kep('knowledge', 'link', 'melanoma', '--tree', tree);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /--encoder DIR is needed/);
  const suggestions = (...extra: string[]) => {
    const q = kep('knowledge', 'prompts', tree, 'xyzzy', '--json', ...extra);
    assert.equal(q.status, 0, q.stderr);
    const [p] = JSON.parse(q.stdout) as { match: string; suggestions: { id: string }[] }[];
    assert.equal(p!.match, 'none');
    return p!.suggestions.length;
  };
  // Word search has nothing for "xyzzy"; the encoder always ranks the tree's names.
  assert.equal(suggestions(), 0);
  assert.equal(suggestions('--encoder', out), 3);
});

test('a split that needs provenance names the file and the flag; without hybrid.json the default weight applies', () => {
  let r = kep('eval', 'knowledge', '--encoder', out, '--samples', bare, '--split', 'cross-source');
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /bare\.jsonl: 180 of 180 samples have no "source" field .*--split cross-source/);
  r = kep(
    'train',
    'knowledge',
    '--samples',
    bare,
    '--out',
    join(dir, 'no'),
    '--config',
    tiny,
    '--split',
    'cross-source',
  );
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /bare\.jsonl: .*no "source" field/);
  assert.ok(!existsSync(join(dir, 'no')), 'nothing written');

  writeFileSync(join(out, 'hybrid.json.bak'), readFileSync(join(out, 'hybrid.json')));
  spawnSync('rm', [join(out, 'hybrid.json')]);
  r = kep('eval', 'knowledge', '--encoder', out, '--samples', samples, '--json');
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual((JSON.parse(r.stdout) as Report).hybridWeight, { alpha: 0.5, fitted: false });
});
