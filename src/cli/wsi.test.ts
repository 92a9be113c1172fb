import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import sharp from 'sharp';
import { blobImage, CMU_SLIDE, NEEDS_SHARED_SLIDES, TCGA_SLIDE, tempDir, writePng } from '../wsi/testing.ts';
import { registerWsiCommands } from './wsi.ts';

async function kep(...args: string[]): Promise<{ out: string; err: string }> {
  let out = '';
  let err = '';
  // Commander's own messages for refused flags come back as the rejection; keep them off the log.
  const program = new Command('kep').exitOverride().configureOutput({ writeErr: () => {} });
  registerWsiCommands(program, { out: (t) => (out += t), err: (t) => (err += t), progress: false });
  await program.parseAsync(['node', 'kep', ...args]);
  return { out, err };
}

describe('kep wsi on the shared slides', { skip: NEEDS_SHARED_SLIDES }, () => {
  test('info: levels, µm/px, power, properties, associated images (text and JSON)', async () => {
    const text = (await kep('wsi', 'info', CMU_SLIDE)).out;
    assert.match(text, /reader {6}openslide \(aperio\)/);
    assert.match(text, /µm\/px {7}0\.499 × 0\.499/);
    assert.match(text, /objective {3}20×/);
    assert.match(text, /associated {2}label \(387 × 463\), macro \(1280 × 431\), thumbnail \(574 × 768\)/);
    const info = JSON.parse((await kep('wsi', 'info', TCGA_SLIDE, '--json')).out) as {
      levels: { width: number }[];
      mpp: unknown;
      objectivePower: unknown;
      properties: Record<string, string>;
      associatedImages: { name: string }[];
    };
    assert.deepEqual(
      info.levels.map((l) => l.width),
      [4443, 2221],
    );
    assert.equal(info.mpp, null);
    assert.equal(info.objectivePower, null);
    assert.equal(info.properties['openslide.vendor'], 'aperio');
    assert.deepEqual(
      info.associatedImages.map((a) => a.name),
      ['thumbnail'],
    );
  });

  test('segment writes tissue.geojson, overview.png and segmentation.json', async () => {
    const tmp = tempDir('cli-segment');
    try {
      const { out, err } = await kep('wsi', 'segment', TCGA_SLIDE, '--out', tmp.dir);
      assert.match(out, /% tissue in 1 region\(s\)/);
      assert.match(err, /warning: the slide is small for CLAM's area thresholds/);
      const gj = JSON.parse(readFileSync(join(tmp.dir, 'tissue.geojson'), 'utf8')) as {
        type: string;
        features: { properties: { objectType: string; classification: { name: string } } }[];
      };
      assert.equal(gj.type, 'FeatureCollection');
      assert.equal(gj.features[0]!.properties.objectType, 'annotation');
      assert.equal(gj.features[0]!.properties.classification.name, 'Tissue');
      const summary = JSON.parse(readFileSync(join(tmp.dir, 'segmentation.json'), 'utf8')) as {
        stats: { tissueFraction: number };
        options: { saturationThreshold: number };
      };
      assert.ok(summary.stats.tissueFraction > 0.5);
      assert.equal(summary.options.saturationThreshold, 8);
      const meta = await sharp(join(tmp.dir, 'overview.png')).metadata();
      assert.deepEqual([meta.width, meta.height], [1024, 822]);
    } finally {
      tmp.remove();
    }
  });

  test('patch on the TCGA slide warns about the assumed magnification; --mpp removes the warning', async () => {
    const tmp = tempDir('cli-patch');
    try {
      const a = await kep('wsi', 'patch', TCGA_SLIDE, '--out', tmp.dir, '--json');
      assert.match(a.err, /warning: the slide states neither µm\/px nor objective power/);
      const shown = JSON.parse(a.out) as { count: number; coords?: unknown };
      assert.equal(shown.coords, undefined);
      const saved = JSON.parse(readFileSync(join(tmp.dir, 'patches.json'), 'utf8')) as {
        count: number;
        coords: [number, number][];
        readLevel: number;
        readSize: number;
        level0: { source: string };
      };
      assert.equal(saved.count, shown.count);
      assert.equal(saved.coords.length, saved.count);
      assert.equal(saved.level0.source, 'assumed');
      const b = await kep(
        'wsi',
        'patch',
        TCGA_SLIDE,
        '--out',
        tmp.dir,
        '--mpp',
        '0.25',
        '--min-tissue',
        '0.5',
      );
      assert.doesNotMatch(b.err, /states neither/);
      assert.match(
        b.out,
        /patches of 256 px at 20× \(level 0 is 40×, from mpp-option; read 256 px at level 1\), tissue ≥ 0\.5/,
      );
      for (const f of ['patches.json', 'tissue.geojson', 'overview.png', 'segmentation.json'])
        assert.ok(existsSync(join(tmp.dir, f)), f);
    } finally {
      tmp.remove();
    }
  });
});

test('kep wsi: failures name the slide; bad flags are refused', async () => {
  const tmp = tempDir('cli-fail');
  try {
    const text = join(tmp.dir, 'notes.svs');
    writeFileSync(text, 'not a slide');
    await assert.rejects(
      () => kep('wsi', 'info', text),
      new RegExp(`${text}: not a slide format OpenSlide recognises`),
    );
    const white = join(tmp.dir, 'white.png');
    await writePng(white, 600, 400, blobImage(600, 400, []));
    await assert.rejects(() => kep('wsi', 'patch', white, '--out', tmp.dir), /white\.png: no tissue found/);
    await assert.rejects(
      () => kep('wsi', 'segment', white, '--out', tmp.dir, '--median', '4'),
      /odd positive integer/,
    );
    await assert.rejects(
      () => kep('wsi', 'patch', white, '--out', tmp.dir, '--min-tissue', '1.5'),
      /\[0, 1\]/,
    );
    const blob = join(tmp.dir, 'blob.png');
    await writePng(blob, 1200, 900, blobImage(1200, 900, [{ cx: 600, cy: 450, rx: 350, ry: 250 }]));
    const { out } = await kep(
      'wsi',
      'patch',
      blob,
      '--out',
      join(tmp.dir, 'blob'),
      '--mpp',
      '0.5',
      '--area-cap',
      'none',
      '--min-tissue-area',
      '0.5',
    );
    assert.match(out, /blob\.png: \d+ patches of 256 px at 20×/);
  } finally {
    tmp.remove();
  }
});
