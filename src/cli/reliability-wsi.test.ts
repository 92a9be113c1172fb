// `kep wsi run` under careless and hostile inputs, through the real command line (docs/wsi.md,
// "When something goes wrong"): a dangling link in the slide folder, a damaged features.h5 behind a
// done marker, a PNG renamed .svs, a batch whose every slide fails.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { blobImage, tempDir } from '../wsi/testing.ts';
import { expectKep, kep } from './testing.ts';

const tmp = tempDir('reliability');
after(tmp.remove);
let png: Buffer;
before(async () => {
  const w = 768;
  const h = 512;
  const rgb = blobImage(w, h, [{ cx: 384, cy: 256, rx: 300, ry: 200 }]);
  png = await sharp(rgb, { raw: { width: w, height: h, channels: 3 } })
    .png()
    .toBuffer();
});

const run = (input: string, out: string): ReturnType<typeof kep> =>
  kep([
    'wsi',
    'run',
    input,
    '--out',
    out,
    '--model',
    'kep-tiny',
    '--workers',
    '0',
    '--no-progress',
    '--overview-size',
    '128',
  ]);

test('wsi run: a dangling link in the slide folder is one failed slide; the others run and the summary is written', () => {
  const slides = join(tmp.dir, 'dangling');
  mkdirSync(slides);
  writeFileSync(join(slides, 'good.png'), png);
  symlinkSync(join(slides, 'moved-away.svs'), join(slides, 'ghost.svs'));
  const out = join(tmp.dir, 'dangling-out');
  const r = run(slides, out);
  expectKep(r, { status: 2, stderr: [/1 done, 0 skipped, 1 failed/, /ghost: .*dangling symbolic link/] });
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as {
    slides: { slide: string; status: string; error_kind?: string }[];
  };
  assert.deepEqual(
    summary.slides.map((s) => [s.slide, s.status, s.error_kind ?? null]),
    [
      ['ghost', 'failed', 'not-found'],
      ['good', 'done', null],
    ],
  );
});

test('wsi run: a truncated features.h5 behind its done marker is redone and reported, not skipped forever', () => {
  const slides = join(tmp.dir, 'truncated');
  mkdirSync(slides);
  writeFileSync(join(slides, 'slide.png'), png);
  const out = join(tmp.dir, 'truncated-out');
  expectKep(run(slides, out), { status: 0 });
  const features = join(out, 'slide', 'features.h5');
  const size = statSync(features).size;
  truncateSync(features, size >> 1);
  const r = run(slides, out);
  expectKep(r, { status: 0, stderr: [/1 done, 0 skipped/, /slide: redone: features\.h5 corrupt/] });
  assert.equal(statSync(features).size, size);
  expectKep(run(slides, out), { status: 0, stderr: /0 done, 1 skipped/ });
});

test('wsi run: a PNG renamed .svs is read as the PNG it is, and the run says so', () => {
  const slides = join(tmp.dir, 'renamed');
  mkdirSync(slides);
  writeFileSync(join(slides, 'scan.svs'), png);
  const r = run(slides, join(tmp.dir, 'renamed-out'));
  expectKep(r, {
    status: 0,
    stderr: [/scan: the file is a PNG image despite its \.svs extension/, /1 done/],
  });
});

test('wsi run: a batch whose every slide fails exits 1, with the summary listing why', () => {
  const slides = join(tmp.dir, 'all-bad');
  mkdirSync(slides);
  writeFileSync(join(slides, 'a.svs'), 'not a slide\n');
  symlinkSync(join(slides, 'nowhere.svs'), join(slides, 'b.svs'));
  const out = join(tmp.dir, 'all-bad-out');
  expectKep(run(slides, out), {
    status: 1,
    stderr: [/0 done, 0 skipped, 2 failed/, /a: .*not a slide format/],
  });
  assert.match(readFileSync(join(out, 'summary.md'), 'utf8'), /dangling symbolic link/);
});
