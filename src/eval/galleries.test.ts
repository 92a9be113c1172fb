import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildTree } from '../knowledge/build.ts';
import { samples } from '../knowledge/export.ts';
import {
  buildGalleries,
  evaluate,
  evaluateLexical,
  evaluateWithBaseline,
  PROMPT_TEMPLATES,
  type EvalSample,
  type Encode,
} from './galleries.ts';
import { formatReidTable } from './table.ts';

const SHARED = fileURLToPath(new URL('../../../shared/data/knowledge/', import.meta.url));

const toy: EvalSample[] = [
  { text: 'Lung Adenocarcinoma', label: 'LUAD', kind: 'name', tissue: 'LUNG' },
  { text: 'adenocarcinoma of lung', label: 'LUAD', kind: 'synonym' },
  { text: 'Colon Adenocarcinoma', label: 'COAD', kind: 'name' },
  { text: 'A carcinoma of the colon with glands.', label: 'COAD', kind: 'definition' },
  { text: 'colonic adenocarcinoma', label: 'COAD', kind: 'synonym' },
  { text: 'a note', label: 'COAD', kind: 'zz-user' },
  { text: 'Melanoma derives from melanocytes.', label: 'SKCM', kind: 'cytology' },
  { text: 'Acral melanoma', label: 'ACRM', kind: 'synonym' },
];

describe('buildGalleries', () => {
  it('takes names as queries and one gallery per other kind, in a fixed order', () => {
    const sets = buildGalleries(toy, { seed: 1 });
    assert.deepEqual(sets.queries, {
      texts: ['Lung Adenocarcinoma', 'Colon Adenocarcinoma'],
      labels: ['LUAD', 'COAD'],
    });
    assert.deepEqual(
      sets.galleries.map((g) => g.kind),
      ['synonym', 'definition', 'cytology', 'zz-user', 'synonym_prompt'],
    );
    assert.deepEqual(sets.galleries[0], {
      kind: 'synonym',
      texts: ['adenocarcinoma of lung', 'colonic adenocarcinoma', 'Acral melanoma'],
      labels: ['LUAD', 'COAD', 'ACRM'],
    });
  });

  it('wraps each synonym in a template chosen by the seed alone', () => {
    const many: EvalSample[] = Array.from({ length: 200 }, (_, i) => ({
      text: `syn ${i}`,
      label: `D${i % 7}`,
      kind: 'synonym',
    }));
    const prompts = (seed: number) =>
      buildGalleries(many, { seed }).galleries.find((g) => g.kind === 'synonym_prompt')!;
    const a = prompts(42);
    assert.deepEqual(a, prompts(42));
    assert.notDeepEqual(a.texts, prompts(43).texts);
    assert.deepEqual(
      a.labels,
      many.map((s) => s.label),
    );
    a.texts.forEach((t, i) => {
      assert.ok(
        PROMPT_TEMPLATES.some((tpl) => tpl.replace('{}', `syn ${i}`) === t),
        `${t} is not a template around syn ${i}`,
      );
    });
    // Over 200 draws every one of the 10 templates turns up (a stuck generator would not).
    const used = new Set(a.texts.map((t) => t.replace(/syn \d+/, '{}')));
    assert.equal(used.size, PROMPT_TEMPLATES.length);
  });

  it('accepts its own templates and refuses one without a slot', () => {
    const sets = buildGalleries(toy, { seed: 0, templates: ['see {} here'] });
    assert.deepEqual(sets.galleries.at(-1)!.texts, [
      'see adenocarcinoma of lung here',
      'see colonic adenocarcinoma here',
      'see Acral melanoma here',
    ]);
    assert.throws(() => buildGalleries(toy, { seed: 0, templates: ['no slot'] }), /needs a \{\}/);
  });
});

// Word-presence vectors over a fixed vocabulary: a transparent stand-in for a learned encoder.
const VOCAB = ['lung', 'colon', 'colonic', 'adenocarcinoma', 'melanoma', 'glands'];
const wordEncoder =
  (calls: string[][]): Encode =>
  async (texts) => {
    calls.push(texts);
    const out = new Float32Array(texts.length * VOCAB.length);
    texts.forEach((t, i) => {
      const words = t.toLowerCase().split(/\W+/);
      VOCAB.forEach((w, k) => (out[i * VOCAB.length + k] = words.includes(w) ? 3 : 0));
    });
    return out;
  };

describe('evaluate', () => {
  it('encodes the queries once and each gallery once, and scores by cosine', async () => {
    const calls: string[][] = [];
    const sets = buildGalleries(toy, { seed: 0 });
    const m = await evaluate(wordEncoder(calls), sets);
    assert.equal(calls.length, 1 + sets.galleries.length);
    assert.deepEqual(calls[0], sets.queries.texts);
    // Synonyms: LUAD's matches its name exactly (rank 1, AP 1). COAD's name [colon adenocarcinoma]
    // is at cosine 1/2 from both its synonym [colonic adenocarcinoma] and LUAD's [lung adenocarcinoma]:
    // a tie, which the negative wins (rank 2, AP 1/2).
    assert.deepEqual(m.synonym, { rank1: 0.5, rank2: 1, rank3: 1, rank4: 1, rank5: 1, mAP: 0.75, n: 2 });
    // cytology has no SKCM query: nothing evaluated.
    assert.equal(m.cytology!.n, 0);
    assert.equal(m.definition!.n, 1);
    assert.equal(m.definition!.rank1, 1);
  });

  it('stops on an encoder that returns the wrong number of values', async () => {
    const sets = buildGalleries(toy, { seed: 0 });
    await assert.rejects(
      evaluate(async () => new Float32Array(5), sets),
      /returned 5 values for 2 query texts/,
    );
    let call = 0;
    const uneven: Encode = async (texts) => new Float32Array(texts.length * (call++ === 0 ? 4 : 3));
    await assert.rejects(evaluate(uneven, sets), /3-wide, queries 4-wide/);
  });

  it('reports both sides and formats them as a table', async () => {
    const report = await evaluateWithBaseline(wordEncoder([]), buildGalleries(toy, { seed: 0 }));
    assert.deepEqual(Object.keys(report.galleries), Object.keys(report.baseline));
    const table = formatReidTable(report);
    const lines = table.trimEnd().split('\n');
    assert.match(lines[0]!, /encoder +BM25/);
    assert.match(lines[1]!, /^gallery +n +R1 +R2 +R3 +R4 +R5 +mAP +R1 .* mAP$/);
    assert.match(lines[2]!, /^synonym +2 +50\.0 +100\.0 .* 75\.0 /);
    assert.match(table, /\ncytology +0 +– +– /);
    assert.equal(lines.length, 2 + Object.keys(report.galleries).length);
  });
});

describe('the lexical baseline on the shared tree', () => {
  it('gives sane figures for every gallery', () => {
    const tree = buildTree(SHARED);
    const sets = buildGalleries([...samples(tree)], { seed: 0 });
    const started = performance.now();
    const bm25 = evaluateLexical(sets);
    const seconds = (performance.now() - started) / 1000;
    assert.ok(seconds < 10, `${seconds.toFixed(1)} s`);
    assert.deepEqual(Object.keys(bm25), ['synonym', 'definition', 'histology', 'cytology', 'synonym_prompt']);
    for (const [kind, m] of Object.entries(bm25)) {
      assert.ok(m.n > 100, `${kind}: n = ${m.n}`);
      assert.ok(m.rank1 > 0 && m.rank1 < 1, `${kind}: rank1 ${m.rank1}`);
      assert.ok(m.rank1 <= m.rank2 && m.rank2 <= m.rank3 && m.rank3 <= m.rank4 && m.rank4 <= m.rank5, kind);
      assert.ok(m.mAP > 0 && m.mAP <= 1, `${kind}: mAP ${m.mAP}`);
    }
    // Prompt words never occur in a name query, so BM25 hardly notices the wrapping.
    assert.equal(bm25.synonym!.n, bm25.synonym_prompt!.n);
    assert.ok(Math.abs(bm25.synonym!.rank1 - bm25.synonym_prompt!.rank1) < 0.02);
  });
});
