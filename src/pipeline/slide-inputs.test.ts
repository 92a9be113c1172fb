import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listSlides, slideId } from './slide-inputs.ts';

function folder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kep-slides-'));
  for (const f of ['b.svs', 'a.ome.tiff', 'c.png', 'notes.txt', 'labels.csv', '.hidden.svs'])
    writeFileSync(join(dir, f), 'x');
  mkdirSync(join(dir, 'mirax-data'));
  return dir;
}

test('slide ids drop the extension, including .ome.tiff', () => {
  assert.equal(slideId('/x/TCGA-01.svs'), 'TCGA-01');
  assert.equal(slideId('x.ome.tiff'), 'x');
  assert.equal(slideId('x.ome.tif'), 'x');
  assert.equal(slideId('noext'), 'noext');
});

test('a folder lists its files (not notes, manifests, hidden files or folders), sorted', async () => {
  const dir = folder();
  const slides = await listSlides(dir);
  assert.deepEqual(
    slides.map((s) => [s.id, s.path]),
    [
      ['a', join(dir, 'a.ome.tiff')],
      ['b', join(dir, 'b.svs')],
      ['c', join(dir, 'c.png')],
    ],
  );
  writeFileSync(join(dir, 'labels.csv'), 'slide_id,label\nb,LUAD\nc.png,LUSC\n');
  const labelled = await listSlides(dir, { labels: join(dir, 'labels.csv') });
  assert.deepEqual(
    labelled.map((s) => s.label),
    [undefined, 'LUAD', 'LUSC'],
  );
});

test('a slide list resolves paths against its folder or --root and reads labels', async () => {
  const dir = folder();
  const list = join(dir, 'slides.csv');
  writeFileSync(list, 'path,label\nb.svs,LUAD\n/abs/z.svs,LUSC\nb.svs,LUAD\n');
  const slides = await listSlides(list);
  assert.deepEqual(slides, [
    { id: 'b', path: join(dir, 'b.svs'), label: 'LUAD' },
    { id: 'z', path: '/abs/z.svs', label: 'LUSC' },
  ]);
  const rooted = await listSlides(list, { root: '/data' });
  assert.equal(rooted[0]!.path, '/data/b.svs');

  const tsv = join(dir, 'slides.tsv');
  writeFileSync(tsv, 'slide\nb.svs\n');
  assert.deepEqual(await listSlides(tsv), [{ id: 'b', path: join(dir, 'b.svs') }]);
});

test('bad inputs name the file and the problem', async () => {
  const dir = folder();
  await assert.rejects(listSlides(join(dir, 'nope')), /nope: no such file or folder/);
  const noColumn = join(dir, 'x.csv');
  writeFileSync(noColumn, 'foo,label\n1,2\n');
  await assert.rejects(listSlides(noColumn), /x\.csv:1: no slide column/);
  const clash = join(dir, 'clash.csv');
  writeFileSync(clash, 'slide\none/s.svs\ntwo/s.svs\n');
  await assert.rejects(listSlides(clash), /two slides share the output name "s"/);
  const twice = join(dir, 'twice.csv');
  writeFileSync(twice, 'slide,label\nb,LUAD\nb,LUSC\n');
  await assert.rejects(
    listSlides(dir, { labels: twice }),
    /twice\.csv:3: slide b is labelled both "LUAD" and "LUSC"/,
  );
  const empty = mkdtempSync(join(tmpdir(), 'kep-slides-'));
  await assert.rejects(listSlides(empty), /no slide files/);
});
