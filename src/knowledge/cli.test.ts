import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildProgram } from '../cli/main.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

/** Runs `kep …` in this process and returns what it printed on stdout. */
async function kep(...args: string[]): Promise<string> {
  let printed = '';
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    printed += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stdout.write;
  const errWrite = process.stderr.write.bind(process.stderr);
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    await buildProgram().parseAsync(['node', 'kep', ...args]);
  } finally {
    process.stdout.write = write;
    process.stderr.write = errWrite;
  }
  return printed;
}

describe('kep knowledge', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kep-cli-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const tree = join(dir, 'tree.json');

  it('builds, prints counts, and the same sources give the same bytes', async () => {
    const out = await kep('knowledge', 'build', '--sources', `${FIXTURES}sources`, '--out', tree);
    assert.match(
      out,
      /^built .*tree\.json in \d+\.\d s: 4 tissues, 20 diseases, 97 attributes \(name 20, synonym 30, definition 24, histology 10, cytology 13\)\n$/,
    );
    const again = join(dir, 'again.json');
    await kep('knowledge', 'build', '--sources', `${FIXTURES}sources`, '--out', again);
    assert.deepEqual(readFileSync(again), readFileSync(tree));
  });

  it('stats --json prints one object with tissues, diseases and attributes per kind', async () => {
    const s = JSON.parse(await kep('knowledge', 'stats', tree, '--json')) as Record<string, unknown>;
    assert.equal(s['tissues'], 4);
    assert.equal(s['diseases'], 20);
    assert.deepEqual(s['attributes'], { name: 20, synonym: 30, definition: 24, histology: 10, cytology: 13 });
    assert.match(await kep('knowledge', 'stats', tree), /^LUNG \(Lung\)\s+9\s+9/m);
  });

  it('exports JSONL samples', async () => {
    const samples = join(dir, 'samples.jsonl');
    assert.equal(await kep('knowledge', 'export', tree, '--format', 'jsonl', '--out', samples), '');
    const lines = readFileSync(samples, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, 97);
    const first = JSON.parse(lines[0] ?? '') as Record<string, string>;
    assert.deepEqual(Object.keys(first), ['text', 'label', 'kind', 'tissue', 'source']);
    const csv = join(dir, 'names.csv');
    await kep('knowledge', 'export', tree, '--format', 'csv', '--kinds', 'name', '--out', csv);
    assert.equal(readFileSync(csv, 'utf8').split('\r\n').length, 20 + 2);
  });

  it('shows, searches and gives prompt synonyms', async () => {
    assert.match(
      await kep('knowledge', 'show', tree, 'LUAD'),
      /^ONCOTREE:LUAD {2}Lung Adenocarcinoma\ntissue: LUNG/,
    );
    assert.match(
      await kep('knowledge', 'search', tree, 'cutaneous', 'melanoma', '--limit', '1'),
      /^ 1\. +\d+\.\d\d {2}DOID:8923 {2}skin melanoma \[SKIN\]/,
    );
    const p = JSON.parse(await kep('knowledge', 'prompts', tree, 'melanoma', '--json')) as {
      synonyms: string[];
    }[];
    assert.deepEqual(p[0]?.synonyms, ['malignant melanoma']);
    await assert.rejects(kep('knowledge', 'show', tree, 'nothing'), /no disease matches "nothing"/);
  });

  it('imports user attributes and diffs the result against the original', async () => {
    const withUser = join(dir, 'with-user.json');
    const out = await kep(
      'knowledge',
      'import',
      tree,
      `${FIXTURES}imports/user-attributes.tsv`,
      '--out',
      withUser,
    );
    assert.match(out, /21 diseases/);
    const d = JSON.parse(await kep('knowledge', 'diff', tree, withUser, '--json')) as {
      added: { id: string }[];
      attributes: { added: number };
    };
    assert.deepEqual(
      d.added.map((x) => x.id),
      ['USER:mesothelioma-of-the-lung'],
    );
    assert.equal(d.attributes.added, 6);
    assert.match(await kep('knowledge', 'diff', tree, withUser), /^diseases: \+1 -0 ~2$/m);
  });

  it('writes nothing when a source is malformed, and says where', async () => {
    const src = join(dir, 'broken-sources');
    cpSync(`${FIXTURES}sources`, src, { recursive: true });
    const obo = join(src, 'doid/current/NCIthesaurus.obo');
    writeFileSync(obo, readFileSync(obo, 'utf8').replace('[Term]\nid: DOID:305', '[Term]\nidd: DOID:305'));
    const out = join(dir, 'out', 'never.json');
    await assert.rejects(
      kep('knowledge', 'build', '--sources', src, '--out', out),
      /doid\/current\/NCIthesaurus\.obo:\d+: field "id": \[Term\] stanza without an id/,
    );
    assert.equal(existsSync(out), false);
    assert.equal(existsSync(join(dir, 'out')) ? readdirSync(join(dir, 'out')).length : 0, 0);
  });

  it('refuses the trailing-comma JSON as an import, naming file, line and field', async () => {
    const example = fileURLToPath(
      new URL('../../../shared/data/knowledge/example_konwledge_graph.json', import.meta.url),
    );
    const out = join(dir, 'never2.json');
    await assert.rejects(
      kep('knowledge', 'import', tree, example, '--out', out),
      /example_konwledge_graph\.json:480:19: field "DOID:0050145\.children": trailing comma/,
    );
    assert.equal(existsSync(out), false);
  });
});
