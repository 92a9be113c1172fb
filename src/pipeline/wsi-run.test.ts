// The batch runner end to end on slides made here (plain PNGs: a red and a green "tissue" disc on
// white, a blank slide, a truncated file, a file no reader takes), with the colour-statistics test
// model: red patches embed as red, "red" captions as red, so right answers are checkable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { ModelSource, VisionLanguageModel } from '../embed/types.ts';
import { fakeColourModel } from '../eval/testing.ts';
import { loadImage } from '../data/image.ts';
import { readFeaturesH5 } from '../wsi/features-h5.ts';
import { runWsiBatch, type WsiRunOptions } from './wsi-run.ts';

async function disc(path: string, colour: [number, number, number] | null): Promise<void> {
  const w = 1024;
  const h = 768;
  const data = new Uint8Array(w * h * 3).fill(255);
  if (colour)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        if ((x - 512) ** 2 + (y - 384) ** 2 < 300 ** 2) data.set(colour, (y * w + x) * 3);
  writeFileSync(
    path,
    await sharp(data, { raw: { width: w, height: h, channels: 3 } })
      .png()
      .toBuffer(),
  );
}

async function setup(): Promise<{ dir: string; slides: string; prompts: string; out: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'kep-wsi-run-'));
  const slides = join(dir, 'slides');
  mkdirSync(slides);
  await disc(join(slides, 'red.png'), [200, 30, 40]);
  await disc(join(slides, 'green.png'), [40, 180, 50]);
  await disc(join(slides, 'blank.png'), null);
  const red = readFileSync(join(slides, 'red.png'));
  writeFileSync(join(slides, 'truncated.png'), red.subarray(0, red.length >> 1));
  writeFileSync(join(slides, 'notes.svs'), 'this is not a slide\n');
  writeFileSync(join(dir, 'labels.csv'), 'slide,label\nred,RED\ngreen,GREEN\n');
  const prompts = join(dir, 'prompts.json');
  writeFileSync(
    prompts,
    JSON.stringify({
      '0': { classnames: { RED: 'red', GREEN: 'green' }, templates: 'a CLASSNAME slide' },
      '1': {
        classnames: { RED: 'crimson', GREEN: 'emerald' },
        templates: ['CLASSNAME tissue', 'mostly CLASSNAME'],
      },
      // A set that gets it backwards: the median over three sets stays right, one quartile not.
      '2': { classnames: { RED: 'green', GREEN: 'red' }, templates: 'CLASSNAME' },
    }),
  );
  return { dir, slides, prompts, out: join(dir, 'out') };
}

function options(s: Awaited<ReturnType<typeof setup>>, loads: ModelSource[]): WsiRunOptions {
  return {
    input: s.slides,
    out: s.out,
    labels: join(s.dir, 'labels.csv'),
    prompts: s.prompts,
    model: { name: 'fake-colour' },
    ks: [1, 5],
    batchSize: 4,
    workers: 1,
    overviewSize: 256,
    heatmapSize: 128,
    progress: false,
    loadModel: async (source): Promise<VisionLanguageModel> => {
      loads.push(source);
      return fakeColourModel();
    },
  };
}

function mtimes(dir: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const slide of readdirSync(dir)) {
    const p = join(dir, slide);
    if (!statSync(p).isDirectory()) continue;
    for (const f of readdirSync(p)) out[`${slide}/${f}`] = statSync(join(p, f)).mtimeMs;
  }
  return out;
}

test('kep wsi run: outputs per slide, failures listed while the batch goes on, subtyping, second run does nothing', async () => {
  const s = await setup();
  const loads: ModelSource[] = [];
  const first = await runWsiBatch(options(s, loads));
  const bySlide = Object.fromEntries(first.summary.slides.map((e) => [e.slide, e]));
  assert.deepEqual(Object.keys(bySlide).sort(), ['blank', 'green', 'notes', 'red', 'truncated']);
  assert.equal(bySlide.red!.status, 'done');
  assert.equal(bySlide.green!.status, 'done');
  assert.equal(bySlide.red!.prediction, 'RED');
  assert.equal(bySlide.green!.prediction, 'GREEN');
  assert.deepEqual(
    [bySlide.blank!.error_kind, bySlide.truncated!.error_kind, bySlide.notes!.error_kind],
    ['no-tissue', 'corrupt', 'unsupported'],
  );
  for (const f of ['blank', 'truncated', 'notes']) {
    assert.equal(bySlide[f]!.status, 'failed');
    assert.match(bySlide[f]!.error!, new RegExp(`${f}\\.(png|svs)`), 'the error names the file');
  }
  assert.deepEqual(first.summary.counts, { done: 2, skipped: 0, failed: 3, locked: 0 });

  // Per-slide files.
  for (const name of ['red', 'green']) {
    const d = join(s.out, name);
    for (const f of [
      'features.h5',
      'tissue.geojson',
      'overview.png',
      'scores.json',
      'heatmap-RED.png',
      'heatmap-GREEN.png',
      'done.json',
    ])
      assert.ok(existsSync(join(d, f)), `${name}/${f}`);
    assert.ok(!existsSync(join(d, '.lock')), 'lock released');
    const feats = await readFeaturesH5(join(d, 'features.h5'));
    assert.equal(feats.count, bySlide[name]!.n_patches);
    assert.ok(feats.count > 0);
    assert.equal(feats.dim, 4);
    assert.equal(feats.meta.patchSize, 256);
    const geo = JSON.parse(readFileSync(join(d, 'tissue.geojson'), 'utf8')) as {
      type: string;
      features: unknown[];
    };
    assert.equal(geo.type, 'FeatureCollection');
    assert.equal(geo.features.length, 1);
    const heat = await loadImage(join(d, 'heatmap-RED.png'));
    assert.equal(Math.max(heat.width, heat.height), 128);
  }

  // Subtyping: sets 0 and 1 get both slides right, set 2 both wrong.
  const sub = first.subtyping!;
  assert.deepEqual(
    sub.balancedAccuracy.map((b) => [b.k, b.perSet]),
    [
      [1, [1, 1, 0]],
      [5, [1, 1, 0]],
    ],
  );
  assert.equal(sub.balancedAccuracy[0]!.summary.median, 1);
  assert.equal(sub.balancedAccuracy[0]!.summary.q1, 0.5);
  const json = JSON.parse(readFileSync(join(s.out, 'summary.json'), 'utf8')) as {
    slides: {
      slide: string;
      status: string;
      n_patches: number | null;
      seconds: number;
      error: string | null;
    }[];
  };
  for (const e of json.slides)
    for (const k of ['status', 'n_patches', 'seconds', 'error']) assert.ok(k in e, `${e.slide}.${k}`);
  const md = readFileSync(join(s.out, 'summary.md'), 'utf8');
  assert.match(md, /## Not processed/);
  assert.match(md, /\*\*notes\*\* \(unsupported\)/);
  assert.match(readFileSync(join(s.out, 'subtyping.md'), 'utf8'), /\| 1 \| 1\.000 \| 0\.500 \| 1\.000 \|/);

  // Second run: nothing recomputed, no model loaded, no file rewritten but the summary.
  const before = mtimes(s.out);
  loads.length = 0;
  const second = await runWsiBatch(options(s, loads));
  assert.equal(loads.length, 0, 'no model loaded');
  assert.deepEqual(second.summary.counts, { done: 0, skipped: 2, failed: 3, locked: 0 });
  assert.deepEqual(mtimes(s.out), before);
  assert.match(
    second.summary.slides.find((e) => e.slide === 'truncated')!.error!,
    /earlier run; --retry-failed/,
  );
  assert.equal(second.summary.slides.find((e) => e.slide === 'red')!.prediction, 'RED');
  assert.deepEqual(second.subtyping!.balancedAccuracy, sub.balancedAccuracy);

  // New prompts: features are kept, only scores and heatmaps are redone.
  writeFileSync(
    s.prompts,
    JSON.stringify({ '0': { classnames: { RED: 'scarlet', GREEN: 'leaf-green' }, templates: 'CLASSNAME' } }),
  );
  const third = await runWsiBatch({ ...options(s, loads), retryFailed: true });
  assert.equal(third.summary.counts.done, 2);
  assert.equal(statSync(join(s.out, 'red', 'features.h5')).mtimeMs, before['red/features.h5']);
  assert.notEqual(statSync(join(s.out, 'red', 'scores.json')).mtimeMs, before['red/scores.json']);
  assert.deepEqual(third.subtyping!.balancedAccuracy[0]!.perSet, [1]);
  assert.equal(third.summary.counts.failed, 3, 'retried and failed again');
});

test('a slide locked by a live process is left to it; a dead owner’s lock is taken over', async () => {
  const s = await setup();
  const loads: ModelSource[] = [];
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  try {
    mkdirSync(join(s.out, 'red'), { recursive: true });
    const lock = JSON.stringify({ pid: child.pid, host: hostname(), started: new Date().toISOString() });
    writeFileSync(join(s.out, 'red', '.lock'), lock);
    const held = await runWsiBatch({ ...options(s, loads), prompts: undefined, labels: undefined });
    const red = held.summary.slides.find((e) => e.slide === 'red')!;
    assert.equal(red.status, 'locked');
    assert.match(red.error!, new RegExp(`being processed by pid ${child.pid}`));
    assert.ok(!existsSync(join(s.out, 'red', 'features.h5')));
    assert.equal(held.summary.slides.find((e) => e.slide === 'green')!.status, 'done');
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
  // The dead owner left a half-written file behind: the next holder clears it.
  const leftover = join(s.out, 'red', `.features.h5.${child.pid}.1.tmp`);
  writeFileSync(leftover, 'half');
  const after = await runWsiBatch({ ...options(s, loads), prompts: undefined, labels: undefined });
  assert.ok(!existsSync(leftover));
  assert.equal(after.summary.slides.find((e) => e.slide === 'red')!.status, 'done');
  assert.equal(after.summary.slides.find((e) => e.slide === 'green')!.status, 'skipped');
});
