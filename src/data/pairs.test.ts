import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { detectDelimiter } from './delimited.ts';
import { PackedStrings } from './packed-strings.ts';
import { ManifestError, readPairs, streamPairs } from './pairs.ts';

const dir = mkdtempSync(join(tmpdir(), 'kep-pairs-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const OPENPATH = '../shared/data/captions/OpenPath_train_example.csv';

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

async function all(path: string): Promise<{ image: string; caption: string; line: number }[]> {
  const out = [];
  for await (const r of streamPairs(path)) out.push(r);
  return out;
}

async function rejectsAt(promise: Promise<unknown>, where: RegExp): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof ManifestError, String(e));
    assert.match(e.message, where);
    return true;
  });
}

test('the published OpenPath example: pipe-separated, captions keep their commas and quotes', async () => {
  const lines = readFileSync(OPENPATH, 'utf8')
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '');
  const set = await readPairs(OPENPATH, { root: '/data/openpath' });
  assert.equal(set.size, lines.length - 1);
  for (let i = 0; i < set.size; i++) {
    const [name, ...rest] = lines[i + 1]!.split('|');
    assert.equal(set.imageName(i), name);
    assert.equal(set.caption(i), rest.join('|'));
    assert.equal(set.imagePath(i), `/data/openpath/${name}`);
    assert.equal(set.line(i), i + 2);
  }
  assert.ok(set.caption(0).includes(','), 'the first caption has commas');
});

test('the delimiter comes from the header: tab, pipe, comma', () => {
  assert.equal(detectDelimiter('image_name\tcaption', 'f'), '\t');
  assert.equal(detectDelimiter('image_name|caption', 'f'), '|');
  assert.equal(detectDelimiter('image_name,caption', 'f'), ',');
  assert.equal(detectDelimiter('image_name|caption, en', 'f'), '|');
  assert.throws(() => detectDelimiter('image_name caption', 'x.csv'), /x\.csv:1: cannot tell the delimiter/);
});

test('tab-separated, CRLF line ends, BOM, blank lines, default root = the manifest folder', async () => {
  const p = file(
    'tab.tsv',
    '\uFEFFimage_name\tcaption\r\na.png\tfirst, with comma\r\n\r\nsub/b.png\tsecond\r\n',
  );
  const set = await readPairs(p);
  assert.equal(set.size, 2);
  assert.equal(set.caption(0), 'first, with comma');
  assert.equal(set.imagePath(1), join(dir, 'sub/b.png'));
  assert.equal(set.line(1), 4);
});

test('comma-separated with RFC 4180 quoting: quoted commas, doubled quotes, quoted newlines', async () => {
  const p = file(
    'quoted.csv',
    'image_name,caption\na.jpg,"H&E, 40x"\nb.jpg,"a ""quoted"" word"\nc.jpg,"two\nlines"\nd.jpg,plain\n',
  );
  const rows = await all(p);
  assert.deepEqual(
    rows.map((r) => r.caption),
    ['H&E, 40x', 'a "quoted" word', 'two\nlines', 'plain'],
  );
  assert.deepEqual(
    rows.map((r) => r.line),
    [2, 3, 5, 6],
  );
});

test('an unquoted caption holding the delimiter: the last column absorbs it; other columns may not', async () => {
  const p = file('loose.csv', 'image_name,caption\na.jpg,tumour, grade 2, margin clear\n');
  assert.deepEqual(
    (await all(p)).map((r) => r.caption),
    ['tumour, grade 2, margin clear'],
  );
  const q = file('first.csv', 'caption|image_name\nsome|text|a.jpg\n');
  await rejectsAt(all(q), /first\.csv:2: expected 2 pipe-separated fields \(caption\|image_name\), got 3/);
});

test('other column names, chosen columns, and the error when none matches', async () => {
  const p = file('openclip.csv', 'filepath\ttitle\textra\nx.png\ta caption\t1\n');
  assert.deepEqual(
    (await all(p)).map((r) => [r.image, r.caption]),
    [['x.png', 'a caption']],
  );
  const q = file('named.csv', 'img_id|desc\nx.png|words\n');
  const set = await readPairs(q, { imageColumn: 'img_id', captionColumn: 'desc' });
  assert.equal(set.caption(0), 'words');
  await rejectsAt(readPairs(q), /named\.csv:1: no image column: the header has "img_id", "desc"/);
});

test('short rows, empty captions (error or skip), empty files', async () => {
  await rejectsAt(
    all(file('short.csv', 'image_name|caption\na.png|ok\nb.png\n')),
    /short\.csv:3: expected 2/,
  );
  const empty = file('emptycap.csv', 'image_name|caption\na.png|ok\nb.png|  \nc.png|fine\n');
  await rejectsAt(readPairs(empty), /emptycap\.csv:3: empty caption/);
  const set = await readPairs(empty, { onInvalid: 'skip' });
  assert.equal(set.size, 2);
  assert.deepEqual(set.skipped, [{ line: 3, reason: 'empty caption' }]);
  await rejectsAt(readPairs(file('none.csv', '')), /none\.csv: empty file/);
  await rejectsAt(
    readPairs(file('header.csv', 'image_name|caption\n')),
    /header\.csv: no image–caption pairs/,
  );
  await rejectsAt(readPairs(join(dir, 'missing.csv')), /missing\.csv: cannot read/);
});

test('malformed quoting names the file and line', async () => {
  await rejectsAt(
    all(file('bad.csv', 'image_name,caption\na.jpg,"open\n')),
    /bad\.csv(:\d+)?: malformed CSV/,
  );
});

test('JSONL manifests: other keys ignored, absolute paths kept, errors name line and field', async () => {
  const p = file(
    'pairs.jsonl',
    '{"image": "a.png", "caption": "one", "source": "x"}\n\n{"image": "/abs/b.png", "caption": "two"}\n',
  );
  const set = await readPairs(p, { root: '/root' });
  assert.equal(set.size, 2);
  assert.equal(set.imagePath(0), '/root/a.png');
  assert.equal(set.imagePath(1), '/abs/b.png');
  assert.equal(set.line(1), 3);
  await rejectsAt(all(file('e1.jsonl', '{"image": "a.png"}\n')), /e1\.jsonl:1: field "caption": missing/);
  await rejectsAt(
    all(file('e2.jsonl', '{"image": "a", "caption": "b"}\n{"image": 3, "caption": "c"}\n')),
    /e2\.jsonl:2: field "image": expected a string/,
  );
  await rejectsAt(all(file('e3.jsonl', '{"image": "a", "caption": "b"\n')), /e3\.jsonl:1: malformed JSON/);
  await rejectsAt(all(file('e4.jsonl', '["a", "b"]\n')), /e4\.jsonl:1: expected a JSON object/);
});

test('packed strings round-trip any Unicode and grow past their first buffers', () => {
  const p = new PackedStrings();
  const texts = ['', 'ascii', 'naïve café', 'Ki-67 ≥ 20 %', '日本語のキャプション', '🔬 microscope'];
  for (let i = 0; i < 30_000; i++) p.push(texts[i % texts.length]! + String(i));
  assert.equal(p.length, 30_000);
  for (const i of [0, 1, 2, 3, 4, 5, 12_345, 29_999])
    assert.equal(p.get(i), texts[i % texts.length]! + String(i));
  p.trim();
  assert.equal(p.get(29_999), `${texts[29_999 % texts.length]}29999`);
  assert.throws(() => p.get(30_000), RangeError);
});
