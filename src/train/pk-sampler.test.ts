import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PKSampler } from './pk-sampler.ts';
import type { Identity } from './samples.ts';

// 37 identities with 0..12 attributes; every 9th has no name.
function identities(n = 37): Identity[] {
  return Array.from({ length: n }, (_, i) => ({
    label: `D:${String(i).padStart(3, '0')}`,
    name: i % 9 === 8 ? undefined : `name ${i}`,
    texts: Array.from({ length: i % 13 === 0 && i % 9 !== 8 ? 0 : (i % 13) + 1 }, (_, j) => `text ${i}.${j}`),
  }));
}

describe('P×K sampler', () => {
  const ids = identities();
  const byLabel = new Map(ids.map((d) => [d.label, d]));

  it('gives P contiguous groups of K: the name first, then K−1 of the disease’s own texts', () => {
    const s = new PKSampler(ids, { p: 4, k: 5, seed: 1 });
    for (let b = 0; b < s.batchesPerEpoch; b++) {
      const batch = s.batch(0, b);
      assert.equal(batch.texts.length, 20);
      assert.equal(new Set(batch.labels).size, 4);
      batch.labels.forEach((label, g) => {
        const d = byLabel.get(label)!;
        const group = batch.texts.slice(g * 5, g * 5 + 5);
        if (d.name !== undefined) assert.equal(group[0], d.name);
        const rest = d.name === undefined ? group : group.slice(1);
        if (d.texts.length === 0) assert.deepEqual(group, Array(5).fill(d.name));
        else {
          for (const t of rest) assert.ok(d.texts.includes(t), `${t} is not a text of ${label}`);
          // Without replacement while there are enough texts; all of them when there are too few.
          if (d.texts.length >= rest.length) assert.equal(new Set(rest).size, rest.length);
          else assert.deepEqual([...new Set(rest)].sort(), [...d.texts].sort());
        }
      });
    }
  });

  it('shows each identity once per epoch and drops the remainder (or fills it without repeats)', () => {
    const drop = new PKSampler(ids, { p: 8, k: 4, seed: 2 });
    assert.equal(drop.batchesPerEpoch, 4);
    for (const epoch of [0, 1]) {
      const seen = Array.from({ length: 4 }, (_, b) => drop.batch(epoch, b).labels).flat();
      assert.equal(seen.length, 32);
      assert.equal(new Set(seen).size, 32);
    }
    assert.notDeepEqual(drop.batch(0, 0).labels, drop.batch(1, 0).labels);

    const fill = new PKSampler(ids, { p: 8, k: 4, seed: 2, last: 'fill' });
    assert.equal(fill.batchesPerEpoch, 5);
    const all = Array.from({ length: 5 }, (_, b) => fill.batch(0, b).labels);
    assert.equal(new Set(all.flat()).size, 37);
    assert.equal(new Set(all[4]).size, 8);
    assert.deepEqual(all[4]!.slice(5), all[0]!.slice(0, 3));
  });

  it('is reproducible from (seed, epoch, batch): a resumed run sees the same batches', () => {
    const opts = { p: 8, k: 4, seed: 7 };
    const straight = new PKSampler(ids, opts).batches();
    const first: ReturnType<typeof straight.next>['value'][] = [];
    for (let i = 0; i < 11; i++) first.push(straight.next().value);
    // "Checkpoint" after 6 batches: only the position survives; a new process rebuilds the sampler.
    const checkpoint = { epoch: first[5]!.epoch, batch: first[5]!.batch };
    const fresh = new PKSampler(ids, opts);
    const resumed = fresh.batches(fresh.next(checkpoint));
    for (let i = 6; i < 11; i++) assert.deepEqual(resumed.next().value, first[i]);
    assert.deepEqual(
      first.slice(0, 6).map((b) => [b.epoch, b.batch]),
      [
        [0, 0],
        [0, 1],
        [0, 2],
        [0, 3],
        [1, 0],
        [1, 1],
      ],
    );
    // Random access in any order gives the same batches, and another seed gives other ones.
    assert.deepEqual(fresh.batch(2, 1), new PKSampler(ids, opts).batch(2, 1));
    assert.notDeepEqual(new PKSampler(ids, { ...opts, seed: 8 }).batch(0, 0), first[0]);
  });

  it('refuses impossible settings', () => {
    assert.throws(() => new PKSampler(ids.slice(0, 3), { p: 4, seed: 0 }), /at least P = 4 identities/);
    assert.throws(() => new PKSampler(ids, { k: 1, seed: 0 }), /K must be/);
    assert.throws(() => new PKSampler(ids, { p: 4, seed: 0 }).batch(0, 9), /batch index must be in \[0, 9\)/);
    assert.throws(
      () => new PKSampler([...ids, { label: 'E', name: undefined, texts: [] }], { p: 4, seed: 0 }),
      /E has no text/,
    );
  });

  it('defaults to P = 32, K = 8', () => {
    const s = new PKSampler(identities(70), { seed: 0 });
    assert.equal(s.p * s.k, 256);
    assert.equal(s.batchesPerEpoch, 2);
    assert.equal(s.batch(0, 1).texts.length, 256);
  });
});
