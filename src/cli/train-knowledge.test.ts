// Bad input to `kep train knowledge` / `kep eval knowledge`, through the real command line: each
// case ends with a message naming the file (and line or step), never a crash or a NaN run.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { TINY_KNOWLEDGE_SETTINGS } from './testing.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'kep-cli-s1-'));
const samples = join(dir, 'samples.jsonl');
const tiny = join(dir, 'tiny.json');
const TINY = TINY_KNOWLEDGE_SETTINGS;

const kep = (...args: string[]): { status: number | null; stdout: string; stderr: string } =>
  spawnSync(process.execPath, [join(ROOT, 'bin/kep.js'), ...args], { encoding: 'utf8' });

before(() => {
  const words = [
    'adeno',
    'squamous',
    'small cell',
    'large cell',
    'papillary',
    'follicular',
    'clear cell',
    'mucinous',
  ];
  const organs = ['lung', 'breast', 'kidney', 'thyroid', 'colon'];
  const rows: string[] = [];
  for (const w of words)
    for (const o of organs) {
      const label = `X:${w}-${o}`;
      rows.push(JSON.stringify({ text: `${w} carcinoma of the ${o}`, label, kind: 'name' }));
      rows.push(JSON.stringify({ text: `${o} ${w} carcinoma`, label, kind: 'synonym' }));
      rows.push(JSON.stringify({ text: `${w} ${o} cancer`, label, kind: 'synonym' }));
      // Longer than the 32-token limit: truncated, as documented.
      rows.push(
        JSON.stringify({
          text: `A carcinoma of the ${o} with ${w} features. ${'It is described at length. '.repeat(12)}`,
          label,
          kind: 'definition',
        }),
      );
    }
  // A disease with a single text: kept, its group repeats the text.
  rows.push(JSON.stringify({ text: 'lonely tumour', label: 'X:lonely', kind: 'name' }));
  writeFileSync(samples, `${rows.join('\n')}\n`);
  writeFileSync(tiny, JSON.stringify(TINY));
});

test('an empty or malformed samples file is named with its line', () => {
  writeFileSync(join(dir, 'empty.jsonl'), '');
  let r = kep('train', 'knowledge', '--samples', join(dir, 'empty.jsonl'), '--out', join(dir, 'e'));
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /empty\.jsonl: no samples/);
  writeFileSync(join(dir, 'bad.jsonl'), '{"text": "a", "label": "X:1", "kind": "name"}\n{"text": \n');
  r = kep('train', 'knowledge', '--samples', join(dir, 'bad.jsonl'), '--out', join(dir, 'b'));
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /bad\.jsonl:2: malformed JSON/);
});

test('long texts and single-text diseases train; a diverging run stops at the step with a NaN loss, before updating', () => {
  const out = join(dir, 'ok');
  let r = kep('train', 'knowledge', '--samples', samples, '--out', out, '--config', tiny, '--steps', '4');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /trained steps 0→4/);
  const cfg = join(dir, 'merged.json');
  // The tiny encoder with a learning rate no run survives.
  writeFileSync(cfg, JSON.stringify({ ...TINY, lr: 1e30, warmup: 0, steps: 20 }));
  r = kep('train', 'knowledge', '--samples', samples, '--out', join(dir, 'nan'), '--config', cfg);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /loss is (NaN|-?Infinity) at step \d+; stopping \(parameters not updated\)/);
});

test('a corrupt newest checkpoint is skipped with a message; a folder with none left is refused', () => {
  const out = join(dir, 'ok');
  const ckpts = join(out, 'checkpoints');
  const newest = readdirSync(ckpts).sort().at(-1)!;
  writeFileSync(join(ckpts, newest), 'garbage');
  let r = kep('eval', 'knowledge', '--encoder', out, '--samples', samples, '--json');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`skipping incomplete checkpoint .*${newest}`));
  const report = JSON.parse(r.stdout) as { galleries: Record<string, { rank1: number; n: number }> };
  assert.ok(report.galleries.synonym!.n > 0);
  for (const f of readdirSync(ckpts)) writeFileSync(join(ckpts, f), 'garbage');
  r = kep('eval', 'knowledge', '--encoder', out, '--samples', samples);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /no complete checkpoint in .*checkpoints/);
});
