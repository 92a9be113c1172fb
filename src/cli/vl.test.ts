import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { type SyntheticSetFiles, writeSyntheticSet } from '../data/synthetic.ts';
import { readEmbeddings } from '../eval/embeddings-file.ts';
import { type FakeModel, fakeColourModel } from '../eval/testing.ts';
import { buildTree } from '../knowledge/build.ts';
import { saveTree } from '../knowledge/tree-io.ts';
import { registerVisionLanguageCommands } from './vl.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'kep-vl-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let colours: SyntheticSetFiles;
before(async () => {
  colours = await writeSyntheticSet(join(dir, 'colours'), {
    count: 12,
    seed: 3,
    size: 24,
    classBy: 'colour',
  });
});

/** Runs the commands in-process with the colour test model; returns stdout, stderr and the model. */
async function run(
  args: string[],
  model = fakeColourModel(),
): Promise<{ out: string; model: FakeModel; err: string }> {
  const program = new Command('kep').exitOverride();
  const out: string[] = [];
  const err: string[] = [];
  registerVisionLanguageCommands(program, {
    loadModel: async () => model,
    out: (t) => out.push(t),
    err: (t) => err.push(t),
  });
  await program.parseAsync(['node', 'kep', ...args]);
  return { out: out.join(''), model, err: err.join('') };
}

test('kep eval zeroshot --model kep-tiny --json: the contract, through the registry loader and the real CLI', () => {
  const r = spawnSync(
    process.execPath,
    [
      join(ROOT, 'bin/kep.js'),
      'eval',
      'zeroshot',
      '--model',
      'kep-tiny',
      '--images',
      colours.labels,
      '--root',
      colours.dir,
      '--prompts',
      colours.prompts,
      '--json',
    ],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1, 'one JSON object on stdout');
  const j = JSON.parse(lines[0]!) as Record<string, unknown>;
  for (const k of ['wF1', 'bacc']) {
    const q = j[k] as Record<string, number>;
    assert.deepEqual(Object.keys(q), ['median', 'q1', 'q3']);
    assert.ok(q.q1! <= q.median! && q.median! <= q.q3! && q.q3! <= 1 && q.q1! >= 0, JSON.stringify(q));
  }
  assert.equal(j.n_sets, 10);
  assert.equal(j.n_images, 12);
  assert.equal(j.untrained, true);
  assert.match(String(j.warning), /UNTRAINED MODEL/);
  assert.match(r.stderr, /UNTRAINED MODEL/);
});

test('--precision int8 through the registry loader: recorded in the embeddings file, close to fp32', () => {
  const embed = (precision: string) => {
    const out = join(dir, `tiny-${precision}.safetensors`);
    const images = colours.items.slice(0, 6).map((i) => join(colours.dir, i.name));
    const r = spawnSync(
      process.execPath,
      [
        join(ROOT, 'bin/kep.js'),
        'embed',
        'images',
        ...images,
        '--model',
        'kep-tiny',
        '--precision',
        precision,
        '--out',
        out,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    return readEmbeddings(out);
  };
  const fp32 = embed('fp32');
  const int8 = embed('int8');
  assert.equal(fp32.precision, 'fp32');
  assert.equal(int8.precision, 'int8');
  for (let i = 0; i < 6; i++) {
    let dot = 0;
    for (let j = 0; j < fp32.dim; j++)
      dot += fp32.embeddings[i * fp32.dim + j]! * int8.embeddings[i * int8.dim + j]!;
    assert.ok(dot > 0.99, `image ${i}: cosine ${dot}`);
  }
  const bad = spawnSync(
    process.execPath,
    [
      join(ROOT, 'bin/kep.js'),
      'embed',
      'texts',
      'x',
      '--model',
      'kep-tiny',
      '--precision',
      'int4',
      '--out',
      join(dir, 'x.safetensors'),
    ],
    { encoding: 'utf8' },
  );
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /--precision.*int4.*fp32, int8|int4.*choices/is);
});

test('kep eval zeroshot: a model that sees colour scores 1; --ensemble gives one set; --out writes the report', async () => {
  const base = [
    'eval',
    'zeroshot',
    '--model',
    'x',
    '--images',
    colours.labels,
    '--prompts',
    colours.prompts,
    '--workers',
    '0',
  ];
  const { out } = await run([...base, '--json']);
  const j = JSON.parse(out) as {
    wF1: { median: number };
    bacc: { q1: number };
    n_sets: number;
    untrained: boolean;
  };
  assert.equal(j.wF1.median, 1);
  assert.equal(j.bacc.q1, 1);
  assert.equal(j.n_sets, 10);
  assert.equal(j.untrained, false);
  const pooled = JSON.parse((await run([...base, '--json', '--ensemble'])).out) as {
    n_sets: number;
    wF1: { median: number };
  };
  assert.equal(pooled.n_sets, 1);
  assert.equal(pooled.wF1.median, 1);
  const report = join(dir, 'report');
  const text = await run([...base, '--out', report]);
  assert.match(text.out, /weighted F1 +1\.000 \(q1 1\.000, q3 1\.000\)/);
  for (const f of ['zeroshot.json', 'zeroshot.md', 'confusion.svg', 'confusion.png'])
    assert.ok(existsSync(join(report, f)), f);
  assert.equal(text.model.released, true);
});

test('kep eval zeroshot: a label missing from a prompt set is an error naming both', async () => {
  const prompts = join(dir, 'two.json');
  writeFileSync(
    prompts,
    JSON.stringify({ '0': { classnames: { red: 'red', green: 'green' }, templates: 'CLASSNAME' } }),
  );
  await assert.rejects(
    run(['eval', 'zeroshot', '--model', 'x', '--images', colours.labels, '--prompts', prompts]),
    /label "blue" \(4 images\) is not a class of prompt set "0" in .*two\.json/,
  );
});

test('kep eval retrieval: hand-computed recall with one and with two images per colour', async () => {
  const one = await writeSyntheticSet(join(dir, 'one'), { count: 3, seed: 1, size: 24, classBy: 'colour' });
  const r1 = JSON.parse(
    (await run(['eval', 'retrieval', '--model', 'x', '--pairs', one.pairs, '--json', '--workers', '0'])).out,
  ) as {
    image_to_text: Record<string, number>;
    text_to_image: Record<string, number>;
    n_pairs: number;
  };
  assert.equal(r1.n_pairs, 3);
  assert.deepEqual(r1.image_to_text, { 'R@1': 1, 'R@10': 1, 'R@50': 1 });
  assert.deepEqual(r1.text_to_image, { 'R@1': 1, 'R@10': 1, 'R@50': 1 });
  // Two images per colour: the other caption of the same colour ties with the right one, and ties
  // count against the query, so every right caption ranks 2nd.
  const two = await writeSyntheticSet(join(dir, 'two'), { count: 6, seed: 1, size: 24, classBy: 'colour' });
  const r2 = JSON.parse(
    (
      await run([
        'eval',
        'retrieval',
        '--model',
        'x',
        '--pairs',
        two.pairs,
        '--root',
        two.dir,
        '--k',
        '1,2',
        '--json',
      ])
    ).out,
  ) as { image_to_text: Record<string, number>; median_rank: Record<string, number> };
  assert.deepEqual(r2.image_to_text, { 'R@1': 0, 'R@2': 1 });
  assert.deepEqual(r2.median_rank, { image_to_text: 2, text_to_image: 2 });
});

test('kep embed images|texts: safetensors with the rows named; unreadable images listed', async () => {
  const bad = join(dir, 'bad.png');
  writeFileSync(bad, 'x');
  const list = join(dir, 'list.txt');
  writeFileSync(list, `${colours.items[1]!.name}\n\n${colours.items[2]!.name}\n`);
  const out = join(dir, 'img.safetensors');
  const first = join(colours.dir, colours.items[0]!.name);
  await run([
    'embed',
    'images',
    first,
    bad,
    '--list',
    list,
    '--root',
    colours.dir,
    '--model',
    'x',
    '--out',
    out,
  ]);
  const e = readEmbeddings(out);
  assert.equal(e.kind, 'images');
  assert.deepEqual(e.items, [first, ...[1, 2].map((i) => join(colours.dir, colours.items[i]!.name))]);
  assert.equal(e.dim, 4);
  assert.equal(e.embeddings.length, 12);
  assert.deepEqual(
    e.unreadable.map((u) => u.path),
    [bad],
  );
  const t = join(dir, 'txt.safetensors');
  await run(['embed', 'texts', 'a red cell', 'blue', '--model', 'x', '--out', t, '--batch', '1']);
  const te = readEmbeddings(t);
  assert.deepEqual(te.items, ['a red cell', 'blue']);
  assert.deepEqual([...te.embeddings], [1, 0, 0, 0, 0, 0, 1, 0]);
  assert.equal(te.model, 'fake-colour');
  await assert.rejects(run(['embed', 'texts', '--model', 'x', '--out', t]), /give texts or --list/);
});

test('kep classify: class names → prompts from the tree’s synonyms; predictions with probabilities', async () => {
  const tree = join(dir, 'tree.json');
  saveTree(tree, buildTree(fileURLToPath(new URL('../knowledge/fixtures/sources/', import.meta.url))));
  const images = [0, 1, 2].map((i) => join(colours.dir, colours.items[i]!.name));
  const { out } = await run([
    'classify',
    ...images,
    '--model',
    'x',
    '--classes',
    'red, green, blue, lung adenocarcinoma',
    '--tree',
    tree,
    '--json',
    '--workers',
    '0',
  ]);
  const j = JSON.parse(out) as {
    prompts: { label: string; names: string[]; match: string; disease?: { id: string } }[];
    templates: number;
    results: { image: string; prediction: string; classes: { label: string; probability: number }[] }[];
  };
  assert.equal(j.templates, 22);
  const luad = j.prompts.find((p) => p.label === 'lung adenocarcinoma')!;
  assert.equal(luad.match, 'exact');
  assert.equal(luad.disease!.id, 'ONCOTREE:LUAD');
  assert.deepEqual(luad.names.slice(0, 3), [
    'lung adenocarcinoma',
    'Adenocarcinoma of lung',
    'adenocarcinoma of the lung',
  ]);
  assert.deepEqual(j.prompts.find((p) => p.label === 'red')!.names, ['red']);
  assert.deepEqual(
    j.results.map((r) => r.prediction),
    colours.items.slice(0, 3).map((i) => i.colour),
  );
  for (const r of j.results) {
    const total = r.classes.reduce((a, c) => a + c.probability, 0);
    assert.ok(Math.abs(total - 1) < 1e-5);
    assert.equal(r.classes[0]!.label, r.prediction);
  }
  const plain = await run(['classify', images[0]!, '--model', 'x', '--classes', 'red,blue', '--no-tree']);
  assert.match(plain.out, new RegExp(`^${images[0]}\\t${colours.items[0]!.colour}\\t`));
  await assert.rejects(
    run(['classify', images[0]!, '--model', 'x', '--classes', 'red']),
    /at least two class names/,
  );
  await assert.rejects(run(['classify', images[0]!, '--model', 'x']), /give --classes or --prompts/);
});

test('kep data synthetic writes a set the other commands read', async () => {
  const out = join(dir, 'synthetic');
  const r = await run([
    'data',
    'synthetic',
    '--out',
    out,
    '--count',
    '9',
    '--size',
    '16',
    '--class-by',
    'shape',
  ]);
  assert.match(r.out, /^9 images of 3 classes in /);
  assert.equal(readFileSync(join(out, 'labels.csv'), 'utf8').split('\n')[1], 'images/img_0.png,circle');
});

test('kep eval table: runs × data sets from zeroshot.json reports, untrained runs marked', async () => {
  const base = [
    'eval',
    'zeroshot',
    '--model',
    'x',
    '--images',
    colours.labels,
    '--prompts',
    colours.prompts,
    '--workers',
    '0',
  ];
  await run([...base, '--out', join(dir, 't1'), '--name', 'colour model']);
  await run([...base, '--out', join(dir, 't2'), '--name', 'untrained'], fakeColourModel({ untrained: true }));
  const { out } = await run([
    'eval',
    'table',
    join(dir, 't1/zeroshot.json'),
    join(dir, 't2/zeroshot.json'),
    '--metric',
    'bacc',
  ]);
  assert.equal(
    out,
    [
      'Zero-shot balanced accuracy, median [q1, q3] over prompt sets',
      '',
      '| run | prompts |',
      '|---|---:|',
      '| colour model | 1.000 [1.000, 1.000] |',
      '| untrained | 1.000 [1.000, 1.000] † |',
      '',
      '† untrained model (random weights): chance-level, not a result.',
      '',
    ].join('\n'),
  );
  await assert.rejects(
    run(['eval', 'table', join(dir, 't1/zeroshot.json'), join(dir, 't1/zeroshot.json')]),
    /two reports for run "colour model" on prompts/,
  );
  await assert.rejects(run(['eval', 'table', colours.prompts]), /not a zeroshot\.json report/);
});
