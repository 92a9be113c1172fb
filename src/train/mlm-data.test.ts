import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../engine/init.ts';
import {
  type TokenRoles,
  SequenceOrder,
  maskWholeWords,
  mlmBatch,
  packSequences,
  replacementIds,
  wordsOf,
} from './mlm-data.ts';

// Vocabulary: 0 [PAD], 1 [UNK], 2 [CLS], 3 [SEP], 4 [MASK], 5–19 word starts, 20–39 "##" pieces.
const V = 40;
const continuation = Uint8Array.from({ length: V }, (_, i) => (i >= 20 ? 1 : 0));
const roles: TokenRoles = {
  cls: 2,
  sep: 3,
  pad: 0,
  mask: 4,
  special: new Set([0, 1, 2, 3, 4]),
  continuation,
  vocabSize: V,
};
const replacements = replacementIds(roles);

test('packing fills sequences with consecutive paragraphs, [SEP] after each, no padding but at the end', () => {
  const paras = [
    [5, 6, 7],
    [8, 20, 9],
    [10, 11, 12, 13],
  ];
  const p = packSequences(paras, 8, roles);
  assert.equal(p.count, 2);
  assert.deepEqual(Array.from(p.tokens.subarray(0, 8)), [2, 5, 6, 7, 3, 8, 20, 3]);
  // "9" did not fit with a [SEP]: the paragraph was cut before it (a word start) and continues.
  assert.deepEqual(Array.from(p.tokens.subarray(8, 16)), [2, 9, 3, 10, 11, 12, 13, 3]);
  assert.equal(p.used, 16);
});

test('packing never splits a word across sequences, except a word longer than a sequence', () => {
  // 5 ##20 ##21 ##22 cannot start at position 5 of a 8-token sequence with 1 slot of room left.
  const p = packSequences([[6, 7, 8, 9], [5, 20, 21, 22], [10]], 8, roles);
  const rows = Array.from({ length: p.count }, (_, i) => Array.from(p.tokens.subarray(i * 8, i * 8 + 8)));
  // One slot was left, the next word has four pieces: the row closes with two pads instead.
  assert.deepEqual(rows[0], [2, 6, 7, 8, 9, 3, 0, 0]);
  assert.deepEqual(rows[1], [2, 5, 20, 21, 22, 3, 10, 3]);
  for (const row of rows) {
    const firstContent = row[1]!;
    assert.ok(!continuation[firstContent], `a row starts with a word piece: ${row}`);
  }
  assert.deepEqual(
    rows.flat().filter((t) => t >= 5),
    [6, 7, 8, 9, 5, 20, 21, 22, 10],
  );
  const long = packSequences([[5, 20, 21, 22, 23, 24, 25, 26, 27]], 6, roles);
  assert.deepEqual(Array.from(long.tokens.subarray(0, 6)), [2, 5, 20, 21, 22, 3]);
  assert.equal(long.count, 3);
  assert.throws(() => packSequences([], 3, roles), /below 4/);
});

test('words are a start token and its ## pieces; special tokens belong to none', () => {
  assert.deepEqual(wordsOf([2, 5, 20, 21, 6, 3, 22, 7, 3, 0], roles), [[1, 2, 3], [4], [6], [7]]);
});

test('whole-word masking: seeded, 15 % of tokens in whole words, never special tokens, 80/10/10', () => {
  const row = [2];
  const words: number[][] = [];
  for (let w = 0; w < 40; w++) {
    const word = [5 + (w % 15), ...Array.from({ length: w % 3 }, (_, k) => 20 + ((w + k) % 20))];
    words.push(word);
    row.push(...word);
  }
  row.push(3);
  const tokens = row.length - 2;
  const a = maskWholeWords(
    row,
    roles,
    { probability: 0.15, maxPredictions: 1000 },
    new Rng(1, 'm'),
    replacements,
  );
  const b = maskWholeWords(
    row,
    roles,
    { probability: 0.15, maxPredictions: 1000 },
    new Rng(1, 'm'),
    replacements,
  );
  assert.deepEqual(a, b, 'same seed, same mask');
  const c = maskWholeWords(
    row,
    roles,
    { probability: 0.15, maxPredictions: 1000 },
    new Rng(2, 'm'),
    replacements,
  );
  assert.notDeepEqual(a.positions, c.positions);
  assert.ok(
    Math.abs(a.positions.length - Math.round(0.15 * tokens)) <= 2,
    `${a.positions.length} of ${tokens}`,
  );
  assert.ok(!a.positions.includes(0) && !a.positions.includes(row.length - 1));
  assert.deepEqual(
    a.labels,
    a.positions.map((p) => row[p]),
  );
  // Whole words: every word is masked entirely or not at all.
  for (const w of wordsOf(row, roles)) {
    const hit = w.filter((p) => a.positions.includes(p)).length;
    assert.ok(hit === 0 || hit === w.length, `word at ${w} partly masked`);
  }
  assert.equal(
    maskWholeWords(row, roles, { probability: 0.15, maxPredictions: 5 }, new Rng(1), replacements).positions
      .length <= 5,
    true,
  );

  // 80/10/10 over many draws.
  let masked = 0,
    kept = 0,
    random = 0,
    total = 0;
  for (let s = 0; s < 300; s++) {
    const m = maskWholeWords(
      row,
      roles,
      { probability: 0.15, maxPredictions: 1000 },
      new Rng(s),
      replacements,
    );
    m.positions.forEach((p) => {
      total++;
      if (m.ids[p] === roles.mask) masked++;
      else if (m.ids[p] === row[p]) kept++;
      else {
        random++;
        assert.ok(!roles.special.has(m.ids[p]!), 'a random replacement is never a special token');
      }
    });
  }
  assert.ok(Math.abs(masked / total - 0.8) < 0.03, `mask ${masked / total}`);
  // A random draw can hit the original token; kept ≈ 10 % + 10 %/35.
  assert.ok(Math.abs(kept / total - 0.1) < 0.025, `kept ${kept / total}`);
  assert.ok(Math.abs(random / total - 0.1) < 0.025, `random ${random / total}`);
});

test('a batch gathers flat positions and labels; the order is a seeded permutation per epoch', () => {
  const p = packSequences([[5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]], 8, roles);
  const batch = mlmBatch(
    p,
    [1, 0],
    roles,
    { probability: 0.3, maxPredictions: 20 },
    new Rng(4),
    replacements,
  );
  const pos = Array.from(batch.feeds.positions.data as BigInt64Array, Number);
  const lab = Array.from(batch.feeds.labels.data as BigInt64Array, Number);
  assert.equal(batch.predictions, pos.length);
  const rows = [1, 0];
  pos.forEach((q, k) => {
    const [b, i] = [Math.floor(q / 8), q % 8];
    assert.equal(p.tokens[rows[b]! * 8 + i], lab[k]);
  });
  const mask = Array.from(batch.feeds.mask.data as BigInt64Array, Number);
  const ids = Array.from(p.tokens.subarray(8, 16));
  assert.deepEqual(
    mask.slice(0, 8),
    ids.map((t) => (t === 0 ? 0 : 1)),
  );

  const order = new SequenceOrder(10, 3, 7);
  assert.equal(order.stepsPerEpoch, 3);
  const epoch0 = [0, 1, 2].flatMap((s) => order.rows(s));
  assert.equal(new Set(epoch0).size, 9);
  const epoch1 = [3, 4, 5].flatMap((s) => order.rows(s));
  assert.notDeepEqual(epoch0, epoch1);
  assert.deepEqual(new SequenceOrder(10, 3, 7).rows(4), order.rows(4), 'a function of the step');
});
