import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CHECKPOINT_FORMAT,
  CheckpointError,
  checkpointPath,
  latestCheckpoint,
  loadCheckpoint,
  pruneCheckpoints,
  saveCheckpoint,
  type CheckpointState,
} from './checkpoint.ts';
import {
  SafetensorsError,
  fromFloat32,
  readSafetensors,
  writeSafetensors,
  type SafeTensor,
} from './safetensors.ts';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'kep-ckpt-'));
}

function ramp(n: number, scale: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => (i - n / 3) * scale);
}

function sample(step = 123): CheckpointState {
  const shapes: Record<string, number[]> = {
    'text.proj.weight': [4, 3],
    'text.proj.bias': [3],
    logit_scale: [],
    empty: [0, 2],
    'image.frozen': [2, 2],
  };
  const params = new Map(
    Object.entries(shapes).map(([name, shape], i) => [
      name,
      {
        shape,
        data: ramp(
          shape.reduce((a, b) => a * b, 1),
          i + 0.5,
        ),
      },
    ]),
  );
  // Frozen parameters have no moments.
  const moments = (scale: number): Map<string, Float32Array> =>
    new Map(
      [...params]
        .filter(([name]) => name !== 'image.frozen')
        .map(([name, p]) => [name, p.data.map((x) => x * scale)]),
    );
  return {
    params,
    optimizer: { step, m: moments(0.1), v: moments(0.01) },
    meta: {
      config: { lr: 1e-4, warmup: 100, layers: [12, 12] },
      epoch: 2,
      dataSeed: 7,
      rng: [1, 2, 3, 4],
      note: null,
    },
  };
}

test('a checkpoint round-trips parameters, optimizer state and meta', () => {
  const dir = tmp();
  const path = join(dir, 'ckpt.safetensors');
  const state = sample();
  saveCheckpoint(path, state);
  assert.deepEqual(loadCheckpoint(path), state);

  const { tensors, metadata } = readSafetensors(path);
  assert.deepEqual([...tensors.keys()].sort(), [
    'empty',
    'image.frozen',
    'logit_scale',
    'optimizer.m.empty',
    'optimizer.m.logit_scale',
    'optimizer.m.text.proj.bias',
    'optimizer.m.text.proj.weight',
    'optimizer.v.empty',
    'optimizer.v.logit_scale',
    'optimizer.v.text.proj.bias',
    'optimizer.v.text.proj.weight',
    'text.proj.bias',
    'text.proj.weight',
  ]);
  assert.deepEqual(tensors.get('optimizer.v.text.proj.weight')!.shape, [4, 3]);
  assert.deepEqual(metadata, {
    'kep.format': CHECKPOINT_FORMAT,
    'kep.step': '123',
    'kep.meta': JSON.stringify(state.meta),
  });

  const bare: CheckpointState = { params: state.params };
  saveCheckpoint(path, bare);
  const loaded = loadCheckpoint(path);
  assert.deepEqual(loaded, bare);
  assert.equal('optimizer' in loaded || 'meta' in loaded, false);
  assert.deepEqual(readSafetensors(path).metadata, { 'kep.format': CHECKPOINT_FORMAT });
});

test('loading names the file and the tensor that is missing, misshapen or foreign', () => {
  const dir = tmp();
  const path = join(dir, 'bad.safetensors');
  const good = (): Map<string, SafeTensor> => {
    saveCheckpoint(path, sample());
    return readSafetensors(path).tensors;
  };
  const meta = { 'kep.format': CHECKPOINT_FORMAT, 'kep.step': '5' };
  const f32 = (shape: number[]): SafeTensor =>
    fromFloat32(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
  const cases: [string, (t: Map<string, SafeTensor>) => void, Record<string, string>, RegExp][] = [
    [
      'moment missing',
      (t) => t.delete('optimizer.v.text.proj.bias'),
      meta,
      /tensor "optimizer.v.text.proj.bias" is missing for parameter "text.proj.bias"/,
    ],
    [
      'moment misshapen',
      (t) => t.set('optimizer.m.text.proj.weight', f32([3, 4])),
      meta,
      /tensor "optimizer.m.text.proj.weight" has shape \[3,4\] but parameter "text.proj.weight" has \[4,3\]/,
    ],
    [
      'scalar vs [1]',
      (t) => t.set('optimizer.m.logit_scale', f32([1])),
      meta,
      /"optimizer.m.logit_scale" has shape \[1\] but parameter "logit_scale" has \[\]/,
    ],
    [
      'stray moment',
      (t) => t.set('optimizer.m.ghost', f32([2])),
      meta,
      /tensor "optimizer.m.ghost" has no parameter "ghost"/,
    ],
    [
      'unknown optimizer tensor',
      (t) => t.set('optimizer.u.x', f32([1])),
      meta,
      /tensor "optimizer.u.x" is not a known optimizer tensor/,
    ],
    [
      'not F32',
      (t) => t.set('text.proj.bias', fromFloat32(new Float32Array(3), [3], 'F16')),
      meta,
      /tensor "text.proj.bias" is F16; checkpoints hold F32 only/,
    ],
    [
      'moments without step',
      () => {},
      { 'kep.format': CHECKPOINT_FORMAT },
      /optimizer moments present but no "kep.step"/,
    ],
    ['no format', () => {}, {}, /not a kep checkpoint \(no "kep.format" in the metadata\)/],
    [
      'other format',
      () => {},
      { ...meta, 'kep.format': 'kep-checkpoint/9' },
      /unsupported checkpoint format "kep-checkpoint\/9"/,
    ],
    ['bad step', () => {}, { ...meta, 'kep.step': '-1' }, /"kep.step" is "-1", not a step number/],
    ['bad meta JSON', () => {}, { ...meta, 'kep.meta': '{epoch:' }, /"kep.meta" is not valid JSON/],
    ['meta not an object', () => {}, { ...meta, 'kep.meta': '[1]' }, /"kep.meta" is not a JSON object/],
  ];
  for (const [what, edit, metadata, message] of cases) {
    const tensors = good();
    edit(tensors);
    writeSafetensors(path, tensors, metadata);
    assert.throws(
      () => loadCheckpoint(path),
      (err: unknown) =>
        err instanceof CheckpointError && err.message.startsWith(`${path}: `) && message.test(err.message),
      what,
    );
  }
});

test('a truncated or garbled checkpoint fails to load with the file named', () => {
  const dir = tmp();
  const path = join(dir, 'cut.safetensors');
  saveCheckpoint(path, sample());
  const size = readFileSync(path).byteLength;
  for (const cut of [size - 1, size - 200, 100, 4]) {
    saveCheckpoint(path, sample());
    truncateSync(path, cut);
    assert.throws(
      () => loadCheckpoint(path),
      (err: unknown) =>
        err instanceof SafetensorsError && err.source === path && err.message.startsWith(`${path}: `),
      `cut at ${cut}`,
    );
  }
  writeFileSync(path, Buffer.alloc(64, 0x41));
  assert.throws(() => loadCheckpoint(path), new RegExp(`^SafetensorsError: ${path}: header length`));
});

test('saving refuses inconsistent state and leaves the previous checkpoint intact', () => {
  const dir = tmp();
  const path = join(dir, 'ckpt.safetensors');
  saveCheckpoint(path, sample(7));
  const before = readFileSync(path);
  const broken: [string, (s: CheckpointState) => void, RegExp][] = [
    [
      'short moment',
      (s) => s.optimizer!.v.set('text.proj.bias', new Float32Array(2)),
      /tensor "optimizer.v.text.proj.bias" has 2 values, shape \[3\] needs 3/,
    ],
    [
      'missing moment',
      (s) => s.optimizer!.m.delete('logit_scale'),
      /tensor "optimizer.m.logit_scale" is missing for parameter "logit_scale"/,
    ],
    [
      'stray moment',
      (s) => s.optimizer!.m.set('ghost', new Float32Array(1)),
      /tensor "optimizer.m.ghost" has no parameter "ghost"/,
    ],
    [
      'bad param',
      (s) => s.params.set('w', { shape: [2, 2], data: new Float32Array(3) }),
      /tensor "w" has 3 values, shape \[2,2\] needs 4/,
    ],
    [
      'reserved name',
      (s) => s.params.set('optimizer.lr', { shape: [], data: new Float32Array(1) }),
      /parameter "optimizer.lr": the prefix "optimizer." is reserved/,
    ],
    ['bad step', (s) => (s.optimizer!.step = 1.5), /optimizer step 1.5 is not a non-negative integer/],
    ['meta with a BigInt', (s) => (s.meta = { seed: 1n }), /meta is not JSON-serialisable/],
  ];
  for (const [what, edit, message] of broken) {
    const state = sample(8);
    edit(state);
    assert.throws(
      () => saveCheckpoint(path, state),
      (err: unknown) => err instanceof CheckpointError && message.test(err.message),
      what,
    );
  }
  assert.deepEqual(readFileSync(path), before);
  assert.deepEqual(readdirSync(dir), ['ckpt.safetensors']);
  assert.equal(loadCheckpoint(path).optimizer!.step, 7);
});

test('latestCheckpoint picks the highest complete step and reports what it skips', () => {
  const dir = tmp();
  assert.equal(latestCheckpoint(join(dir, 'absent')), undefined);
  assert.equal(latestCheckpoint(dir), undefined);

  for (const step of [1, 5, 10, 20, 999_999, 1_000_000])
    saveCheckpoint(checkpointPath(dir, step), sample(step));
  assert.equal(checkpointPath(dir, 5), join(dir, 'step-000005.safetensors'));
  assert.equal(checkpointPath(dir, 1_000_000), join(dir, 'step-1000000.safetensors'));
  assert.throws(() => checkpointPath(dir, -1), /not a non-negative integer/);
  assert.deepEqual(latestCheckpoint(dir), { path: checkpointPath(dir, 1_000_000), step: 1_000_000 });

  // Newest truncated, next one not a kep checkpoint: both passed over, with the reason.
  truncateSync(checkpointPath(dir, 1_000_000), readFileSync(checkpointPath(dir, 1_000_000)).byteLength - 1);
  writeSafetensors(checkpointPath(dir, 999_999), { w: fromFloat32(new Float32Array(1), [1]) });
  writeFileSync(join(dir, 'notes.txt'), 'x');
  writeFileSync(join(dir, '.step-000030.safetensors.123.1.tmp'), 'half-written');
  copyFileSync(checkpointPath(dir, 5), join(dir, 'step-5.safetensors.bak'));
  const skipped: string[] = [];
  const found = latestCheckpoint(dir, { onSkip: (path, err) => skipped.push(`${path} ${err.message}`) });
  assert.deepEqual(found, { path: checkpointPath(dir, 20), step: 20 });
  assert.equal(skipped.length, 2);
  assert.match(skipped[0]!, /step-1000000\.safetensors .*truncated/);
  assert.match(skipped[1]!, /step-999999\.safetensors .*not a kep checkpoint/);
  assert.equal(loadCheckpoint(found!.path).optimizer!.step, 20);
});

test('pruneCheckpoints keeps the newest complete checkpoints and never the last good one', () => {
  const dir = tmp();
  for (const step of [1, 2, 3, 4, 5]) saveCheckpoint(checkpointPath(dir, step), sample(step));
  truncateSync(checkpointPath(dir, 5), 50);
  writeFileSync(join(dir, 'notes.txt'), 'x');

  assert.deepEqual(pruneCheckpoints(dir, 2), [checkpointPath(dir, 2), checkpointPath(dir, 1)]);
  assert.deepEqual(readdirSync(dir).sort(), [
    'notes.txt',
    'step-000003.safetensors',
    'step-000004.safetensors',
    'step-000005.safetensors',
  ]);
  assert.deepEqual(pruneCheckpoints(dir, 2), []);
  assert.deepEqual(pruneCheckpoints(dir, 3), []); // only two complete ones exist: keep them both
  assert.deepEqual(pruneCheckpoints(dir, 1), [checkpointPath(dir, 3)]);
  assert.deepEqual(latestCheckpoint(dir)?.step, 4);
  assert.deepEqual(pruneCheckpoints(join(dir, 'absent'), 1), []);
  assert.throws(() => pruneCheckpoints(dir, 0), /keep must be >= 1, got 0/);
});
