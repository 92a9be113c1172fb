// The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian header
// length N, N bytes of JSON header, then the raw little-endian tensor bytes. The writer reproduces the
// reference implementation byte for byte (tensor order, compact JSON, space padding) so files are
// interchangeable with Python; the reader applies the reference's validation, with errors that name the
// file and the offending entry.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { z } from 'zod';
import { writeFileAtomic, type Chunk } from '../util/atomic.ts';

// Ascending order of the reference's `Dtype` enum (the FP8/FP4 formats left out). The writer sorts by
// this order, descending, so that 8-byte types come first and every tensor starts at an offset that is a
// multiple of its element size: then views need no copy.
export const SAFE_DTYPES = [
  'BOOL',
  'U8',
  'I8',
  'I16',
  'U16',
  'F16',
  'BF16',
  'I32',
  'U32',
  'F32',
  'F64',
  'I64',
  'U64',
] as const;
export type SafeDType = (typeof SAFE_DTYPES)[number];

export const DTYPE_BYTES: Readonly<Record<SafeDType, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
};

export interface SafeTensor {
  dtype: SafeDType;
  shape: number[];
  /** Raw little-endian element bytes, row-major. */
  data: Uint8Array;
}

export interface SafeTensorInfo {
  dtype: SafeDType;
  shape: number[];
  /** Byte range within the data section (after the header), as stored in the file. */
  dataOffsets: [number, number];
}

export interface SafetensorsHeader {
  tensors: Map<string, SafeTensorInfo>;
  metadata: Record<string, string>;
  /** Absolute file offset of the data section: 8 + header length. */
  dataStart: number;
}

export interface SafetensorsFile {
  tensors: Map<string, SafeTensor>;
  metadata: Record<string, string>;
}

export type TensorInput = Map<string, SafeTensor> | Record<string, SafeTensor>;

/** Every malformed-file or invalid-tensor condition; `source` is the file path (or "<buffer>"). */
export class SafetensorsError extends Error {
  constructor(
    readonly source: string,
    detail: string,
  ) {
    super(`${source}: ${detail}`);
    this.name = 'SafetensorsError';
  }
}

// The reference refuses larger headers too; it bounds what a corrupt length field can make us allocate.
const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';
const BUFFER_SOURCE = '<buffer>';

// Typed-array views below reinterpret bytes in platform order; the format is little-endian.
if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error('kep safetensors support requires a little-endian platform');
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

// ---------------------------------------------------------------------------------------------------
// Reading

const TensorEntrySchema = z.object({
  dtype: z.enum(SAFE_DTYPES, {
    error: (iss) => `unknown dtype ${JSON.stringify(iss.input)} (supported: ${SAFE_DTYPES.join(', ')})`,
  }),
  shape: z.array(z.int().nonnegative()),
  data_offsets: z.tuple([z.int().nonnegative(), z.int().nonnegative()]),
});
const MetadataSchema = z.record(z.string(), z.string());

function zodDetail(error: z.ZodError): string {
  return error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ` : '') + i.message).join('; ');
}

/** Parses and validates the JSON header against a data section of `dataLength` bytes. */
function parseHeader(
  headerBytes: Uint8Array,
  dataLength: number,
  source: string,
): Omit<SafetensorsHeader, 'dataStart'> {
  function fail(detail: string): never {
    throw new SafetensorsError(source, detail);
  }
  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    fail('header is not valid UTF-8');
  }
  if (!text.startsWith('{')) fail('header does not start with "{"');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    fail(`header is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('header is not a JSON object');

  let metadata: Record<string, string> = {};
  const tensors = new Map<string, SafeTensorInfo>();
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      const parsed = MetadataSchema.safeParse(value);
      if (!parsed.success) fail(`${METADATA_KEY} must map strings to strings: ${zodDetail(parsed.error)}`);
      // Rebuilt from the raw entries: zod's record output would swallow a "__proto__" key.
      metadata = Object.fromEntries(Object.entries(value as Record<string, string>));
      continue;
    }
    const parsed = TensorEntrySchema.safeParse(value);
    if (!parsed.success) fail(`tensor ${JSON.stringify(name)}: ${zodDetail(parsed.error)}`);
    const { dtype, shape, data_offsets } = parsed.data;
    const [begin, end] = data_offsets;
    if (end < begin) {
      fail(`tensor ${JSON.stringify(name)}: data_offsets [${begin}, ${end}] end before they begin`);
    }
    const bytes = numel(shape) * DTYPE_BYTES[dtype];
    if (bytes !== end - begin) {
      fail(
        `tensor ${JSON.stringify(name)}: shape [${shape}] of ${dtype} needs ${bytes} bytes ` +
          `but data_offsets [${begin}, ${end}] span ${end - begin}`,
      );
    }
    tensors.set(name, { dtype, shape, dataOffsets: [begin, end] });
  }

  // The data section must be covered exactly once, in some order: no overlap, no gap, no trailing bytes.
  const byOffset = [...tensors].sort(
    ([, a], [, b]) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1],
  );
  let covered = 0;
  let previous = '';
  for (const [name, { dataOffsets }] of byOffset) {
    const [begin, end] = dataOffsets;
    const where = `tensor ${JSON.stringify(name)} data_offsets [${begin}, ${end}]`;
    if (begin < covered) {
      fail(`${where} overlap tensor ${JSON.stringify(previous)} (which ends at ${covered})`);
    }
    if (begin > covered) {
      fail(`${where} leave a gap of ${begin - covered} bytes before them (offsets must be contiguous)`);
    }
    if (end > dataLength) {
      fail(
        `${where} run past the end of the data section (${dataLength} bytes); the file is probably truncated`,
      );
    }
    covered = end;
    previous = name;
  }
  if (covered !== dataLength) {
    fail(
      `${dataLength - covered} bytes follow the last tensor's data (header covers ${covered} of ${dataLength})`,
    );
  }
  return { tensors, metadata };
}

/** Reads the header length field; returns the header length N after checking it fits in `fileSize`. */
function headerLength(prefix: Uint8Array, fileSize: number, source: string): number {
  if (fileSize < 8) {
    throw new SafetensorsError(source, `${fileSize} bytes is too short for the 8-byte header length`);
  }
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(source, `header length ${n} exceeds ${MAX_HEADER_BYTES} bytes`);
  }
  if (8 + Number(n) > fileSize) {
    throw new SafetensorsError(source, `header length ${n} runs past the end of the ${fileSize}-byte file`);
  }
  return Number(n);
}

function readFully(fd: number, target: Uint8Array, position: number, source: string): void {
  // readSync moves at most ~2 GiB per call, and may return short.
  const CHUNK = 1 << 30;
  for (let done = 0; done < target.byteLength;) {
    const got = readSync(fd, target, done, Math.min(CHUNK, target.byteLength - done), position + done);
    if (got === 0) throw new SafetensorsError(source, `unexpected end of file at byte ${position + done}`);
    done += got;
  }
}

function withFile<T>(path: string, body: (fd: number, size: number) => T): T {
  const fd = openSync(path, 'r');
  try {
    return body(fd, fstatSync(fd).size);
  } finally {
    closeSync(fd);
  }
}

function readHeaderFromFd(fd: number, size: number, path: string): SafetensorsHeader {
  const prefix = new Uint8Array(8);
  if (size >= 8) readFully(fd, prefix, 0, path);
  const n = headerLength(prefix, size, path);
  const headerBytes = new Uint8Array(n);
  readFully(fd, headerBytes, 8, path);
  return { ...parseHeader(headerBytes, size - 8 - n, path), dataStart: 8 + n };
}

/** Reads and validates only the header (cheap even for huge files); checks it matches the file size. */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  return withFile(path, (fd, size) => readHeaderFromFd(fd, size, path));
}

/**
 * Reads a whole safetensors file (a path) or image (bytes).
 *
 * From bytes, tensor data are views into the given buffer (no copy). From a path, each tensor is read
 * into its own buffer: no single allocation has to hold the file (Node 20 caps one at 4 GiB, a large
 * model with optimiser moments exceeds that), every tensor starts aligned, and tensors can be freed
 * independently.
 */
export function readSafetensors(input: string | Uint8Array): SafetensorsFile {
  if (typeof input !== 'string') {
    const n = headerLength(input, input.byteLength, BUFFER_SOURCE);
    const dataStart = 8 + n;
    const { tensors: infos, metadata } = parseHeader(
      input.subarray(8, dataStart),
      input.byteLength - dataStart,
      BUFFER_SOURCE,
    );
    const tensors = new Map<string, SafeTensor>();
    for (const [name, { dtype, shape, dataOffsets }] of infos) {
      tensors.set(name, {
        dtype,
        shape,
        data: input.subarray(dataStart + dataOffsets[0], dataStart + dataOffsets[1]),
      });
    }
    return { tensors, metadata };
  }
  return withFile(input, (fd, size) => {
    const { tensors: infos, metadata, dataStart } = readHeaderFromFd(fd, size, input);
    const tensors = new Map<string, SafeTensor>();
    for (const [name, { dtype, shape, dataOffsets }] of infos) {
      const data = new Uint8Array(dataOffsets[1] - dataOffsets[0]);
      readFully(fd, data, dataStart + dataOffsets[0], input);
      tensors.set(name, { dtype, shape, data });
    }
    return { tensors, metadata };
  });
}

// ---------------------------------------------------------------------------------------------------
// Writing

// The reference compares names as Rust strings: by UTF-8 bytes, which differs from JS UTF-16 order for
// characters above U+FFFF.
function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function validateTensor(name: string, t: SafeTensor, source: string): void {
  function fail(detail: string): never {
    throw new SafetensorsError(source, `tensor ${JSON.stringify(name)}: ${detail}`);
  }
  if (name === METADATA_KEY) fail(`the name ${METADATA_KEY} is reserved for metadata`);
  if (!(SAFE_DTYPES as readonly string[]).includes(t.dtype)) fail(`unknown dtype ${JSON.stringify(t.dtype)}`);
  if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    fail(`shape ${JSON.stringify(t.shape)} is not a list of non-negative integers`);
  }
  if (!(t.data instanceof Uint8Array)) fail('data is not a Uint8Array');
  const expected = numel(t.shape) * DTYPE_BYTES[t.dtype];
  if (t.data.byteLength !== expected) {
    fail(`shape [${t.shape}] of ${t.dtype} needs ${expected} bytes but data has ${t.data.byteLength}`);
  }
}

/** Validates and lays out a file: the header bytes (padded) and the tensors in data order. */
function prepare(
  input: TensorInput,
  metadata: Record<string, string>,
  source: string,
): { header: Uint8Array; ordered: SafeTensor[] } {
  const entries = input instanceof Map ? [...input] : Object.entries(input);
  for (const [name, t] of entries) validateTensor(name, t, source);
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') {
      throw new SafetensorsError(
        source,
        `metadata ${JSON.stringify(key)}: value must be a string, got ${typeof value}`,
      );
    }
  }
  const rank = (d: SafeDType): number => SAFE_DTYPES.indexOf(d);
  entries.sort(([an, a], [bn, b]) => rank(b.dtype) - rank(a.dtype) || compareUtf8(an, bn));

  // JSON text is assembled by hand: a JS object would move integer-like keys ("0", "12") to the front.
  const parts: string[] = [];
  const metaKeys = Object.keys(metadata).sort(compareUtf8);
  if (metaKeys.length > 0) {
    const body = metaKeys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`).join(',');
    parts.push(`${JSON.stringify(METADATA_KEY)}:{${body}}`);
  }
  let offset = 0;
  for (const [name, t] of entries) {
    const end = offset + t.data.byteLength;
    parts.push(
      `${JSON.stringify(name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${end}]}`,
    );
    offset = end;
  }
  const json = Buffer.from(`{${parts.join(',')}}`, 'utf8');
  // Padding the header to a multiple of 8 keeps the data section 8-aligned within the file.
  const header = new Uint8Array(8 + json.byteLength + ((8 - (json.byteLength % 8)) % 8)).fill(0x20);
  new DataView(header.buffer).setBigUint64(0, BigInt(header.byteLength - 8), true);
  header.set(json, 8);
  return { header, ordered: entries.map(([, t]) => t) };
}

/** The whole file as one buffer; for anything large prefer writeSafetensors, which streams. */
export function serializeSafetensors(
  tensors: TensorInput,
  metadata: Record<string, string> = {},
): Uint8Array {
  const { header, ordered } = prepare(tensors, metadata, BUFFER_SOURCE);
  const out = new Uint8Array(header.byteLength + ordered.reduce((n, t) => n + t.data.byteLength, 0));
  out.set(header, 0);
  let offset = header.byteLength;
  for (const t of ordered) {
    out.set(t.data, offset);
    offset += t.data.byteLength;
  }
  return out;
}

/** Writes atomically (see writeFileAtomic), streaming tensor bytes rather than concatenating them. */
export function writeSafetensors(
  path: string,
  tensors: TensorInput,
  metadata: Record<string, string> = {},
): void {
  const { header, ordered } = prepare(tensors, metadata, path);
  function* chunks(): Generator<Chunk> {
    yield header;
    for (const t of ordered) yield t.data;
  }
  writeFileAtomic(path, chunks());
}

// ---------------------------------------------------------------------------------------------------
// Typed views and conversions

type FloatDType = 'F32' | 'F16' | 'BF16' | 'F64';

// A view when the bytes sit at an offset the element type allows, else an aligned copy.
function view<T>(
  data: Uint8Array,
  size: number,
  make: (buffer: ArrayBufferLike, offset: number, length: number) => T,
): T {
  const src = data.byteOffset % size === 0 ? data : data.slice();
  return make(src.buffer, src.byteOffset, src.byteLength / size);
}

function expectDType(t: SafeTensor, dtype: SafeDType, what: string): void {
  if (t.dtype !== dtype) throw new TypeError(`${what} needs a ${dtype} tensor, got ${t.dtype}`);
}

let f16Table: Float32Array | undefined;
// All 65536 half values, decoded once: a table lookup beats bit-fiddling per element.
function halfTable(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) {
      const sign = h & 0x8000 ? -1 : 1;
      const exp = (h >> 10) & 0x1f;
      const mant = h & 0x3ff;
      f16Table[h] =
        exp === 0
          ? sign * mant * 2 ** -24
          : exp === 31
            ? mant
              ? NaN
              : sign * Infinity
            : sign * (1024 + mant) * 2 ** (exp - 25);
    }
  }
  return f16Table;
}

/**
 * The tensor as float32. An F32 tensor comes back as a view sharing its memory where alignment allows.
 * Other float types are converted only with `{ convert: true }`, so that code expecting float32 weights
 * notices a half-precision file instead of silently upcasting it.
 */
export function toFloat32(t: SafeTensor, opts: { convert?: boolean } = {}): Float32Array {
  if (t.dtype === 'F32') return view(t.data, 4, (b, o, n) => new Float32Array(b, o, n));
  if (t.dtype !== 'F16' && t.dtype !== 'BF16' && t.dtype !== 'F64') {
    throw new TypeError(`toFloat32 needs a float tensor, got ${t.dtype}`);
  }
  if (!opts.convert) {
    throw new TypeError(`toFloat32: tensor is ${t.dtype}; pass { convert: true } to convert it`);
  }
  if (t.dtype === 'F64') return Float32Array.from(view(t.data, 8, (b, o, n) => new Float64Array(b, o, n)));
  const half = view(t.data, 2, (b, o, n) => new Uint16Array(b, o, n));
  const out = new Float32Array(half.length);
  if (t.dtype === 'BF16') {
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < half.length; i++) bits[i] = half[i]! << 16;
  } else {
    const table = halfTable();
    for (let i = 0; i < half.length; i++) out[i] = table[half[i]!]!;
  }
  return out;
}

export function toInt32(t: SafeTensor): Int32Array {
  expectDType(t, 'I32', 'toInt32');
  return view(t.data, 4, (b, o, n) => new Int32Array(b, o, n));
}

export function toBigInt64(t: SafeTensor): BigInt64Array {
  expectDType(t, 'I64', 'toBigInt64');
  return view(t.data, 8, (b, o, n) => new BigInt64Array(b, o, n));
}

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function checkLength(length: number, shape: number[], what: string): void {
  if (length !== numel(shape)) throw new RangeError(`${what}: ${length} values do not fill shape [${shape}]`);
}

// Round to nearest even, NaN to 0x7FC0: what torch (c10::BFloat16) does.
function bf16Bits(bits: number): number {
  if ((bits & 0x7fffffff) > 0x7f800000) return 0x7fc0;
  return (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16;
}

// Round to nearest even, overflow to infinity, gradual underflow, NaN to sign|0x7E00: as torch's fp16.
function f16Bits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | (mant ? 0x7e00 : 0x7c00);
  const e = exp - 112; // rebias 127 -> 15
  if (e >= 31) return sign | 0x7c00;
  // Normal halves keep 10 of the 23 mantissa bits; subnormal halves shift the implicit 1 in as well.
  const full = e > 0 ? mant : mant | 0x800000;
  const shift = e > 0 ? 13 : 14 - e;
  if (shift > 24) return sign;
  const halfway = 1 << (shift - 1);
  const rest = full & ((1 << shift) - 1);
  let q = (e > 0 ? e << 10 : 0) | (full >>> shift);
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  if (rest > halfway || (rest === halfway && q & 1)) q++;
  return sign | q;
}

/** A tensor holding `values`; F32 shares their memory, F16/BF16/F64 are encoded copies. */
export function fromFloat32(values: Float32Array, shape: number[], dtype: FloatDType = 'F32'): SafeTensor {
  checkLength(values.length, shape, 'fromFloat32');
  if (dtype === 'F32') return { dtype, shape, data: bytesOf(values) };
  if (dtype === 'F64') return { dtype, shape, data: bytesOf(Float64Array.from(values)) };
  // Bits, not numbers: reading a float into JS could canonicalise NaN payloads.
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  const encode = dtype === 'BF16' ? bf16Bits : f16Bits;
  for (let i = 0; i < bits.length; i++) out[i] = encode(bits[i]!);
  return { dtype, shape, data: bytesOf(out) };
}

/** An I32 tensor sharing the memory of `values`. */
export function fromInt32(values: Int32Array, shape: number[]): SafeTensor {
  checkLength(values.length, shape, 'fromInt32');
  return { dtype: 'I32', shape, data: bytesOf(values) };
}

/** An I64 tensor sharing the memory of `values`. */
export function fromBigInt64(values: BigInt64Array, shape: number[]): SafeTensor {
  checkLength(values.length, shape, 'fromBigInt64');
  return { dtype: 'I64', shape, data: bytesOf(values) };
}
