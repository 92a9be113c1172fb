// PyTorch checkpoints as written by `torch.save`, read without Python and without running anything
// from the file.
//
// Two layouts exist. The zip layout (the default since torch 1.6): `<archive>/data.pkl` pickles the
// object with each storage replaced by a persistent id, the storages' bytes sit in
// `<archive>/data/<key>`, and torch >= 2.1 adds `<archive>/byteorder` ("little" or "big"). The legacy
// layout (`_use_new_zipfile_serialization=False`, and many older Hugging Face `pytorch_model.bin` files)
// is five pickles back to back (magic number, protocol version, system info, the object, the sorted
// storage keys) followed by each storage as an int64 element count and its bytes.
//
// Tensors come back as SafeTensor (dtype names and raw little-endian bytes as in ../engine/safetensors.ts)
// so one set of conversions (toFloat32, toBigInt64, …) serves both formats.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { Readable } from 'node:stream';
import yauzl from 'yauzl';
import { DTYPE_BYTES, numel, type SafeDType, type SafeTensor } from '../engine/safetensors.ts';
import {
  PickleError,
  PickleTruncatedError,
  PyObject,
  PyTuple,
  unpickle,
  type PyGlobal,
  type PyValue,
  type UnpickleHooks,
} from './pickle.ts';

export type StateDict = Map<string, SafeTensor>;

export class CheckpointError extends Error {
  constructor(
    readonly source: string,
    detail: string,
  ) {
    super(`${source}: ${detail}`);
    this.name = 'CheckpointError';
  }
}

// Storage classes as torch pickles them (torch.<Name>Storage; torch >= 2 writes the same names for
// typed storages and torch.UntypedStorage for raw bytes). Complex and quantized storages are left out:
// no model here has such weights, and refusing them is clearer than misreading them.
export const TORCH_STORAGE_DTYPES: Readonly<Record<string, SafeDType>> = {
  'torch.FloatStorage': 'F32',
  'torch.HalfStorage': 'F16',
  'torch.BFloat16Storage': 'BF16',
  'torch.DoubleStorage': 'F64',
  'torch.LongStorage': 'I64',
  'torch.IntStorage': 'I32',
  'torch.ShortStorage': 'I16',
  'torch.CharStorage': 'I8',
  'torch.ByteStorage': 'U8',
  'torch.BoolStorage': 'BOOL',
  'torch.UntypedStorage': 'U8',
};

// The allow-list. Each entry is implemented below in TypeScript; a file can name these and nothing
// else. Why each is here:
// - collections.OrderedDict: the type of every state dict.
// - torch._utils._rebuild_tensor(_v2): how a tensor pickles (storage, offset, size, stride).
// - torch._utils._rebuild_parameter(_with_state): how an nn.Parameter pickles (wraps a tensor).
// - torch.*Storage: storage classes, only ever read as dtype tags inside persistent ids.
// - torch.Size: a tuple subclass, for shapes pickled on their own.
// - torch.device: an inert record (checkpoints sometimes store the training device); never used.
// - _codecs.encode: how protocol-2 pickles spell a bytes object; implemented for latin-1 only.
// Deliberately absent: builtins.eval/exec/getattr/__import__, os.*, posix.*, subprocess.*, functools.*,
// copyreg.* (reconstructors call arbitrary classes), numpy.* (its reconstructors can pickle objects).
const CALLABLES = new Set([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter',
  'torch._utils._rebuild_parameter_with_state',
  'torch.Size',
  'torch.device',
  '_codecs.encode',
]);

export const ALLOWED_GLOBALS: readonly string[] = [...CALLABLES, ...Object.keys(TORCH_STORAGE_DTYPES)];

/** A tensor as the pickle describes it; its bytes are read only if the tensor is selected. */
interface TensorRef {
  readonly kind: 'tensor';
  readonly storage: StorageRef;
  readonly offset: number;
  readonly shape: number[];
  readonly stride: number[];
}

interface StorageRef {
  readonly kind: 'storage';
  readonly key: string;
  readonly dtype: SafeDType;
  /** Elements in the storage, from the persistent id. */
  readonly numel: number;
  /** Legacy view storages: element offset into the root storage. */
  readonly viewOffset: number;
}

function isTensor(v: PyValue): v is TensorRef {
  return v !== null && typeof v === 'object' && 'kind' in v && v.kind === 'tensor';
}

export interface TorchLoadOptions {
  /**
   * Dotted path of the dict holding the tensors (e.g. "state_dict", "model.ema"). By default the top
   * level if it holds tensors, else the first of CONTAINER_KEYS that does.
   */
  key?: string;
  /**
   * Extra globals to accept as inert records (e.g. "argparse.Namespace" for checkpoints that pickle
   * their command-line arguments). Their constructors are never run: the record only keeps the
   * arguments, so this cannot execute code; it only lets the rest of the file load.
   */
  inert?: readonly string[];
}

export interface TorchCheckpoint {
  source: string;
  format: 'zip' | 'legacy';
  tensors: StateDict;
  /** The dotted path of the dict the tensors came from; "" for the top level. */
  container: string;
  /** One line per top-level entry ("epoch: int 3", "state_dict: dict of 12 tensors"). */
  topLevel: Record<string, string>;
  /** Entries of the chosen dict that are not tensors, left out. */
  skipped: string[];
}

/** Dict keys that training scripts commonly nest a state dict under, tried in this order. */
export const CONTAINER_KEYS = [
  'state_dict',
  'model_state_dict',
  'model',
  'module',
  'net',
  'params',
  'weights',
];

function toInt(v: PyValue, what: string, source: string): number {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  throw new CheckpointError(source, `${what} is not an integer: ${describe(v)}`);
}

function intTuple(v: PyValue, what: string, source: string): number[] {
  const items = v instanceof PyTuple ? v.items : Array.isArray(v) ? v : undefined;
  if (!items) throw new CheckpointError(source, `${what} is not a tuple: ${describe(v)}`);
  return items.map((x, i) => toInt(x, `${what}[${i}]`, source));
}

// Modules whose globals can run code or touch the system; never accepted, not even as inert records.
const DANGEROUS =
  /^(os|posix|nt|subprocess|_posixsubprocess|commands|popen2|platform|multiprocessing|asyncio|builtins|__builtin__|sys|shutil|socket|importlib|runpy|pty|code|codeop|ctypes|pickle|cPickle|_pickle|marshal|types|functools|operator|webbrowser|io|codecs|eval|exec|pdb|timeit|trace|profile|cProfile|doctest|threading|_thread)(\.|$)/;

function hooksFor(source: string, opts: TorchLoadOptions): UnpickleHooks {
  const inert = new Set(opts.inert ?? []);
  for (const name of inert) {
    if (DANGEROUS.test(name))
      throw new CheckpointError(source, `${name} cannot be accepted as inert: its module can run code`);
  }
  return {
    source,
    resolveGlobal(name) {
      if (CALLABLES.has(name) || name in TORCH_STORAGE_DTYPES || inert.has(name)) {
        return { kind: 'global', name };
      }
      return undefined;
    },
    executesCode: (name) => DANGEROUS.test(name),
    refusalHint(name) {
      // Never advice to let it in: nothing can make such a global safe.
      if (DANGEROUS.test(name)) {
        return 'Treat the file as malicious: do not open it with torch.load (without weights_only=True) either';
      }
      if (name.startsWith('__torch__.')) {
        return 'This is a TorchScript archive (torch.jit.save); load it in Python with torch.jit.load and save its state_dict()';
      }
      if (
        name.startsWith('torch.nn.') ||
        name.startsWith('__main__.') ||
        /^torchvision\.|^timm\./.test(name)
      ) {
        return 'The file seems to hold a pickled model object rather than a state dict: re-save it with torch.save(model.state_dict(), path)';
      }
      return 'If this global is harmless data you need, pass it in `inert` to keep it as an unexecuted record';
    },
    call(fn: PyGlobal, args: PyValue[]): PyValue {
      switch (fn.name) {
        case 'collections.OrderedDict': {
          const d = new Map<PyValue, PyValue>();
          const items = args[0];
          if (args.length > 1) break;
          if (Array.isArray(items)) {
            for (const pair of items) {
              const kv = pair instanceof PyTuple ? pair.items : Array.isArray(pair) ? pair : [];
              if (kv.length !== 2) throw new CheckpointError(source, 'OrderedDict item is not a pair');
              d.set(kv[0]!, kv[1]!);
            }
          } else if (items !== undefined) break;
          return d;
        }
        case 'torch._utils._rebuild_tensor':
        case 'torch._utils._rebuild_tensor_v2': {
          const [storage, offset, size, stride] = args;
          if (!storage || typeof storage !== 'object' || !('kind' in storage) || storage.kind !== 'storage') {
            throw new CheckpointError(source, `${fn.name}: first argument is not a storage`);
          }
          const tensor: TensorRef = {
            kind: 'tensor',
            storage: storage as StorageRef,
            offset: toInt(offset ?? null, 'storage offset', source),
            shape: intTuple(size ?? null, 'tensor size', source),
            stride: intTuple(stride ?? null, 'tensor stride', source),
          };
          return tensor;
        }
        case 'torch._utils._rebuild_parameter':
        case 'torch._utils._rebuild_parameter_with_state':
          if (!isTensor(args[0] ?? null))
            throw new CheckpointError(source, `${fn.name}: data is not a tensor`);
          return args[0]!;
        case 'torch.Size':
          return new PyTuple(intTuple(args[0] ?? new PyTuple([]), 'torch.Size', source));
        case '_codecs.encode': {
          const [text, encoding] = args;
          if (typeof text !== 'string' || (encoding !== 'latin1' && encoding !== 'latin-1')) break;
          const out = new Uint8Array(text.length);
          for (let i = 0; i < text.length; i++) {
            const c = text.charCodeAt(i);
            if (c > 255) break;
            out[i] = c;
          }
          return out;
        }
        default:
          if (fn.name === 'torch.device' || inert.has(fn.name)) return new PyObject(fn.name, args);
      }
      throw new CheckpointError(
        source,
        `${fn.name} called with unexpected arguments (${args.map(describe).join(', ')})`,
      );
    },
    build(target, state) {
      // OrderedDict state dicts carry `_metadata` (module versions) as instance state; kep has no use for
      // it. Inert objects keep their state for inspection.
      if (target instanceof Map) return target;
      if (target instanceof PyObject) {
        target.state = state;
        return target;
      }
      // Tensors pickled with Python-side attributes (rare) keep their data; the attributes are dropped.
      if (isTensor(target)) return target;
      throw new CheckpointError(source, `BUILD on ${describe(target)}`);
    },
    persistentLoad(pid) {
      const t = pid instanceof PyTuple ? pid.items : [];
      if (t[0] !== 'storage' || t.length < 5) {
        throw new CheckpointError(source, `unsupported persistent id ${describe(pid)} (expected a storage)`);
      }
      const [, type, key, , size, view] = t;
      const typeName =
        type && typeof type === 'object' && 'kind' in type && type.kind === 'global'
          ? (type as PyGlobal).name
          : '';
      const dtype = TORCH_STORAGE_DTYPES[typeName];
      if (!dtype)
        throw new CheckpointError(source, `storage type ${describe(type ?? null)} is not supported`);
      if (typeof key !== 'string')
        throw new CheckpointError(source, `storage key ${describe(key ?? null)} is not a string`);
      let viewOffset = 0;
      let n = toInt(size ?? null, 'storage size', source);
      if (view !== undefined && view !== null) {
        // Legacy storage views: (view_key, offset, view_size), offsets in elements of the root storage.
        const v = view instanceof PyTuple ? view.items : [];
        viewOffset = toInt(v[1] ?? null, 'storage view offset', source);
        n = toInt(v[2] ?? null, 'storage view size', source);
      }
      const ref: StorageRef = { kind: 'storage', key, dtype, numel: n, viewOffset };
      return ref;
    },
  };
}

/** A one-line description of a pickled value, for reports and errors. */
export function describe(v: PyValue): string {
  if (v === null) return 'None';
  if (typeof v === 'boolean') return `bool ${v ? 'True' : 'False'}`;
  if (typeof v === 'number') return Number.isInteger(v) ? `int ${v}` : `float ${v}`;
  if (typeof v === 'bigint') return `int ${v}`;
  if (typeof v === 'string') return `str ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (v instanceof Uint8Array) return `bytes (${v.byteLength})`;
  if (Array.isArray(v)) return `list of ${v.length}`;
  if (v instanceof PyTuple) return `tuple of ${v.items.length}`;
  if (v instanceof Set) return `set of ${v.size}`;
  if (v instanceof Map) {
    let tensors = 0;
    for (const x of v.values()) if (isTensor(x)) tensors++;
    return `dict of ${v.size} entries${tensors ? ` (${tensors} tensors)` : ''}`;
  }
  if (v instanceof PyObject) return `${v.cls} object`;
  if (isTensor(v)) return `tensor ${v.storage.dtype} [${v.shape.join(', ')}]`;
  return v.kind;
}

function selectContainer(
  top: PyValue,
  source: string,
  key: string | undefined,
): { dict: Map<PyValue, PyValue>; path: string } {
  const hasTensors = (v: PyValue): v is Map<PyValue, PyValue> =>
    v instanceof Map && [...v.values()].some(isTensor);
  if (key !== undefined) {
    let v: PyValue = top;
    for (const part of key.split('.')) {
      if (!(v instanceof Map) || !v.has(part)) {
        throw new CheckpointError(
          source,
          `no entry "${key}" in the checkpoint (top level: ${topLevelLine(top)})`,
        );
      }
      v = v.get(part)!;
    }
    if (!(v instanceof Map)) throw new CheckpointError(source, `"${key}" is ${describe(v)}, not a dict`);
    return { dict: v, path: key };
  }
  if (hasTensors(top) || (top instanceof Map && top.size === 0)) return { dict: top, path: '' };
  // Breadth-first over the usual container names, two levels deep ({"model": {"state_dict": …}}).
  let frontier: { v: PyValue; path: string }[] = [{ v: top, path: '' }];
  for (let depth = 0; depth < 2; depth++) {
    const next: typeof frontier = [];
    for (const { v, path } of frontier) {
      if (!(v instanceof Map)) continue;
      for (const k of CONTAINER_KEYS) {
        const child = v.get(k);
        if (child === undefined) continue;
        const p = path ? `${path}.${k}` : k;
        if (hasTensors(child)) return { dict: child, path: p };
        next.push({ v: child, path: p });
      }
    }
    frontier = next;
  }
  throw new CheckpointError(
    source,
    `found no dict of tensors at the top level or under ${CONTAINER_KEYS.join('/')}; pass the key ` +
      `holding the state dict (top level: ${topLevelLine(top)})`,
  );
}

function topLevel(top: PyValue): Record<string, string> {
  const out: Record<string, string> = {};
  if (top instanceof Map) {
    for (const [k, v] of top) out[typeof k === 'string' ? k : describe(k)] = describe(v);
  } else {
    out[''] = describe(top);
  }
  return out;
}

function topLevelLine(top: PyValue): string {
  const entries = Object.entries(topLevel(top));
  const shown = entries.slice(0, 12).map(([k, v]) => (k ? `${k}: ${v}` : v));
  return shown.join('; ') + (entries.length > 12 ? `; … ${entries.length - 12} more` : '');
}

// ---------------------------------------------------------------------------------------------------
// Tensor bytes

function swapBytes(data: Uint8Array, size: number): Uint8Array {
  if (size === 1) return data;
  const out = new Uint8Array(data.byteLength);
  for (let i = 0; i < data.byteLength; i += size) {
    for (let j = 0; j < size; j++) out[i + j] = data[i + size - 1 - j]!;
  }
  return out;
}

/**
 * The tensor's elements, contiguous and row-major. A tensor that is exactly its whole storage is a view
 * of it (no copy); anything else (a slice of a shared storage, a transposed or strided view) is copied
 * out, so tensors never alias one another.
 */
function materialise(t: TensorRef, storage: Uint8Array, name: string, source: string): SafeTensor {
  const size = DTYPE_BYTES[t.storage.dtype];
  const n = numel(t.shape);
  const rank = t.shape.length;
  if (t.stride.length !== rank) {
    throw new CheckpointError(
      source,
      `tensor "${name}": stride [${t.stride}] does not match size [${t.shape}]`,
    );
  }
  if (n === 0) return { dtype: t.storage.dtype, shape: t.shape, data: new Uint8Array(0) };
  let last = t.offset;
  for (let d = 0; d < rank; d++) {
    if (t.stride[d]! < 0) throw new CheckpointError(source, `tensor "${name}": negative stride`);
    last += (t.shape[d]! - 1) * t.stride[d]!;
  }
  const available = storage.byteLength / size;
  if (t.offset < 0 || last >= available) {
    throw new CheckpointError(
      source,
      `tensor "${name}" (size [${t.shape}], stride [${t.stride}], offset ${t.offset}) reaches element ` +
        `${last} of a ${available}-element storage`,
    );
  }
  let contiguous = true;
  for (let d = rank - 1, expect = 1; d >= 0; d--) {
    if (t.shape[d]! !== 1 && t.stride[d]! !== expect) contiguous = false;
    expect *= t.shape[d]!;
  }
  if (contiguous) {
    const bytes = storage.subarray(t.offset * size, (t.offset + n) * size);
    return { dtype: t.storage.dtype, shape: t.shape, data: n === available ? bytes : bytes.slice() };
  }
  const out = new Uint8Array(n * size);
  const index = new Array<number>(rank).fill(0);
  // The innermost dimension is copied element by element; the odometer walks the outer ones.
  const inner = rank > 0 ? t.shape[rank - 1]! : 1;
  const innerStride = rank > 0 ? t.stride[rank - 1]! * size : 0;
  for (let o = 0; o < n; o += inner) {
    let src = t.offset;
    for (let d = 0; d < rank - 1; d++) src += index[d]! * t.stride[d]!;
    src *= size;
    for (let i = 0; i < inner; i++, src += innerStride) {
      out.set(storage.subarray(src, src + size), (o + i) * size);
    }
    for (let d = rank - 2; d >= 0; d--) {
      if (++index[d]! < t.shape[d]!) break;
      index[d] = 0;
    }
  }
  return { dtype: t.storage.dtype, shape: t.shape, data: out };
}

function readAt(fd: number, target: Uint8Array, position: number, source: string): void {
  const CHUNK = 1 << 30;
  for (let done = 0; done < target.byteLength;) {
    const got = readSync(fd, target, done, Math.min(CHUNK, target.byteLength - done), position + done);
    if (got === 0) throw new CheckpointError(source, `unexpected end of file at byte ${position + done}`);
    done += got;
  }
}

interface Selection {
  top: PyValue;
  container: string;
  refs: [string, TensorRef][];
  skipped: string[];
}

/** Picks the state dict; reads nothing, so unused tensors (optimiser moments) cost no I/O. */
function selectTensors(top: PyValue, source: string, opts: TorchLoadOptions): Selection {
  const { dict, path } = selectContainer(top, source, opts.key);
  const refs: [string, TensorRef][] = [];
  const skipped: string[] = [];
  for (const [k, v] of dict) {
    const name = typeof k === 'string' ? k : describe(k);
    if (isTensor(v)) refs.push([name, v]);
    else skipped.push(`${name}: ${describe(v)}`);
  }
  if (refs.length > MAX_TENSORS)
    throw new CheckpointError(
      source,
      `${refs.length} tensors: more than the ${MAX_TENSORS} any model has; refusing to load`,
    );
  if (refs.length === 0 && dict.size > 0) {
    throw new CheckpointError(source, `"${path}" holds no tensors (${skipped.slice(0, 5).join('; ')})`);
  }
  return { top, container: path, refs, skipped };
}

/** Storages needed by the selection, each once however many tensors share it. */
function neededStorages(sel: Selection): Map<string, StorageRef> {
  const out = new Map<string, StorageRef>();
  for (const [, t] of sel.refs) {
    const prev = out.get(t.storage.key);
    // Views of one legacy root storage may cover different ranges: keep the widest.
    if (!prev || t.storage.viewOffset + t.storage.numel > prev.viewOffset + prev.numel)
      out.set(t.storage.key, t.storage);
  }
  return out;
}

function finish(
  sel: Selection,
  source: string,
  format: TorchCheckpoint['format'],
  storages: Map<string, Uint8Array>,
): TorchCheckpoint {
  const tensors: StateDict = new Map();
  for (const [name, t] of sel.refs) {
    const size = DTYPE_BYTES[t.storage.dtype];
    const bytes = storages.get(t.storage.key)!;
    const view = bytes.subarray(t.storage.viewOffset * size, (t.storage.viewOffset + t.storage.numel) * size);
    tensors.set(name, materialise(t, view, name, source));
  }
  return {
    source,
    format,
    tensors,
    container: sel.container,
    topLevel: topLevel(sel.top),
    skipped: sel.skipped,
  };
}

// ---------------------------------------------------------------------------------------------------
// The zip layout

async function collect(stream: Readable): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  // A fresh buffer of its own: Buffer.concat may hand out a slice of a shared pool.
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/**
 * Inflating is bounded before it starts: torch stores its entries uncompressed, so a deflated entry
 * is a re-zipped file at best (weights barely compress) and a zip bomb at worst. Every entry's
 * declared size is checked against what the file can hold, and the deflated ones together may not
 * inflate past INFLATE_RATIO × the file's size (at least INFLATE_FLOOR). yauzl stops a stream that
 * inflates past its declared size, so the declared sizes are the real bound.
 */
export const INFLATE_RATIO = 16;
export const INFLATE_FLOOR = 16 * 2 ** 20;
/** More tensors than any model has (the largest hold tens of thousands): a bound on what a file can ask. */
export const MAX_TENSORS = 1_000_000;

const mib = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MiB`;

async function readZip(path: string, fd: number, opts: TorchLoadOptions): Promise<TorchCheckpoint> {
  const fileSize = fstatSync(fd).size;
  const inflateBudget = Math.max(INFLATE_FLOOR, INFLATE_RATIO * fileSize);
  let inflated = 0;
  let zip: yauzl.ZipFile;
  try {
    // yauzl closes the descriptor it is given when the zip is closed, so it gets one of its own; ours
    // stays for the direct reads below.
    zip = await yauzl.openPromise(path, { lazyEntries: true, autoClose: false });
  } catch (err) {
    throw new CheckpointError(path, `not a readable zip archive: ${(err as Error).message}`);
  }
  try {
    const entries = new Map<string, yauzl.Entry>();
    for await (const e of zip.eachEntry()) entries.set(e.fileName, e);
    const pkl = [...entries.keys()].find((n) => /^[^/]+\/data\.pkl$/.test(n));
    if (!pkl) {
      throw new CheckpointError(path, 'zip archive has no <archive>/data.pkl: not a torch.save checkpoint');
    }
    const prefix = pkl.slice(0, -'data.pkl'.length);

    // Stored entries (torch never compresses) are read straight from the file at their data offset, so
    // a storage costs one read and no stream; compressed ones go through the library's inflater.
    async function readEntry(name: string): Promise<Uint8Array> {
      const e = entries.get(name);
      if (!e) throw new CheckpointError(path, `archive entry ${name} is missing`);
      if (e.compressionMethod === 0) {
        const { fileDataStart } = await zip.readLocalFileHeaderPromise(e, { minimal: true });
        if (fileDataStart + e.uncompressedSize > fileSize)
          throw new CheckpointError(
            path,
            `archive entry ${name} declares ${e.uncompressedSize} bytes, past the end of the ${fileSize}-byte file (truncated or forged)`,
          );
        const out = new Uint8Array(e.uncompressedSize);
        readAt(fd, out, fileDataStart, path);
        return out;
      }
      if (!e.canDecodeFileData()) {
        throw new CheckpointError(
          path,
          `archive entry ${name} uses an unsupported compression method ${e.compressionMethod}`,
        );
      }
      inflated += e.uncompressedSize;
      if (inflated > inflateBudget)
        throw new CheckpointError(
          path,
          `refusing to inflate archive entry ${name}: it declares ${mib(e.uncompressedSize)} from ${mib(e.compressedSize)} ` +
            `compressed, and the compressed entries of this ${mib(fileSize)} file may inflate to at most ${mib(inflateBudget)} ` +
            `(${INFLATE_RATIO}× the file; torch itself never compresses, so this is a re-zipped file or a zip bomb); nothing was inflated`,
        );
      return collect(await zip.openReadStreamPromise(e));
    }

    let bigEndian = false;
    if (entries.has(`${prefix}byteorder`)) {
      const order = new TextDecoder().decode(await readEntry(`${prefix}byteorder`)).trim();
      if (order !== 'little' && order !== 'big')
        throw new CheckpointError(path, `unknown byteorder "${order}"`);
      bigEndian = order === 'big';
    }
    const top = unpickle(await readEntry(pkl), hooksFor(path, opts)).value;
    const sel = selectTensors(top, path, opts);
    const storages = new Map<string, Uint8Array>();
    for (const [key, s] of neededStorages(sel)) {
      const name = `${prefix}data/${key}`;
      let bytes = await readEntry(name);
      const want = (s.viewOffset + s.numel) * DTYPE_BYTES[s.dtype];
      if (bytes.byteLength < want) {
        throw new CheckpointError(
          path,
          `storage ${name} has ${bytes.byteLength} bytes; its tensors need ${want}`,
        );
      }
      if (bigEndian) bytes = swapBytes(bytes, DTYPE_BYTES[s.dtype]);
      storages.set(key, bytes);
    }
    return finish(sel, path, 'zip', storages);
  } finally {
    zip.close();
  }
}

// ---------------------------------------------------------------------------------------------------
// The legacy layout

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

function readLegacy(path: string, fd: number, fileSize: number, opts: TorchLoadOptions): TorchCheckpoint {
  const hooks = hooksFor(path, opts);
  // The pickles' total length is unknown until parsed: read a prefix, and more if they run past it.
  for (let chunk = Math.min(fileSize, 1 << 20); ; chunk = Math.min(fileSize, chunk * 4)) {
    const head = new Uint8Array(chunk);
    readAt(fd, head, 0, path);
    try {
      const magic = unpickle(head, hooks);
      if (magic.value !== LEGACY_MAGIC) {
        throw new CheckpointError(
          path,
          'not a PyTorch checkpoint (neither a zip archive nor the legacy magic number)',
        );
      }
      const protocol = unpickle(head, hooks, magic.end);
      if (protocol.value !== LEGACY_PROTOCOL) {
        throw new CheckpointError(path, `unsupported legacy protocol version ${describe(protocol.value)}`);
      }
      const sysInfo = unpickle(head, hooks, protocol.end);
      const littleEndian = sysInfo.value instanceof Map ? sysInfo.value.get('little_endian') !== false : true;
      const main = unpickle(head, hooks, sysInfo.end);
      const keysPickle = unpickle(head, hooks, main.end);
      const keys = Array.isArray(keysPickle.value) ? keysPickle.value : [];

      // Storage records follow in key order; the element sizes come from the storage types seen above.
      const types = new Map<string, StorageRef>();
      const collectStorages = (v: PyValue): void => {
        if (isTensor(v)) types.set(v.storage.key, v.storage);
        else if (v instanceof Map) for (const x of v.values()) collectStorages(x);
        else if (Array.isArray(v)) v.forEach(collectStorages);
        else if (v instanceof PyTuple) v.items.forEach(collectStorages);
      };
      collectStorages(main.value);
      const offsets = new Map<string, { start: number; numel: number }>();
      let pos = keysPickle.end;
      for (const key of keys) {
        if (typeof key !== 'string')
          throw new CheckpointError(path, `storage key ${describe(key)} is not a string`);
        const s = types.get(key);
        if (!s) throw new CheckpointError(path, `storage ${key} is listed but no tensor uses it`);
        const header = new Uint8Array(8);
        readAt(fd, header, pos, path);
        const dv = new DataView(header.buffer);
        const n = Number(dv.getBigInt64(0, littleEndian));
        offsets.set(key, { start: pos + 8, numel: n });
        pos += 8 + n * DTYPE_BYTES[s.dtype];
      }
      if (pos > fileSize)
        throw new CheckpointError(path, `storages run past the end of the ${fileSize}-byte file`);
      const sel = selectTensors(main.value, path, opts);
      const storages = new Map<string, Uint8Array>();
      for (const [key, s] of neededStorages(sel)) {
        const at = offsets.get(key);
        if (!at) throw new CheckpointError(path, `storage ${key} is not in the file`);
        const size = DTYPE_BYTES[s.dtype];
        if (s.viewOffset + s.numel > at.numel) {
          throw new CheckpointError(
            path,
            `storage ${key} has ${at.numel} elements; a view needs ${s.viewOffset + s.numel}`,
          );
        }
        const out = new Uint8Array(at.numel * size);
        readAt(fd, out, at.start, path);
        storages.set(key, littleEndian ? out : swapBytes(out, size));
      }
      return finish(sel, path, 'legacy', storages);
    } catch (err) {
      if (err instanceof PickleTruncatedError && chunk < fileSize) continue;
      if (err instanceof PickleTruncatedError)
        throw new CheckpointError(path, 'file ends inside its pickled data');
      throw err;
    }
  }
}

// ---------------------------------------------------------------------------------------------------

/** Reads a `torch.save` file (zip or legacy layout) into a state dict. Never executes anything. */
export async function readTorchCheckpoint(
  path: string,
  opts: TorchLoadOptions = {},
): Promise<TorchCheckpoint> {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const magic = new Uint8Array(Math.min(size, 512));
    readAt(fd, magic, 0, path);
    if (magic[0] === 0x50 && magic[1] === 0x4b && magic[2] === 0x03 && magic[3] === 0x04) {
      return await readZip(path, fd, opts);
    }
    if (magic[0] === 0x80) return readLegacy(path, fd, size, opts);
    if (size >= 262 && new TextDecoder().decode(magic.subarray(257, 262)) === 'ustar') {
      throw new CheckpointError(
        path,
        'tar-format checkpoint (PyTorch < 0.4) is not supported; re-save it with a newer torch',
      );
    }
    throw new CheckpointError(path, 'not a PyTorch checkpoint (neither a zip archive nor a pickle)');
  } catch (err) {
    if (err instanceof PickleError || err instanceof CheckpointError) throw err;
    throw new CheckpointError(path, (err as Error).message);
  } finally {
    closeSync(fd);
  }
}
