// The `kep wsi run` contract on the two shared slides (Aperio SVS with JPEG and with JPEG 2000
// tiles, read through OpenSlide), through bin/kep.js and the registry's kep-tiny (untrained, 32-px
// images): per-slide files, summary.json, h5py reading the features back, and a second run that
// does nothing.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadImage } from '../data/image.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WSI = resolve(ROOT, '../shared/data/wsi');
const SLIDES = ['cmu_small_region', 'tcga-cr-7395-01a-01-ts1'];
const dir = mkdtempSync(join(tmpdir(), 'kep-wsi-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const python = '/usr/bin/python3';
const hasH5py = spawnSync(python, ['-c', 'import h5py'], { stdio: 'ignore' }).status === 0;

function kep(args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [join(ROOT, 'bin/kep.js'), ...args], { encoding: 'utf8' });
}

test('kep wsi run on the shared slides: the per-slide files and summary.json; twice does no work', async () => {
  const list = join(dir, 'slides.csv');
  writeFileSync(
    list,
    `slide,label\n${WSI}/cmu_small_region.svs,skin\n${WSI}/tcga-cr-7395-01a-01-ts1.svs,head and neck\n`,
  );
  const prompts = join(dir, 'prompts.json');
  writeFileSync(
    prompts,
    JSON.stringify({
      '0': {
        classnames: { skin: 'skin', 'head and neck': 'head and neck' },
        templates: 'an H&E image of CLASSNAME tissue',
      },
      '1': {
        classnames: { skin: 'melanoma', 'head and neck': 'squamous cell carcinoma' },
        templates: 'CLASSNAME',
      },
    }),
  );
  const out = join(dir, 'out');
  const args = ['wsi', 'run', list, '--out', out, '--model', 'kep-tiny', '--prompts', prompts];
  const opts = ['--overview-size', '512', '--heatmap-size', '256', '--workers', '1', '--json'];
  const first = kep([...args, ...opts]);
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stderr, /UNTRAINED MODEL/);
  assert.match(first.stderr, /tcga-cr-7395-01a-01-ts1: the slide states neither µm\/px nor objective power/);
  const summary = JSON.parse(first.stdout) as {
    untrained: boolean;
    counts: Record<string, number>;
    slides: { slide: string; status: string; n_patches: number; seconds: number; error: string | null }[];
  };
  assert.equal(summary.untrained, true);
  assert.deepEqual(summary.counts, { done: 2, skipped: 0, failed: 0, locked: 0 });
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')), summary);
  assert.match(readFileSync(join(out, 'summary.md'), 'utf8'), /UNTRAINED MODEL/);

  for (const s of summary.slides) {
    assert.equal(s.error, null);
    assert.ok(s.n_patches > 10, `${s.slide}: ${s.n_patches} tissue patches`);
    assert.ok(s.seconds > 0);
    const d = join(out, s.slide);
    for (const f of ['features.h5', 'tissue.geojson', 'overview.png', 'scores.json', 'done.json'])
      assert.ok(existsSync(join(d, f)), `${s.slide}/${f}`);
    for (const label of ['skin', 'head_and_neck']) {
      const heat = await loadImage(join(d, `heatmap-${label}.png`));
      assert.equal(Math.max(heat.width, heat.height), 256);
    }
  }
  assert.deepEqual(
    summary.slides.map((s) => s.slide),
    SLIDES,
  );
  const sub = JSON.parse(readFileSync(join(out, 'subtyping.json'), 'utf8')) as {
    nSets: number;
    balancedAccuracy: { k: number; summary: { median: number } }[];
  };
  assert.equal(sub.nSets, 2);
  assert.deepEqual(
    sub.balancedAccuracy.map((b) => b.k),
    [1, 5, 10, 50],
  );

  const before = SLIDES.map((s) => statSync(join(out, s, 'features.h5')).mtimeMs);
  const second = kep([...args, ...opts]);
  assert.equal(second.status, 0, second.stderr);
  assert.deepEqual((JSON.parse(second.stdout) as typeof summary).counts, {
    done: 0,
    skipped: 2,
    failed: 0,
    locked: 0,
  });
  assert.deepEqual(
    SLIDES.map((s) => statSync(join(out, s, 'features.h5')).mtimeMs),
    before,
  );

  // An int8 run is not the fp32 run: its key differs, so nothing is reused and the outputs say so.
  const int8 = kep([...args, ...opts, '--precision', 'int8']);
  assert.equal(int8.status, 0, int8.stderr);
  const s8 = JSON.parse(int8.stdout) as typeof summary & {
    precision: string;
    settings: { model: Record<string, unknown> };
  };
  assert.deepEqual(s8.counts, { done: 2, skipped: 0, failed: 0, locked: 0 });
  assert.equal(s8.precision, 'int8');
  assert.equal(s8.settings.model.precision, 'int8');
  assert.match(readFileSync(join(out, 'summary.md'), 'utf8'), /\), int8\./);
  assert.equal((JSON.parse(second.stdout) as { precision: string }).precision, 'fp32');
});

test(
  'h5py reads the features.h5 of a real slide run',
  { skip: hasH5py ? false : `${python} has no h5py (apt-get install python3-h5py)` },
  () => {
    const out = join(dir, 'out');
    const file = join(out, SLIDES[0]!, 'features.h5');
    if (!existsSync(file)) assert.fail('the run above did not write features.h5');
    const done = JSON.parse(readFileSync(join(out, SLIDES[0]!, 'done.json'), 'utf8')) as {
      n_patches: number;
    };
    const r = spawnSync(
      python,
      [
        '-c',
        `import json, sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    c, x = f["coords"], f["features"]
    print(json.dumps({"coords": list(c.shape), "features": list(x.shape), "dtype": str(x.dtype),
        "patch_size": int(c.attrs["patch_size"]), "model": f.attrs["model"], "untrained": int(f.attrs["untrained"]),
        "precision": f.attrs["precision"],
        "min_xy": c[:].min(0).tolist()}))`,
        file,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    const got = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.deepEqual(got.coords, [done.n_patches, 2]);
    assert.equal((got.features as number[])[0], done.n_patches);
    assert.equal(got.dtype, 'float32');
    assert.equal(got.patch_size, 256);
    assert.equal(got.model, 'kep-tiny');
    assert.equal(got.untrained, 1);
    assert.equal(got.precision, 'int8', 'the last run above was the int8 one');
    assert.ok((got.min_xy as number[]).every((v) => v >= 0));
  },
);
