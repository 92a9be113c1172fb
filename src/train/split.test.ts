import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TrainingSample } from './samples.ts';
import { splitForEvaluation, textKey } from './split.ts';

const KINDS = ['synonym', 'definition', 'histology', 'cytology'] as const;

// 50 diseases, each a name and 2 texts of every kind; D:49 has no name row.
function corpus(): TrainingSample[] {
  const out: TrainingSample[] = [];
  for (let i = 0; i < 50; i++) {
    const label = `D:${i}`;
    if (i !== 49) out.push({ label, kind: 'name', text: `Disease ${i}` });
    for (const kind of KINDS)
      for (let j = 0; j < 2; j++) out.push({ label, kind, text: `${kind} ${i}.${j}` });
  }
  return out;
}

describe('split for evaluation', () => {
  it('holds out a seeded fraction per kind, keeps every name in training and the queried names in heldOut', () => {
    const all = corpus();
    const r = splitForEvaluation(all, { seed: 3, fraction: 0.25 });
    for (const kind of KINDS) {
      const held = r.heldOut.filter((s) => s.kind === kind).length;
      assert.equal(held, Math.round(0.25 * 98), kind); // D:49's 2 texts per kind are not eligible
    }
    assert.equal(r.ineligible, 8);
    assert.equal(r.train.filter((s) => s.kind === 'name').length, 49);
    assert.ok(r.heldOut.every((s) => s.label !== 'D:49'));
    const queried = new Set(r.heldOut.filter((s) => s.kind !== 'name').map((s) => s.label));
    const queries = r.heldOut.filter((s) => s.kind === 'name').map((s) => s.label);
    assert.deepEqual(queries.sort(), [...queried].sort());
    assert.equal(r.train.length + r.heldOut.length - queries.length, all.length);
    const trainTexts = new Set(r.train.filter((s) => s.kind !== 'name').map((s) => s.text));
    assert.ok(r.heldOut.every((s) => s.kind === 'name' || !trainTexts.has(s.text)));
  });

  it('is deterministic, independent of row order, and varies with the seed', () => {
    const all = corpus();
    const a = splitForEvaluation(all, { seed: 3 });
    const b = splitForEvaluation([...all].reverse(), { seed: 3 });
    const key = (ss: TrainingSample[]) => ss.map((s) => `${s.label}|${s.kind}|${s.text}`).sort();
    assert.deepEqual(key(a.heldOut), key(b.heldOut));
    assert.notDeepEqual(key(splitForEvaluation(all, { seed: 4 }).heldOut), key(a.heldOut));
  });

  it('takes per-kind fractions', () => {
    const r = splitForEvaluation(corpus(), { seed: 0, fraction: { definition: 0.5 } });
    assert.deepEqual(
      [...new Set(r.heldOut.filter((s) => s.kind !== 'name').map((s) => s.kind))],
      ['definition'],
    );
    assert.equal(r.heldOut.filter((s) => s.kind === 'definition').length, 49);
    assert.throws(() => splitForEvaluation(corpus(), { seed: 0, fraction: 1.5 }), /must be in \[0, 1\]/);
  });

  it('removes a held-out text’s twins from training and never holds out a text that is a name', () => {
    const twins: TrainingSample[] = [
      { label: 'A', kind: 'name', text: 'Alpha' },
      { label: 'A', kind: 'definition', text: 'A tumour of the alpha cells.' },
      { label: 'A', kind: 'cytology', text: 'A tumour of the alpha cells.' },
      { label: 'B', kind: 'name', text: 'Beta' },
      { label: 'B', kind: 'synonym', text: 'a TUMOUR of the Alpha cells .' },
      { label: 'B', kind: 'synonym', text: 'ALPHA' },
    ];
    const r = splitForEvaluation(twins, { seed: 0, fraction: { definition: 1 } });
    assert.deepEqual(
      r.heldOut.map((s) => s.kind),
      ['name', 'definition'],
    );
    assert.equal(r.removedTwins, 2);
    assert.deepEqual(
      r.train.map((s) => s.text),
      ['Alpha', 'Beta', 'ALPHA'],
    );
    const all = splitForEvaluation(twins, { seed: 0, fraction: 1 });
    assert.ok(all.train.some((s) => s.text === 'ALPHA'));
    assert.equal(textKey(' Ménétrier-disease '), 'menetrier - disease');
  });
});
