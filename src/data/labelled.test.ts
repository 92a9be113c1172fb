import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ManifestError } from './delimited.ts';
import { readImageFolder, readLabelled, readLabelledImages } from './labelled.ts';

const dir = mkdtempSync(join(tmpdir(), 'kep-labelled-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = join(dir, name);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, text);
  return p;
}

test('a labels CSV: image_name,label with an image root; classes sorted by code point', async () => {
  const p = file('labels.csv', 'image_name,label\nx/1.png,TUM\n2.png,ADI\n"3, copy.png",TUM\n4.png,BACK\n');
  const set = await readLabelledImages(p, { root: '/imgs' });
  assert.deepEqual(
    set.items.map((i) => [i.path, i.label, i.line]),
    [
      ['/imgs/x/1.png', 'TUM', 2],
      ['/imgs/2.png', 'ADI', 3],
      ['/imgs/3, copy.png', 'TUM', 4],
      ['/imgs/4.png', 'BACK', 5],
    ],
  );
  assert.deepEqual(set.classes, ['ADI', 'BACK', 'TUM']);
  assert.equal(set.root, '/imgs');
});

test('other delimiters and column names; errors name file and line', async () => {
  const p = file('labels.tsv', 'filename\tclass\ta.png\tx\n'.replace('\ta.png', '\na.png'));
  assert.deepEqual(
    (await readLabelledImages(p)).items.map((i) => [i.name, i.label]),
    [['a.png', 'x']],
  );
  const e = (re: RegExp) => (err: unknown) => err instanceof ManifestError && re.test(err.message);
  await assert.rejects(
    readLabelledImages(file('nolabel.csv', 'image_name,caption\na,b\n')),
    e(/nolabel\.csv:1: no label column/),
  );
  await assert.rejects(
    readLabelledImages(file('emptylabel.csv', 'image_name,label\na.png,\n')),
    e(/emptylabel\.csv:2: empty label for a\.png/),
  );
  await assert.rejects(
    readLabelledImages(file('extra.csv', 'image_name,label\na.png,x,y\n')),
    e(/extra\.csv:2: expected 2 comma-separated fields/),
  );
  await assert.rejects(
    readLabelledImages(file('only.csv', 'image_name,label\n')),
    e(/only\.csv: no labelled images/),
  );
});

test('a folder of class subfolders (ImageFolder layout), recursing, images only', async () => {
  const root = join(dir, 'folder');
  file('folder/TUM/a.png', '');
  file('folder/TUM/deep/b.JPG', '');
  file('folder/ADI/c.tif', '');
  file('folder/ADI/notes.txt', '');
  file('folder/readme.md', '');
  const set = readImageFolder(root);
  assert.deepEqual(
    set.items.map((i) => [i.name, i.label]),
    [
      ['ADI/c.tif', 'ADI'],
      ['TUM/a.png', 'TUM'],
      ['TUM/deep/b.JPG', 'TUM'],
    ],
  );
  assert.deepEqual(set.classes, ['ADI', 'TUM']);
  assert.equal((await readLabelled(root)).items.length, 3);
  assert.throws(() => readImageFolder(join(dir, 'folder', 'ADI')), /no images in class subfolders/);
  // LC25000's layout: the class is the folder an image is in, one level below a grouping folder.
  file('lc/lung_image_sets/lung_aca/1.jpeg', '');
  file('lc/lung_image_sets/lung_n/2.jpeg', '');
  file('lc/colon_image_sets/colon_aca/3.jpeg', '');
  assert.deepEqual(readImageFolder(join(dir, 'lc'), 'parent').classes, ['colon_aca', 'lung_aca', 'lung_n']);
  assert.deepEqual((await readLabelled(join(dir, 'lc'))).classes, ['colon_image_sets', 'lung_image_sets']);
  assert.deepEqual(
    (await readLabelled(join(dir, 'lc'), { labelFrom: 'parent' })).items[0]!.name,
    'colon_image_sets/colon_aca/3.jpeg',
  );
  await assert.rejects(readLabelled(join(dir, 'nope')), /nope: cannot read/);
});
