import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  PromptFileError,
  classCaptions,
  parsePromptFile,
  poolPromptSets,
  promptFileJson,
  readPromptFile,
} from './prompt-sets.ts';

const PROMPTS = '../shared/data/prompts';
const dir = mkdtempSync(join(tmpdir(), 'kep-prompts-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('every published prompt file parses, with its number of sets and classes', () => {
  const expected: Record<string, [number, number]> = {
    'kep/Bach_prompts_100.json': [100, 4],
    'kep/Kather_prompts_100.json': [100, 9],
    'kep/Lc25000_prompts_100.json': [100, 5],
    'kep/Renalcell_prompts_100.json': [100, 5],
    'kep/Sicap_prompts_100.json': [100, 5],
    'kep/Skincancer_prompts_100.json': [100, 16],
    'kep/Wsss4luad_prompts_100.json': [100, 3],
    'keep/cptac_cm_prompts.json': [1386, 2],
    'keep/other_camelyon_tumor_prompts.json': [660, 2],
    'keep/tcga_rcc_prompts.json': [1782, 4],
  };
  const found = ['kep', 'keep'].flatMap((d) =>
    readdirSync(join(PROMPTS, d))
      .filter((f) => f.endsWith('.json'))
      .map((f) => `${d}/${f}`),
  );
  assert.deepEqual(found.sort(), Object.keys(expected).sort());
  for (const [f, [n, c]] of Object.entries(expected)) {
    const sets = readPromptFile(join(PROMPTS, f));
    assert.equal(sets.length, n, f);
    assert.ok(
      sets.every((s) => s.classes.length === c && s.templates.length === 1),
      f,
    );
  }
  const bach = readPromptFile(join(PROMPTS, 'kep/Bach_prompts_100.json'));
  assert.equal(bach[0]!.id, '0');
  assert.equal(bach[99]!.id, '99');
  assert.deepEqual(classCaptions(bach[0]!, bach[0]!.classes[0]!), [
    'shows breast non-malignant benign tissue.',
  ]);
});

test('lists of names and templates: captions are templates × names; the JSON form round-trips', () => {
  const sets = parsePromptFile(
    {
      '0': {
        classnames: { A: ['alpha', 'first'], B: 'beta' },
        templates: ['CLASSNAME.', 'a CLASSNAME, CLASSNAME'],
      },
    },
    'p.json',
  );
  assert.deepEqual(classCaptions(sets[0]!, sets[0]!.classes[0]!), [
    'alpha.',
    'first.',
    'a alpha, alpha',
    'a first, first',
  ]);
  assert.deepEqual(parsePromptFile(promptFileJson(sets), 'again'), sets);
});

test('pooling merges names per label and templates across sets, without duplicates', () => {
  const sets = parsePromptFile(
    {
      '0': { classnames: { A: 'a1', B: 'b1' }, templates: 'CLASSNAME.' },
      '1': { classnames: { A: ['a1', 'a2'], C: 'c1' }, templates: 'x CLASSNAME' },
    },
    'p.json',
  );
  assert.deepEqual(poolPromptSets(sets), {
    id: 'pooled',
    classes: [
      { label: 'A', names: ['a1', 'a2'] },
      { label: 'B', names: ['b1'] },
      { label: 'C', names: ['c1'] },
    ],
    templates: ['CLASSNAME.', 'x CLASSNAME'],
  });
});

test('errors name the file, the set and the key', () => {
  const bad = (value: unknown, re: RegExp): void =>
    assert.throws(
      () => parsePromptFile(value, 'f.json'),
      (e: unknown) => e instanceof PromptFileError && re.test(e.message),
    );
  bad([], /f\.json: expected an object of prompt sets/);
  bad({}, /f\.json: no prompt sets/);
  bad({ '0': { templates: 'CLASSNAME' } }, /f\.json: set "0", classnames: missing/);
  bad({ '0': { classnames: { A: 'a' } } }, /set "0", templates: missing/);
  bad(
    { '0': { classnames: { A: 3 }, templates: 'CLASSNAME' } },
    /set "0", classnames\.A: expected a string or a non-empty list/,
  );
  bad({ '0': { classnames: { A: [] }, templates: 'CLASSNAME' } }, /set "0", classnames\.A: /);
  bad({ '0': { classnames: { A: '  ' }, templates: 'CLASSNAME' } }, /set "0", classnames\.A: /);
  bad({ '0': { classnames: {}, templates: 'CLASSNAME' } }, /set "0", classnames: no classes/);
  bad(
    { '0': { classnames: { A: 'a' }, templates: 'an image' } },
    /set "0", templates: "an image" has no CLASSNAME/,
  );
  bad({ '0': { classnames: { A: 'a' }, templates: 'CLASSNAME', template: 'x' } }, /set "0": .*template/);
  const p = join(dir, 'broken.json');
  writeFileSync(p, '{"0": ');
  assert.throws(() => readPromptFile(p), /broken\.json: malformed JSON/);
  assert.throws(() => readPromptFile(join(dir, 'absent.json')), /absent\.json: ENOENT/);
});
