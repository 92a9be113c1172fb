import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { classCaptions } from '../data/prompt-sets.ts';
import { buildTree } from '../knowledge/build.ts';
import { DEFAULT_TEMPLATES, parseClassList, promptSetFromClassNames } from './class-prompts.ts';

test('class lists: trimmed, at least two, no empty or repeated names', () => {
  assert.deepEqual(parseClassList(' lung adenocarcinoma , Melanoma,x'), [
    'lung adenocarcinoma',
    'Melanoma',
    'x',
  ]);
  assert.throws(() => parseClassList('a,,b'), /an empty class name/);
  assert.throws(() => parseClassList('a,b,a'), /"a" is given twice/);
  assert.throws(() => parseClassList('a'), /at least two/);
});

test('names from the tree: the class name first, then the disease’s names and synonyms; unknown classes keep their name', () => {
  const tree = buildTree(fileURLToPath(new URL('../knowledge/fixtures/sources/', import.meta.url)));
  const { set, info } = promptSetFromClassNames(['lung adenocarcinoma', 'melanoma', 'banana'], tree, {
    maxSynonyms: 2,
  });
  assert.equal(info[0]!.disease!.id, 'ONCOTREE:LUAD');
  assert.deepEqual(info[0]!.names, [
    'lung adenocarcinoma',
    'Adenocarcinoma of lung',
    'adenocarcinoma of the lung',
  ]);
  assert.equal(info[1]!.match, 'exact');
  assert.ok(info[1]!.names.length > 1, JSON.stringify(info[1]));
  assert.deepEqual(info[2]!.names, ['banana']);
  assert.equal(info[2]!.match, 'none');
  assert.equal(set.templates.length, DEFAULT_TEMPLATES.length);
  assert.equal(classCaptions(set, set.classes[0]!).length, 3 * 22);
  assert.ok(DEFAULT_TEMPLATES.every((t) => t.includes('CLASSNAME')));
  const none = promptSetFromClassNames(['a', 'b'], undefined, { templates: ['CLASSNAME.'] });
  assert.deepEqual(
    none.info.map((i) => i.match),
    ['no tree', 'no tree'],
  );
  assert.deepEqual(classCaptions(none.set, none.set.classes[1]!), ['b.']);
});
