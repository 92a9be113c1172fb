import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { COLOURS, type SyntheticSetFiles, writeSyntheticSet } from '../data/synthetic.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'kep-cli-vlp-'));
let train: SyntheticSetFiles;
let val: SyntheticSetFiles;

const kep = (...args: string[]): ReturnType<typeof spawnSync> =>
  spawnSync(process.execPath, [join(ROOT, 'bin/kep.js'), ...args], { encoding: 'utf8' });

before(async () => {
  const opts = { classBy: 'colour', colours: COLOURS } as const;
  train = await writeSyntheticSet(join(dir, 'train'), { count: 96, seed: 3, ...opts });
  val = await writeSyntheticSet(join(dir, 'val'), { count: 30, seed: 4, ...opts });
  writeFileSync(
    join(dir, 'cfg.json'),
    JSON.stringify({
      lr: 1e-3,
      warmup: 2,
      freezeEpochs: 1,
      evalEvery: 4,
      checkpointEvery: 4,
      threads: 1,
      workers: 1,
    }),
  );
});

test('kep train vlp trains, evaluates on the way, resumes, and leaves a folder kep eval zeroshot reads', () => {
  const out = join(dir, 'run');
  const args = [
    'train',
    'vlp',
    '--pairs',
    train.pairs,
    '--root',
    train.dir,
    '--out',
    out,
    '--model',
    'kep-tiny',
    '--loss',
    'clip',
    '--batch',
    '16',
    '--config',
    join(dir, 'cfg.json'),
    '--eval-images',
    val.labels,
    '--eval-root',
    val.dir,
    '--eval-prompts',
    val.prompts,
    '--val-pairs',
    val.pairs,
    '--val-root',
    val.dir,
  ];
  const first = kep(...args, '--steps', '8');
  assert.equal(first.status, 0, String(first.stderr));
  assert.match(String(first.stdout), /trained steps 0→8 .*zeroshot\.bacc/);
  const metrics = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { step: number; eval?: Record<string, number> });
  const evals = metrics.filter((m) => m.eval);
  assert.deepEqual(
    evals.map((m) => m.step),
    [4, 8],
  );
  for (const k of ['zeroshot.bacc', 'zeroshot.wF1', 'i2t.R@1', 't2i.R@10'])
    assert.ok(k in evals[0]!.eval!, k);
  // One batch of 16 per 96 pairs → 6 steps per epoch; freezeEpochs 1 switches trainers at step 6.
  const more = kep(...args, '--steps', '10');
  assert.equal(more.status, 0, String(more.stderr));
  assert.match(String(more.stderr), /resuming from .*step-0+8/);
  assert.match(String(more.stdout), /trained steps 8→10/);
  assert.ok(existsSync(join(out, 'kep-model.json')));

  const z = kep(
    'eval',
    'zeroshot',
    '--model',
    out,
    '--images',
    val.labels,
    '--root',
    val.dir,
    '--prompts',
    val.prompts,
    '--json',
  );
  assert.equal(z.status, 0, String(z.stderr));
  const j = JSON.parse(String(z.stdout).trim()) as {
    wF1: { median: number };
    bacc: { median: number };
    n_sets: number;
  };
  assert.ok(j.n_sets > 0 && j.bacc.median >= 0 && j.wF1.median <= 1);
});

test('kep train vlp --minutes stops early with a usable checkpoint', () => {
  const out = join(dir, 'timed');
  const r = kep(
    'train',
    'vlp',
    '--pairs',
    train.pairs,
    '--out',
    out,
    '--model',
    'kep-tiny',
    '--batch',
    '16',
    '--steps',
    '100000',
    '--minutes',
    '0.05',
    '--config',
    join(dir, 'cfg.json'),
  );
  assert.equal(r.status, 0, String(r.stderr));
  assert.match(String(r.stdout), /stopped by minutes/);
  assert.ok(readFileSync(join(out, 'kep-model.json'), 'utf8').includes('kep-model/2'));
});

test('bad settings and inputs are named', () => {
  writeFileSync(join(dir, 'bad.json'), '{"batch": 1}');
  let r = kep(
    'train',
    'vlp',
    '--pairs',
    train.pairs,
    '--out',
    join(dir, 'x'),
    '--config',
    join(dir, 'bad.json'),
  );
  assert.notEqual(r.status, 0);
  assert.match(String(r.stderr), /bad\.json: batch: /);
  writeFileSync(join(dir, 'broken.json'), '{"batch": ');
  r = kep(
    'train',
    'vlp',
    '--pairs',
    train.pairs,
    '--out',
    join(dir, 'x'),
    '--config',
    join(dir, 'broken.json'),
  );
  assert.match(String(r.stderr), /broken\.json: not valid JSON/);
  r = kep('train', 'vlp', '--pairs', train.pairs, '--out', join(dir, 'x'), '--model', 'vit-b-16');
  assert.match(String(r.stderr), /needs a KEP model/);
  writeFileSync(join(dir, 'empty.csv'), 'image_name|caption\n');
  r = kep('train', 'vlp', '--pairs', join(dir, 'empty.csv'), '--out', join(dir, 'x'));
  assert.match(String(r.stderr), /empty\.csv.*no image–caption pairs/);
});

test('a ViT trained at another --image-size is loaded back at that size', async () => {
  const big = await writeSyntheticSet(join(dir, 'big'), { count: 32, seed: 5, size: 56 });
  const out = join(dir, 'size48');
  const r = kep(
    'train',
    'vlp',
    '--pairs',
    big.pairs,
    '--out',
    out,
    '--model',
    'kep-tiny',
    '--image-size',
    '48',
    '--batch',
    '16',
    '--steps',
    '2',
    '--config',
    join(dir, 'cfg.json'),
  );
  assert.equal(r.status, 0, String(r.stderr));
  const z = kep(
    'eval',
    'zeroshot',
    '--model',
    out,
    '--images',
    big.labels,
    '--root',
    big.dir,
    '--prompts',
    big.prompts,
    '--json',
  );
  assert.equal(z.status, 0, String(z.stderr));
  assert.equal((JSON.parse(String(z.stdout)) as { n_images: number }).n_images, 32);
});

test('kep train vlp --init-model goes on training a whole model: towers from the file, its knowledge tower frozen', async () => {
  const { getModel } = await import('../models/registry.ts');
  const { towerGraphs } = await import('../models/factory.ts');
  const { parameterValues } = await import('../weights/model-weights.ts');
  const { fromFloat32, writeSafetensors } = await import('../engine/safetensors.ts');
  const { characterVocabulary, writeVocab } = await import('../text/vocab-builder.ts');
  const { latestCheckpoint, loadCheckpoint } = await import('../engine/checkpoint.ts');
  const g = towerGraphs(getModel('kep-tiny')).all;
  const { values } = await parameterValues(g, { seed: 11 });
  const { values: other } = await parameterValues(g, { seed: 12 });
  const shapes = new Map([...g.params.values()].map((p) => [p.name, p.shape]));
  const file = (withKnowledge: boolean): string => {
    const tensors = new Map([...values].map(([k, v]) => [k, fromFloat32(v, shapes.get(k)!)]));
    if (withKnowledge)
      for (const [k, v] of other)
        if (k.startsWith('text.') || k.startsWith('text_head.'))
          tensors.set(k.replace(/^text/, 'knowledge'), fromFloat32(v, shapes.get(k)!));
    const path = join(dir, `whole-${withKnowledge}.safetensors`);
    writeSafetensors(path, tensors, {});
    return path;
  };
  const vocab = join(dir, 'whole-vocab.txt');
  writeVocab(vocab, characterVocabulary());
  const run = (weights: string, out: string) =>
    kep(
      ...['train', 'vlp', '--pairs', train.pairs, '--root', train.dir, '--out', out, '--model', 'kep-tiny'],
      ...[
        '--init-model',
        weights,
        '--vocab',
        vocab,
        '--init-key-map',
        'kep',
        '--batch',
        '16',
        '--steps',
        '2',
      ],
      ...['--config', join(dir, 'cfg.json')],
    );
  for (const withKnowledge of [true, false]) {
    const out = join(dir, `whole-run-${withKnowledge}`);
    const r = run(file(withKnowledge), out);
    assert.equal(r.status, 0, String(r.stderr));
    const after = loadCheckpoint(latestCheckpoint(join(out, 'checkpoints'))!.path).params;
    const same = (name: string, expected: Float32Array) =>
      assert.deepEqual(after.get(name)!.data, expected, name);
    // In the freeze phase (cfg.json: freezeEpochs 1) the backbone keeps the file's weights and the
    // image head trains; the knowledge tower is frozen for the whole run.
    const backbone = [...values.keys()].find((k) => k.startsWith('image.'))!;
    same(backbone, values.get(backbone)!);
    const head = [...values.keys()].find((k) => k.startsWith('image_head.'))!;
    assert.notDeepEqual(after.get(head)!.data, values.get(head)!, 'the image head trained');
    for (const k of [...values.keys()].filter((n) => n.startsWith('text.')).slice(0, 3))
      same(k.replace(/^text/, 'knowledge'), (withKnowledge ? other : values).get(k)!);
  }
  const noVocab = kep(
    'train',
    'vlp',
    '--pairs',
    train.pairs,
    '--out',
    join(dir, 'y'),
    '--init-model',
    file(false),
  );
  assert.match(String(noVocab.stderr), /--init-model needs --vocab/);
  const partial = join(dir, 'image-only.safetensors');
  writeSafetensors(
    partial,
    new Map(
      [...values]
        .filter(([k]) => k.startsWith('image.'))
        .map(([k, v]) => [k, fromFloat32(v, shapes.get(k)!)]),
    ),
    {},
  );
  const r = run(partial, join(dir, 'z'));
  assert.notEqual(r.status, 0);
  assert.match(
    String(r.stderr),
    /image-only\.safetensors: not a whole kep-tiny model: \d+ of its tensors are missing/,
  );
});
