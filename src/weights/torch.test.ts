// Fixtures: scripts/fixtures/weights.py (torch.save from Debian's python3-torch). Values there are
// i/8 - 1 for i = 0, 1, …, so they are rebuilt here exactly.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { toBigInt64, toFloat32, toInt32, writeSafetensors, fromFloat32 } from '../engine/safetensors.ts';
import type { SafeTensor } from '../engine/safetensors.ts';
import { loadStateDict } from './load.ts';
import { ForbiddenGlobalError, PickleError, unpickle } from './pickle.ts';
import { CheckpointError, readTorchCheckpoint } from './torch.ts';

const FIX = fileURLToPath(new URL('./fixtures/', import.meta.url));
const ar = (n: number, from = 0): number[] => Array.from({ length: n }, (_, i) => (i + from) / 8 - 1);
const floats = (t: SafeTensor | undefined): number[] => [...toFloat32(t!, { convert: true })];

function checkStateDict(tensors: Map<string, SafeTensor>): void {
  const get = (k: string): SafeTensor => {
    const t = tensors.get(k);
    assert.ok(t, `tensor ${k}`);
    return t;
  };
  assert.deepEqual(get('fc.weight').shape, [3, 4]);
  assert.equal(get('fc.weight').dtype, 'F32');
  assert.deepEqual(floats(get('fc.weight')), ar(12));
  assert.equal(get('fc.bias').dtype, 'F16');
  assert.deepEqual(floats(get('fc.bias')), ar(3));
  assert.equal(get('emb.weight').dtype, 'BF16');
  assert.deepEqual(get('emb.weight').shape, [2, 3]);
  assert.deepEqual(floats(get('emb.weight')), ar(6));
  assert.equal(get('double').dtype, 'F64');
  assert.deepEqual(floats(get('double')), ar(4));
  assert.deepEqual([...toBigInt64(get('count'))], [1n, -2n, 2n ** 40n]);
  assert.deepEqual([...toInt32(get('ids'))], [7, -8]);
  assert.deepEqual(get('ids').shape, [1, 2]);
  assert.equal(get('bytes').dtype, 'U8');
  assert.deepEqual([...get('bytes').data], [0, 255, 7]);
  assert.equal(get('mask').dtype, 'BOOL');
  assert.deepEqual([...get('mask').data], [1, 0, 1]);
  assert.deepEqual(get('scalar').shape, []);
  assert.deepEqual(floats(get('scalar')), [2.5]);
  // transpose of [[a0 a1 a2], [a3 a4 a5]]
  const a = ar(6);
  assert.deepEqual(get('transposed').shape, [3, 2]);
  assert.deepEqual(floats(get('transposed')), [a[0], a[3], a[1], a[4], a[2], a[5]]);
  assert.deepEqual(floats(get('shared_a')), ar(4));
  assert.deepEqual(get('shared_b').shape, [2, 3]);
  assert.deepEqual(floats(get('shared_b')), ar(6, 4));
  assert.deepEqual(floats(get('strided')), [ar(10)[1], ar(10)[4], ar(10)[7]]);
  assert.deepEqual(floats(get('param')), ar(2));
  assert.deepEqual(get('empty').shape, [0, 3]);
  assert.equal(get('empty').data.byteLength, 0);
  // Tensors sharing a storage do not alias each other.
  assert.notEqual(get('shared_a').data.buffer, get('shared_b').data.buffer);
  assert.equal(tensors.size, 15);
}

describe('torch.save reader', () => {
  it('reads a zip-format OrderedDict state dict: dtypes, views, shared storages', async () => {
    const c = await readTorchCheckpoint(join(FIX, 'state_dict.pt'));
    assert.equal(c.format, 'zip');
    assert.equal(c.container, '');
    assert.deepEqual(c.skipped, []);
    checkStateDict(c.tensors);
  });

  it('reads the legacy (non-zip) format', async () => {
    const c = await readTorchCheckpoint(join(FIX, 'legacy.pt'));
    assert.equal(c.format, 'legacy');
    checkStateDict(c.tensors);
  });

  it('reads deflate-compressed archives through the zip library', async () => {
    checkStateDict((await readTorchCheckpoint(join(FIX, 'deflated.pt'))).tensors);
  });

  it('swaps bytes of a big-endian archive', async () => {
    const c = await readTorchCheckpoint(join(FIX, 'big_endian.pt'));
    assert.deepEqual(floats(c.tensors.get('w')), ar(6));
    assert.deepEqual([...toBigInt64(c.tensors.get('n')!)], [1n, 2n ** 33n]);
    assert.deepEqual(floats(c.tensors.get('h')), ar(3));
  });

  it('finds a nested state dict and describes the top level', async () => {
    const c = await readTorchCheckpoint(join(FIX, 'nested.pt'));
    assert.equal(c.container, 'state_dict');
    assert.equal(c.topLevel['epoch'], 'int 3');
    assert.equal(c.topLevel['state_dict'], 'dict of 15 entries (15 tensors)');
    assert.equal(c.topLevel['optimizer'], 'dict of 2 entries');
    checkStateDict(c.tensors);
    await assert.rejects(
      readTorchCheckpoint(join(FIX, 'nested.pt'), { key: 'optimizer' }),
      /no tensors|"optimizer"/,
    );
    await assert.rejects(
      readTorchCheckpoint(join(FIX, 'nested.pt'), { key: 'nope' }),
      /no entry "nope".*epoch: int 3/,
    );
  });

  it('refuses a pickle that would call os.system, naming the file and the global', async () => {
    const file = join(FIX, 'malicious.pt');
    await assert.rejects(readTorchCheckpoint(file), (err: unknown) => {
      assert.ok(err instanceof ForbiddenGlobalError);
      assert.equal(err.global, 'posix.system');
      assert.match(err.message, /malicious\.pt: refusing to load: the pickle imports posix\.system/);
      assert.match(err.message, /nothing was executed/);
      return true;
    });
    // Dangerous modules cannot be let in as inert records either.
    await assert.rejects(
      readTorchCheckpoint(file, { inert: ['posix.system'] }),
      /cannot be accepted as inert/,
    );
  });

  it('refuses a pickled nn.Module with advice to save its state dict', async () => {
    await assert.rejects(
      readTorchCheckpoint(join(FIX, 'module.pt')),
      /torch\.nn\.modules\.linear\.Linear.*model\.state_dict\(\)/,
    );
  });

  it('rejects files that are not checkpoints', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kep-weights-'));
    try {
      const f = join(dir, 'x.pt');
      writeFileSync(f, 'hello');
      await assert.rejects(readTorchCheckpoint(f), CheckpointError);
      writeFileSync(f, new Uint8Array([0x80, 0x02, 0x4b]));
      await assert.rejects(readTorchCheckpoint(f), /not a PyTorch checkpoint|ends inside/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});

describe('restricted unpickler', () => {
  const hooks = {
    source: 'test.pkl',
    resolveGlobal: () => undefined,
    call: () => null,
  };
  const bytes = (...parts: (number | string)[]): Uint8Array =>
    new Uint8Array(parts.flatMap((p) => (typeof p === 'string' ? [...Buffer.from(p, 'latin1')] : [p])));

  it('refuses every global not on the allow-list, whichever opcode names it', () => {
    // GLOBAL 'builtins eval'
    assert.throws(() => unpickle(bytes(0x80, 2, 'cbuiltins\neval\n', 0x2e), hooks), /imports builtins\.eval/);
    // Python 2 module names are mapped before the check.
    assert.throws(() => unpickle(bytes('c__builtin__\nexec\n.'), hooks), /imports builtins\.exec/);
    // STACK_GLOBAL 'subprocess' 'Popen'
    const s = bytes(0x80, 4, 0x8c, 10, 'subprocess', 0x8c, 5, 'Popen', 0x93, 0x2e);
    assert.throws(
      () => unpickle(s, hooks),
      (e: unknown) => e instanceof ForbiddenGlobalError && e.global === 'subprocess.Popen',
    );
    // INST 'os system'
    assert.throws(() => unpickle(bytes('(S"ls"\nios\nsystem\n.'), hooks), /imports os\.system/);
  });

  it('decodes plain data: ints, longs, floats, strings, containers, memo', () => {
    // {'a': [1, -2, 3.5, True, None], 'b': (b'xy', 2**70)} in protocol 2, memo reuse via BINGET
    const data = bytes(
      0x80,
      2,
      0x7d,
      0x71,
      0,
      0x28,
      0x58,
      1,
      0,
      0,
      0,
      'a',
      0x5d,
      0x71,
      1,
      0x28,
      0x4b,
      1,
      0x4a,
      0xfe,
      0xff,
      0xff,
      0xff,
      0x47,
      0x40,
      0x0c,
      0,
      0,
      0,
      0,
      0,
      0,
      0x88,
      0x4e,
      0x65,
      0x8c,
      1,
      'b',
      0x43,
      2,
      'xy',
      0x8a,
      9,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0x40,
      0x86,
      0x8c,
      1,
      'c',
      0x68,
      1,
      0x75,
      0x2e,
    );
    const { value, end } = unpickle(data, hooks);
    assert.equal(end, data.byteLength);
    assert.ok(value instanceof Map);
    assert.deepEqual(value.get('a'), [1, -2, 3.5, true, null]);
    assert.strictEqual(value.get('c'), value.get('a'));
    const b = value.get('b') as { items: unknown[] };
    assert.deepEqual([...(b.items[0] as Uint8Array)], [120, 121]);
    assert.equal(b.items[1], 2n ** 70n);
  });

  it('fails cleanly on unknown opcodes and bad memo references', () => {
    assert.throws(() => unpickle(bytes(0x80, 2, 0xff), hooks), PickleError);
    assert.throws(() => unpickle(bytes(0x80, 2, 0x68, 7, 0x2e), hooks), /memo key 7/);
  });
});

describe('loadStateDict', () => {
  it('loads a sharded Hugging Face folder with its config', async () => {
    const r = await loadStateDict(join(FIX, 'hf-sharded'));
    assert.equal(r.config?.['model_type'], 'bert');
    assert.equal(r.files.length, 2);
    assert.deepEqual([...r.tensors.keys()].sort(), [
      'bert.embeddings.word_embeddings.weight',
      'bert.pooler.dense.bias',
      'bert.pooler.dense.weight',
    ]);
    assert.deepEqual(floats(r.tensors.get('bert.embeddings.word_embeddings.weight')), ar(8));
  });

  it('loads safetensors files and prefers model.safetensors in a folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kep-weights-'));
    try {
      writeSafetensors(join(dir, 'model.safetensors'), { w: fromFloat32(new Float32Array([1, 2]), [2]) });
      writeFileSync(join(dir, 'pytorch_model.bin'), 'not read');
      writeFileSync(join(dir, 'config.json'), '{"hidden_size": 2}');
      const r = await loadStateDict(dir);
      assert.equal(r.format, 'safetensors');
      assert.deepEqual(floats(r.tensors.get('w')), [1, 2]);
      assert.equal(r.config?.['hidden_size'], 2);
      writeFileSync(join(dir, 'config.json'), '[1]');
      await assert.rejects(loadStateDict(dir), /config\.json/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('loads torch files by path and names missing paths', async () => {
    const r = await loadStateDict(join(FIX, 'nested.pt'));
    assert.equal(r.format, 'torch-zip');
    assert.equal(r.container, 'state_dict');
    checkStateDict(r.tensors);
    assert.ok(!existsSync(join(FIX, 'nope.pt')));
    await assert.rejects(loadStateDict(join(FIX, 'nope.pt')), /nope\.pt: no such file/);
  });
});
