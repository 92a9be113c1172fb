import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildTree } from '../knowledge/build.ts';
import { exportChunks, samples } from '../knowledge/export.ts';
import { PKSampler } from './pk-sampler.ts';
import {
  countKinds,
  groupIdentities,
  parseSampleLine,
  parseSampleText,
  readSamples,
  SampleFileError,
  streamSamples,
  type TrainingSample,
} from './samples.ts';
import { splitForEvaluation } from './split.ts';

const SHARED = fileURLToPath(new URL('../../../shared/data/knowledge/', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'kep-samples-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const f = path.join(dir, name);
  writeFileSync(f, text);
  return f;
}

const row = (o: Record<string, unknown>) => JSON.stringify(o) + '\n';

describe('reading a samples file', () => {
  it('keeps a sample\'s provenance ("source"), optional; an empty one is named', () => {
    const line = JSON.stringify({
      text: 'LUAD',
      label: 'D:1',
      kind: 'synonym',
      source: 'do-core+ncit-disease',
    });
    assert.deepEqual(parseSampleLine(line, 'f.jsonl', 1), {
      text: 'LUAD',
      label: 'D:1',
      kind: 'synonym',
      source: 'do-core+ncit-disease',
    });
    assert.throws(
      () =>
        parseSampleLine(JSON.stringify({ text: 'a', label: 'D:1', kind: 'name', source: ' ' }), 'f.jsonl', 3),
      /f\.jsonl:3: field "source": empty source/,
    );
  });

  it('streams every line, tissue optional, blank lines and a BOM ignored', async () => {
    const f = file(
      'ok.jsonl',
      '\uFEFF' +
        row({ text: 'Lung Adenocarcinoma', label: 'ONCOTREE:LUAD', kind: 'name', tissue: 'LUNG' }) +
        '\n' +
        row({ text: 'adenocarcinoma of lung', label: 'ONCOTREE:LUAD', kind: 'synonym' }),
    );
    assert.deepEqual(await readSamples(f), [
      { text: 'Lung Adenocarcinoma', label: 'ONCOTREE:LUAD', kind: 'name', tissue: 'LUNG' },
      { text: 'adenocarcinoma of lung', label: 'ONCOTREE:LUAD', kind: 'synonym' },
    ]);
  });

  it('names the file, line and field of each fault', async () => {
    const good = row({ text: 'a', label: 'X:1', kind: 'name' });
    const cases: [string, RegExp][] = [
      ['', /empty\.jsonl: no samples \(empty file\)/],
      ['\n  \n', /empty\.jsonl: no samples/],
      [good + '{"text": "a", "label":\n', /bad\.jsonl:2: malformed JSON/],
      [good + '[1, 2]\n', /bad\.jsonl:2: expected a JSON object/],
      [good + good + row({ text: 'a', kind: 'name' }), /bad\.jsonl:3: field "label": missing/],
      [
        row({ text: 'a', label: 'X:1', kind: 'gross' }),
        /bad\.jsonl:1: field "kind": expected one of name, synonym/,
      ],
      [row({ text: '  ', label: 'X:1', kind: 'synonym' }), /bad\.jsonl:1: field "text": empty text/],
      [row({ text: 3, label: 'X:1', kind: 'synonym' }), /bad\.jsonl:1: field "text": expected a string/],
      [row({ text: 'a', label: 'X:1', kind: 'name', tissue: 7 }), /bad\.jsonl:1: field "tissue"/],
    ];
    for (const [text, re] of cases) {
      const f = file(text.trim() === '' ? 'empty.jsonl' : 'bad.jsonl', text);
      await assert.rejects(
        readSamples(f),
        (e: unknown) => e instanceof SampleFileError && re.test(e.message),
      );
      assert.throws(() => parseSampleText(text, f), re);
    }
    await assert.rejects(readSamples(path.join(dir, 'missing.jsonl')), /missing\.jsonl: cannot open/);
  });

  it('stops at the first bad line without reading the rest', async () => {
    const f = file('late.jsonl', row({ text: 'a', label: 'X:1', kind: 'name' }) + 'nope\n');
    const seen: TrainingSample[] = [];
    await assert.rejects(async () => {
      for await (const s of streamSamples(f)) seen.push(s);
    }, /late\.jsonl:2:/);
    assert.equal(seen.length, 1);
  });
});

describe('grouping into identities', () => {
  const s = (label: string, kind: TrainingSample['kind'], text: string): TrainingSample => ({
    label,
    kind,
    text,
  });

  it('gives each label its name and its other texts, deduplicated and sorted, labels sorted', () => {
    const g = groupIdentities([
      s('B', 'synonym', 'b2'),
      s('B', 'definition', 'b1'),
      s('B', 'cytology', 'b1'),
      s('B', 'name', 'Bee'),
      s('A', 'name', 'Ay'),
      s('A', 'synonym', 'Ay'),
      s('C', 'synonym', 'c only'),
      s('D', 'name', 'Dee'),
      s('D', 'name', 'Dee again'),
    ]);
    assert.deepEqual(g.identities, [
      { label: 'A', name: 'Ay', texts: [] },
      { label: 'B', name: 'Bee', texts: ['b1', 'b2'] },
      { label: 'C', name: undefined, texts: ['c only'] },
      { label: 'D', name: 'Dee', texts: ['Dee again'] },
    ]);
    assert.deepEqual(g.singleText, ['A', 'C']);
    assert.deepEqual(g.withoutName, ['C']);
    assert.deepEqual(g.extraNames, ['D']);
    assert.equal(g.duplicates, 2);
  });
});

describe('the open tree as training data', { skip: existsSync(SHARED) ? false : 'no ../shared/data' }, () => {
  it('reads back its export, groups it, and fills P×K batches', async (t) => {
    const tree = buildTree(SHARED);
    const exported = [...samples(tree)];
    const f = file('tree.jsonl', [...exportChunks(tree, 'jsonl')].join(''));
    const read = await readSamples(f);
    assert.deepEqual(read, exported);

    const g = groupIdentities(read);
    assert.equal(g.identities.length, tree.build.counts.diseases);
    assert.equal(g.withoutName.length, 0);
    const sampler = new PKSampler(g.identities, { seed: 0 });
    assert.equal(sampler.batchesPerEpoch, Math.floor(g.identities.length / 32));
    const b = sampler.batch(3, sampler.batchesPerEpoch - 1);
    assert.equal(b.texts.length, 256);
    assert.equal(new Set(b.labels).size, 32);

    const split = splitForEvaluation(read, { seed: 0 });
    const kinds = countKinds(split.heldOut);
    t.diagnostic(
      `samples ${read.length}; identities ${g.identities.length}; single-text ${g.singleText.length}; ` +
        `without name ${g.withoutName.length}; duplicate texts ${g.duplicates}; ` +
        `batches/epoch at P=32,K=8 ${sampler.batchesPerEpoch}; ` +
        `split: train ${split.train.length}, held out ${JSON.stringify(kinds)}, ` +
        `twins removed ${split.removedTwins}, ineligible ${split.ineligible}`,
    );
    assert.equal(
      kinds.name,
      new Set(split.heldOut.filter((x) => x.kind !== 'name').map((x) => x.label)).size,
    );
  });
});
