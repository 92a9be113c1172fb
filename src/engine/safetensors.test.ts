import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DTYPE_BYTES,
  SAFE_DTYPES,
  SafetensorsError,
  fromBigInt64,
  fromFloat32,
  fromInt32,
  numel,
  readSafetensors,
  readSafetensorsHeader,
  serializeSafetensors,
  toBigInt64,
  toFloat32,
  toInt32,
  writeSafetensors,
  type SafeTensor,
} from './safetensors.ts';

const FIXTURE = new URL('./fixtures/torch-written.safetensors', import.meta.url).pathname;

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'kep-st-'));
}

function bytes(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

// Deterministic pseudo-random bytes, so every bit pattern (NaNs included) goes through the round trip.
function noise(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

function halves(data: Uint8Array): number[] {
  return [...new Uint16Array(data.slice().buffer)];
}
const isNaN16 = (h: number): boolean => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
const isNaNbf16 = (h: number): boolean => (h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0;

/** A file image from a literal header (object or raw text) and a data section of `dataBytes` bytes. */
function image(header: unknown, dataBytes: number): Uint8Array {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const out = new Uint8Array(8 + json.byteLength + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  return out;
}

function headerJson(file: Uint8Array): string {
  const n = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  return Buffer.from(file.subarray(8, 8 + n)).toString('utf8');
}

test('every dtype round-trips through a file and through bytes', () => {
  const dir = tmp();
  const tensors = new Map<string, SafeTensor>();
  SAFE_DTYPES.forEach((dtype, i) => {
    const shape = [3, i % 3, 2].slice(0, 1 + (i % 3));
    tensors.set(`t.${dtype}`, { dtype, shape, data: noise(numel(shape) * DTYPE_BYTES[dtype], i + 1) });
  });
  tensors.set('scalar', { dtype: 'F64', shape: [], data: noise(8, 99) });
  tensors.set('empty', { dtype: 'I16', shape: [0, 4], data: new Uint8Array(0) });
  const metadata = { format: 'pt', 'kep.note': 'ünïcode ✓ "quoted"\n' };
  const path = join(dir, 'all.safetensors');
  writeSafetensors(path, tensors, metadata);
  const fromFile = readSafetensors(path);
  const fromBytes = readSafetensors(readFileSync(path));
  assert.deepEqual(readFileSync(path), Buffer.from(serializeSafetensors(tensors, metadata)));
  for (const loaded of [fromFile, fromBytes]) {
    assert.deepEqual(loaded.metadata, metadata);
    assert.deepEqual([...loaded.tensors.keys()].sort(), [...tensors.keys()].sort());
    for (const [name, t] of tensors) {
      const got = loaded.tensors.get(name)!;
      assert.equal(got.dtype, t.dtype, name);
      assert.deepEqual(got.shape, t.shape, name);
      assert.deepEqual(bytes(got.data), t.data, name);
    }
  }
});

test('typed helpers view and build F32, I32 and I64 tensors', () => {
  const f = new Float32Array([1.5, -2, Infinity, 3e-41]);
  const i = new Int32Array([-(2 ** 31), 0, 2 ** 31 - 1]);
  const l = new BigInt64Array([-(2n ** 63n), 2n ** 53n + 1n, 2n ** 63n - 1n]);
  const { tensors } = readSafetensors(
    serializeSafetensors({ f: fromFloat32(f, [2, 2]), i: fromInt32(i, [3]), l: fromBigInt64(l, [3, 1]) }),
  );
  assert.deepEqual(toFloat32(tensors.get('f')!), f);
  assert.deepEqual(toInt32(tensors.get('i')!), i);
  assert.deepEqual(toBigInt64(tensors.get('l')!), l);
  assert.deepEqual(tensors.get('l')!.shape, [3, 1]);
  assert.throws(() => toInt32(tensors.get('f')!), /toInt32 needs a I32 tensor, got F32/);
  assert.throws(() => toBigInt64(tensors.get('i')!), /needs a I64 tensor, got I32/);
  assert.throws(() => toFloat32(tensors.get('i')!), /needs a float tensor, got I32/);
  assert.throws(() => fromFloat32(f, [3]), /4 values do not fill shape \[3\]/);
  assert.throws(() => fromInt32(i, [2, 2]), /3 values do not fill shape \[2,2\]/);
});

test('serializes the reference implementation’s own examples byte for byte', () => {
  // Expected bytes worked out by hand from the format spec; they equal the reference's unit tests.
  const six = new Float32Array([0, 1, 2, 3, 4, 5]);
  const sixBytes = [0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64];
  const le64 = (n: number): number[] => [n, 0, 0, 0, 0, 0, 0, 0];
  const ascii = (s: string): number[] => [...Buffer.from(s, 'latin1')];

  // 64-byte header: already a multiple of 8, so no padding.
  const h1 = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}';
  assert.equal(h1.length, 64);
  assert.deepEqual(
    [...serializeSafetensors({ 'attn.0': fromFloat32(six, [1, 2, 3]) })],
    [...le64(64), ...ascii(h1), ...sixBytes],
  );

  // 65 bytes of JSON, padded with 7 spaces to 72 so the float data start 8-aligned.
  const h2 = '{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}';
  assert.equal(h2.length, 65);
  assert.deepEqual(
    [...serializeSafetensors({ attn0: fromFloat32(six, [1, 1, 2, 3]) })],
    [...le64(72), ...ascii(h2 + ' '.repeat(7)), ...sixBytes],
  );

  assert.deepEqual([...serializeSafetensors({})], [...le64(8), ...ascii('{}      ')]);
  assert.deepEqual(
    [...serializeSafetensors({}, { framework: 'pt' })],
    [...le64(40), ...ascii('{"__metadata__":{"framework":"pt"}}     ')],
  );
});

test('header: metadata first, tensors by descending dtype alignment then UTF-8 name, contiguous, padded', () => {
  const t = (dtype: SafeTensor['dtype'], n: number): SafeTensor => ({
    dtype,
    shape: [n],
    data: new Uint8Array(n * DTYPE_BYTES[dtype]),
  });
  // JS sorts '\u{10000}' before '\uffff' (UTF-16 surrogates); Rust, by UTF-8 bytes, the other way round.
  const file = serializeSafetensors(
    {
      b: t('U8', 3),
      a: t('U8', 1),
      '10': t('F16', 1),
      c: t('F64', 1),
      '\u{10000}': t('I32', 1),
      '\uffff': t('I32', 1),
    },
    { z: '1', a: '2' },
  );
  const text = headerJson(file);
  assert.equal((8 + Buffer.byteLength(text)) % 8, 0);
  assert.match(text, /\} +$/);
  assert.equal(
    text.trimEnd(),
    '{"__metadata__":{"a":"2","z":"1"},' +
      '"c":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},' +
      '"\uffff":{"dtype":"I32","shape":[1],"data_offsets":[8,12]},' +
      '"\u{10000}":{"dtype":"I32","shape":[1],"data_offsets":[12,16]},' +
      '"10":{"dtype":"F16","shape":[1],"data_offsets":[16,18]},' +
      '"a":{"dtype":"U8","shape":[1],"data_offsets":[18,19]},' +
      '"b":{"dtype":"U8","shape":[3],"data_offsets":[19,22]}}',
  );
});

test('reads the torch-written fixture exactly', () => {
  const file = readFileSync(FIXTURE);
  const { tensors, metadata } = readSafetensors(FIXTURE);
  const get = (name: string): SafeTensor => {
    const t = tensors.get(name);
    assert.ok(t, name);
    return t;
  };
  assert.deepEqual(metadata, { format: 'pt', note: 'ünïcode ✓\nline\t\u0001', '10': 'integer-like key' });
  assert.equal(tensors.size, 17);

  assert.deepEqual(get('i64').shape, [2, 3]);
  assert.deepEqual([...toBigInt64(get('i64'))], [-(2n ** 63n), -1n, 0n, 1n, 2n ** 53n + 1n, 2n ** 63n - 1n]);
  assert.deepEqual([...toInt32(get('i32'))], [-(2 ** 31), -7, 2 ** 31 - 1]);
  assert.deepEqual([...new Int16Array(get('i16').data.slice().buffer)], [-32768, 0, 32767, 12345]);
  assert.deepEqual([...new Int8Array(get('i8').data.slice().buffer)], [-128, -1, 127]);
  assert.deepEqual([...get('u8').data], [0, 7, 255]);
  assert.deepEqual(get('bool'), { dtype: 'BOOL', shape: [2, 2], data: new Uint8Array([1, 0, 1, 1]) });
  assert.deepEqual(get('scalar').shape, []);
  assert.deepEqual([...toFloat32(get('scalar'))], [3.5]);
  assert.deepEqual(get('empty').shape, [2, 0]);
  assert.equal(get('empty').data.byteLength, 0);
  assert.deepEqual([...toInt32(get('0'))], [42]);
  assert.deepEqual([...toFloat32(get('é "quoted"'), { convert: true })], [1.5, -1.5]);

  // Decoding agrees bit for bit with torch's own .float(), and encoding with torch's .half()/.bfloat16()
  // except for which NaN comes out (torch's vectorised bfloat16 path gives 0xFFFF, its scalar one 0x7FC0).
  const src = toFloat32(get('src'));
  assert.equal(src.length, 59);
  for (const [dtype, name, isNaN] of [
    ['F16', 'src.f16', isNaN16],
    ['BF16', 'src.bf16', isNaNbf16],
  ] as const) {
    assert.deepEqual(bytes(toFloat32(get(name), { convert: true })), get(`${name}.as_f32`).data, name);
    const ours = halves(fromFloat32(src, [59], dtype).data);
    const torch = halves(get(name).data);
    assert.equal(torch.filter(isNaN).length, 1);
    assert.deepEqual(
      ours.map((h) => (isNaN(h) ? 'NaN' : h)),
      torch.map((h) => (isNaN(h) ? 'NaN' : h)),
      name,
    );
  }
  assert.deepEqual(bytes(toFloat32(get('f64'), { convert: true })), get('f64.as_f32').data);

  // Our writer lays the same tensors out exactly as the reference-rules Python writer did.
  assert.deepEqual(Buffer.from(serializeSafetensors(tensors, metadata)), file);
});

test('F16 and BF16 encode every representable value back to itself', () => {
  const all = new Uint16Array(65536).map((_, i) => i);
  for (const [dtype, nan] of [
    ['F16', isNaN16],
    ['BF16', isNaNbf16],
  ] as const) {
    const decoded = toFloat32({ dtype, shape: [65536], data: bytes(all) }, { convert: true });
    const again = halves(fromFloat32(decoded, [65536], dtype).data);
    for (let h = 0; h < 65536; h++) {
      if (nan(h)) assert.ok(nan(again[h]!), `${dtype} NaN 0x${h.toString(16)} stays NaN`);
      else assert.equal(again[h], h, `${dtype} 0x${h.toString(16)}`);
    }
  }
  assert.throws(
    () => toFloat32({ dtype: 'F16', shape: [1], data: new Uint8Array(2) }),
    /tensor is F16; pass \{ convert: true \}/,
  );
});

test('views share memory when aligned and copy when not', () => {
  const file = serializeSafetensors({ a: fromFloat32(new Float32Array([1, 2, 3]), [3]) });
  const aligned = readSafetensors(file).tensors.get('a')!;
  const view = toFloat32(aligned);
  assert.equal(view.buffer, file.buffer);
  view[0] = 7;
  assert.equal(toFloat32(aligned)[0], 7);

  // The same image at an odd offset inside a bigger buffer: the data can no longer be viewed as floats.
  const shifted = new Uint8Array(file.byteLength + 1);
  shifted.set(file, 1);
  const unaligned = readSafetensors(shifted.subarray(1)).tensors.get('a')!;
  assert.equal(unaligned.data.buffer, shifted.buffer);
  const copy = toFloat32(unaligned);
  assert.notEqual(copy.buffer, shifted.buffer);
  assert.deepEqual([...copy], [7, 2, 3]);
});

test('readSafetensorsHeader validates without reading the data', () => {
  const dir = tmp();
  const path = join(dir, 'h.safetensors');
  writeSafetensors(path, { w: fromFloat32(new Float32Array(6), [2, 3]) }, { k: 'v' });
  const header = readSafetensorsHeader(path);
  assert.deepEqual(header.metadata, { k: 'v' });
  assert.deepEqual(header.tensors.get('w'), { dtype: 'F32', shape: [2, 3], dataOffsets: [0, 24] });
  assert.equal(header.dataStart, readFileSync(path).byteLength - 24);
  truncateSync(path, header.dataStart + 20);
  assert.throws(() => readSafetensorsHeader(path), new RegExp(`${path}: .*"w".*truncated`));
});

test('malformed files are rejected with the file and the field named', () => {
  const f32 = (offsets: [number, number], shape = [offsets[1] / 4 - offsets[0] / 4]): unknown => ({
    dtype: 'F32',
    shape,
    data_offsets: offsets,
  });
  const cases: [string, Uint8Array, RegExp][] = [
    ['too short', new Uint8Array(5), /5 bytes is too short for the 8-byte header length/],
    [
      'length past end',
      image('{}', 0).subarray(0, 9),
      /header length 2 runs past the end of the 9-byte file/,
    ],
    ['huge length', Uint8Array.from([0, 0, 0, 0, 1, 0, 0, 0, 123, 125]), /header length 4294967296 exceeds/],
    ['bad UTF-8', image('{"\xff"}', 0).map((b) => (b === 0xc3 ? 0xff : b)), /header is not valid UTF-8/],
    ['not an object', image('[]', 0), /header does not start with "\{"/],
    ['bad JSON', image('{"a": }', 0), /header is not valid JSON/],
    [
      'metadata not strings',
      image({ __metadata__: { epoch: 3 } }, 0),
      /__metadata__ must map strings to strings: epoch: /,
    ],
    [
      'unknown dtype',
      image({ w: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, 1),
      /tensor "w": dtype: unknown dtype "F8_E4M3"/,
    ],
    ['negative dim', image({ w: f32([0, 4], [-1]) }, 4), /tensor "w": shape.0: /],
    ['no offsets', image({ w: { dtype: 'F32', shape: [1] } }, 4), /tensor "w": data_offsets: /],
    [
      'size mismatch',
      image({ w: f32([0, 8], [3]) }, 8),
      /tensor "w": shape \[3\] of F32 needs 12 bytes but data_offsets \[0, 8\] span 8/,
    ],
    [
      'reversed',
      image({ w: f32([8, 0], [0]) }, 8),
      /tensor "w": data_offsets \[8, 0\] end before they begin/,
    ],
    [
      'overlap',
      image({ a: f32([0, 8]), b: f32([4, 12]) }, 12),
      /tensor "b" data_offsets \[4, 12\] overlap tensor "a"/,
    ],
    [
      'gap',
      image({ a: f32([0, 4]), b: f32([8, 12]) }, 12),
      /tensor "b" data_offsets \[8, 12\] leave a gap of 4 bytes/,
    ],
    [
      'out of range',
      image({ a: f32([0, 4]), b: f32([4, 12]) }, 10),
      /tensor "b" data_offsets \[4, 12\] run past the end of the data section \(10 bytes\)/,
    ],
    ['trailing bytes', image({ a: f32([0, 4]) }, 7), /3 bytes follow the last tensor's data/],
  ];
  for (const [what, file, message] of cases) {
    assert.throws(
      () => readSafetensors(file),
      (err: unknown) =>
        err instanceof SafetensorsError && err.source === '<buffer>' && message.test(err.message),
      what,
    );
  }

  const dir = tmp();
  const path = join(dir, 'cut.safetensors');
  writeSafetensors(path, {
    a: fromFloat32(new Float32Array(4), [4]),
    b: fromFloat32(new Float32Array(4), [4]),
  });
  truncateSync(path, readFileSync(path).byteLength - 1);
  assert.throws(
    () => readSafetensors(path),
    new RegExp(`^SafetensorsError: ${path}: tensor "b" .* truncated`),
  );
  writeFileSync(path, 'not a safetensors file');
  assert.throws(() => readSafetensors(path), new RegExp(`${path}: header length \\d+ exceeds`));
});

test('the writer refuses tensors that do not describe their data', () => {
  const cases: [Record<string, SafeTensor>, Record<string, string>, RegExp][] = [
    [
      { w: { dtype: 'F32', shape: [3], data: new Uint8Array(8) } },
      {},
      /tensor "w": shape \[3\] of F32 needs 12 bytes but data has 8/,
    ],
    [
      { w: { dtype: 'F32', shape: [1.5], data: new Uint8Array(4) } },
      {},
      /tensor "w": shape \[1.5\] is not a list/,
    ],
    [
      { w: { dtype: 'Q4' as 'F32', shape: [1], data: new Uint8Array(4) } },
      {},
      /tensor "w": unknown dtype "Q4"/,
    ],
    [{ __metadata__: fromFloat32(new Float32Array(1), [1]) }, {}, /the name __metadata__ is reserved/],
    [{}, { epoch: 3 as unknown as string }, /metadata "epoch": value must be a string, got number/],
  ];
  const dir = tmp();
  for (const [tensors, metadata, message] of cases) {
    assert.throws(() => serializeSafetensors(tensors, metadata), message);
    assert.throws(() => writeSafetensors(join(dir, 'x.safetensors'), tensors, metadata), message);
  }
  assert.deepEqual(readdirSync(dir), []);
});

test('a write that fails midway leaves the previous file intact', () => {
  const dir = tmp();
  const path = join(dir, 'model.safetensors');
  writeSafetensors(path, { a: fromFloat32(new Float32Array([1]), [1]) });
  const before = readFileSync(path);

  // Passes validation (a Uint8Array of the right length) but cannot be handed to fs.writeSync, so the
  // failure comes after the header and tensor "a" have gone into the temporary file.
  const target = new Uint8Array(8);
  const poisoned = new Proxy(target, { get: (t, key) => Reflect.get(t, key) });
  const tensors = {
    a: fromFloat32(new Float32Array([2, 3]), [2]),
    b: { dtype: 'F32' as const, shape: [2], data: poisoned },
  };
  assert.throws(() => writeSafetensors(path, tensors), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.deepEqual(readFileSync(path), before);
  assert.deepEqual(readdirSync(dir), ['model.safetensors']);
});
