// A restricted unpickler for the pickles that `torch.save` writes (protocol 2, also the opcodes of
// protocols 0–5 that plain data needs).
//
// Written here rather than taken from npm: the JS pickle readers on the registry either execute nothing
// but also cannot rebuild torch tensors, or resolve globals through a user-supplied class table with no
// notion of an allow-list; none is maintained against pickle's full opcode set. Safety rests on one
// rule: a GLOBAL / STACK_GLOBAL (or INST / OBJ) must name an entry of an allow-list, else the load stops
// with an error that names the source and the global. Allowed globals are implemented in TypeScript
// (see ./torch.ts); nothing read from the file is ever run, imported or evaluated.

/** A Python global that passed the allow-list, resolved to what it means here. */
export interface PyGlobal {
  readonly kind: 'global';
  /** "module.name", with Python 2 module names mapped to Python 3 ones as pickle does. */
  readonly name: string;
}

/** A tuple; kept apart from lists so callers can tell `(a, b)` from `[a, b]` where it matters. */
export class PyTuple {
  constructor(readonly items: PyValue[]) {}
}

/** An instance of an allowed but inert class: its constructor arguments and state, never run. */
export class PyObject {
  state: PyValue = null;
  constructor(
    readonly cls: string,
    readonly args: PyValue[],
  ) {}
}

export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PyValue[]
  | PyTuple
  | Map<PyValue, PyValue>
  | Set<PyValue>
  | PyGlobal
  | PyObject
  // Values built by the caller's hooks (tensors, storages).
  | { readonly kind: string };

export class PickleError extends Error {
  constructor(
    readonly source: string,
    detail: string,
  ) {
    super(`${source}: ${detail}`);
    this.name = 'PickleError';
  }
}

/** Raised for a global outside the allow-list: the file asked to import something kep will not. */
export class ForbiddenGlobalError extends PickleError {
  constructor(
    source: string,
    readonly global: string,
    hint: string,
    /** The name as the file wrote it, when a Python 2 name was mapped ("commands.Popen"). */
    readonly written: string = global,
    /** The global runs programs or code when Python unpickles the file: a code-execution attempt. */
    readonly codeExecution = false,
  ) {
    const as = written !== global ? ` (written as ${written})` : '';
    super(
      source,
      codeExecution
        ? `refusing to load: the pickle imports ${global}${as}, a code-execution attempt: that global runs ` +
            `programs or code when Python unpickles the file (nothing was executed here)${hint ? `. ${hint}` : ''}`
        : `refusing to load: the pickle imports ${global}${as}, which is not on kep's allow-list of globals a ` +
            `state dict needs (nothing was executed)${hint ? `. ${hint}` : ''}`,
    );
    this.name = 'ForbiddenGlobalError';
  }
}

export interface UnpickleHooks {
  /** Where the bytes came from, for error messages. */
  source: string;
  /**
   * Resolves "module.name" or returns undefined to refuse it. Only what this returns can ever be called.
   */
  resolveGlobal(name: string): PyGlobal | undefined;
  /** Applies an allowed global to arguments (REDUCE, NEWOBJ, INST, OBJ). */
  call(fn: PyGlobal, args: PyValue[]): PyValue;
  /** BUILD on a value made by `call`; returns the built value. */
  build?(target: PyValue, state: PyValue): PyValue;
  /** BINPERSID / PERSID: torch's storage references. */
  persistentLoad?(pid: PyValue): PyValue;
  /** Appended to the refusal message (e.g. how to re-save the file as a state dict). */
  refusalHint?(name: string): string;
  /** True for globals that run programs or code (os.system, subprocess.Popen, builtins.eval…). */
  executesCode?(name: string): boolean;
}

// Python 2 names that protocol-2 pickles from Python 3 still carry (pickle's fix_imports table,
// _compat_pickle.IMPORT_MAPPING: the entries that can matter for data, and those Python would map to
// a module that runs code, so that a refusal names the module Python would really import).
const PY2_MODULES: Record<string, string> = {
  __builtin__: 'builtins',
  copy_reg: 'copyreg',
  _abcoll: 'collections.abc',
  commands: 'subprocess',
  cPickle: 'pickle',
  exceptions: 'builtins',
  UserDict: 'collections',
  UserList: 'collections',
  UserString: 'collections',
  cStringIO: 'io',
  StringIO: 'io',
  thread: '_thread',
  dummy_thread: '_dummy_thread',
  SocketServer: 'socketserver',
  urllib2: 'urllib.request',
  httplib: 'http.client',
};

const MARK = Symbol('mark');
type StackItem = PyValue | typeof MARK;

export interface UnpickleResult {
  value: PyValue;
  /** Offset just past the STOP opcode: legacy torch files hold several pickles back to back. */
  end: number;
}

/** Thrown when the bytes end before STOP; the legacy reader then reads more and tries again. */
export class PickleTruncatedError extends PickleError {
  constructor(source: string) {
    super(source, 'pickle data ended before its STOP opcode');
    this.name = 'PickleTruncatedError';
  }
}

const decoder = new TextDecoder('utf-8', { fatal: true });
const latin1 = new TextDecoder('latin1');

export function unpickle(bytes: Uint8Array, hooks: UnpickleHooks, start = 0): UnpickleResult {
  const { source } = hooks;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = start;
  let stack: StackItem[] = [];
  const metastack: StackItem[][] = [];
  const memo = new Map<number, PyValue>();

  function fail(detail: string): never {
    throw new PickleError(source, `${detail} (at byte ${pos})`);
  }
  function need(n: number): void {
    if (pos + n > bytes.byteLength) throw new PickleTruncatedError(source);
  }
  function u8(): number {
    need(1);
    return bytes[pos++]!;
  }
  function u16(): number {
    need(2);
    pos += 2;
    return view.getUint16(pos - 2, true);
  }
  function u32(): number {
    need(4);
    pos += 4;
    return view.getUint32(pos - 4, true);
  }
  function i32(): number {
    need(4);
    pos += 4;
    return view.getInt32(pos - 4, true);
  }
  function u64(): number {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`length ${v} is too large`);
    return Number(v);
  }
  function take(n: number): Uint8Array {
    need(n);
    pos += n;
    return bytes.subarray(pos - n, pos);
  }
  function line(): string {
    const nl = bytes.indexOf(0x0a, pos);
    if (nl < 0) throw new PickleTruncatedError(source);
    const s = latin1.decode(bytes.subarray(pos, nl));
    pos = nl + 1;
    return s;
  }
  function utf8(b: Uint8Array): string {
    try {
      return decoder.decode(b);
    } catch {
      fail('string is not valid UTF-8');
    }
  }
  function pop(): PyValue {
    const v = stack.pop();
    if (v === undefined) fail('stack underflow');
    if (v === MARK) fail('unexpected MARK');
    return v;
  }
  function top(): PyValue {
    const v = stack[stack.length - 1];
    if (v === undefined) fail('stack underflow');
    if (v === MARK) fail('unexpected MARK');
    return v;
  }
  function popMark(): PyValue[] {
    const items = stack as PyValue[];
    const prev = metastack.pop();
    if (!prev) fail('no MARK on the stack');
    stack = prev;
    return items;
  }
  function push(v: PyValue): void {
    stack.push(v);
  }
  // Little-endian two's complement, as LONG1 / LONG4 store it.
  function decodeLong(b: Uint8Array): number | bigint {
    if (b.byteLength === 0) return 0;
    let v = 0n;
    for (let i = b.byteLength - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
    if (b[b.byteLength - 1]! & 0x80) v -= 1n << BigInt(8 * b.byteLength);
    return intValue(v);
  }
  function intValue(v: bigint): number | bigint {
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }
  function findGlobal(module: string, name: string): PyGlobal {
    const full = `${PY2_MODULES[module] ?? module}.${name}`;
    const g = hooks.resolveGlobal(full);
    if (!g)
      throw new ForbiddenGlobalError(
        source,
        full,
        hooks.refusalHint?.(full) ?? '',
        `${module}.${name}`,
        hooks.executesCode?.(full) ?? false,
      );
    return g;
  }
  function callable(v: PyValue, op: string): PyGlobal {
    if (v !== null && typeof v === 'object' && 'kind' in v && v.kind === 'global') return v as PyGlobal;
    fail(`${op} on a value that is not an allowed global`);
  }
  function args(v: PyValue, op: string): PyValue[] {
    if (v instanceof PyTuple) return v.items;
    fail(`${op} arguments are not a tuple`);
  }
  function dict(v: PyValue, op: string): Map<PyValue, PyValue> {
    if (v instanceof Map) return v;
    fail(`${op} on a value that is not a dict`);
  }
  function list(v: PyValue, op: string): PyValue[] {
    if (Array.isArray(v)) return v;
    fail(`${op} on a value that is not a list`);
  }
  function setItems(d: Map<PyValue, PyValue>, items: PyValue[]): void {
    if (items.length % 2) fail('SETITEMS with an odd number of items');
    for (let i = 0; i < items.length; i += 2) d.set(items[i]!, items[i + 1]!);
  }
  function memoGet(i: number): PyValue {
    if (!memo.has(i)) fail(`memo key ${i} was never stored`);
    return memo.get(i)!;
  }

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) fail('pickle protocol above 5');
        break;
      case 0x95: // FRAME: framing only groups opcodes; the length needs no action
        u64();
        break;
      case 0x2e: {
        // STOP
        const value = pop();
        return { value, end: pos };
      }
      case 0x28: // MARK
        metastack.push(stack);
        stack = [];
        break;
      case 0x30: // POP
        if (stack.length === 0) fail('POP on an empty stack');
        stack.pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        push(top());
        break;

      // Constants and numbers
      case 0x4e: // NONE
        push(null);
        break;
      case 0x88: // NEWTRUE
        push(true);
        break;
      case 0x89: // NEWFALSE
        push(false);
        break;
      case 0x4a: // BININT
        push(i32());
        break;
      case 0x4b: // BININT1
        push(u8());
        break;
      case 0x4d: // BININT2
        push(u16());
        break;
      case 0x8a: // LONG1
        push(decodeLong(take(u8())));
        break;
      case 0x8b: {
        // LONG4
        const n = i32();
        if (n < 0) fail('negative LONG4 length');
        push(decodeLong(take(n)));
        break;
      }
      case 0x49: {
        // INT (protocol 0): "01"/"00" are True/False
        const s = line();
        if (s === '01' || s === '00') push(s === '01');
        else if (/^[+-]?\d+$/.test(s)) push(intValue(BigInt(s)));
        else fail(`bad INT ${JSON.stringify(s)}`);
        break;
      }
      case 0x4c: {
        // LONG (protocol 0)
        const s = line().replace(/L$/, '');
        if (!/^[+-]?\d+$/.test(s)) fail(`bad LONG ${JSON.stringify(s)}`);
        push(intValue(BigInt(s)));
        break;
      }
      case 0x47: // BINFLOAT: big-endian
        need(8);
        pos += 8;
        push(view.getFloat64(pos - 8, false));
        break;
      case 0x46: {
        // FLOAT (protocol 0)
        const s = line();
        const v = Number(s);
        if (Number.isNaN(v) && !/nan/i.test(s)) fail(`bad FLOAT ${JSON.stringify(s)}`);
        push(v);
        break;
      }

      // Strings and bytes
      case 0x8c: // SHORT_BINUNICODE
        push(utf8(take(u8())));
        break;
      case 0x58: // BINUNICODE
        push(utf8(take(u32())));
        break;
      case 0x8d: // BINUNICODE8
        push(utf8(take(u64())));
        break;
      case 0x56: // UNICODE (protocol 0, raw-unicode-escape; plain ASCII is what occurs)
        push(line());
        break;
      case 0x53: {
        // STRING (protocol 0): a quoted Python literal; the escapes repr() writes are undone.
        const raw = line();
        const q = raw[0];
        if (raw.length < 2 || (q !== "'" && q !== '"') || raw[raw.length - 1] !== q) fail('bad STRING');
        const escapes: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"' };
        push(
          raw
            .slice(1, -1)
            .replace(/\\(x[0-9a-fA-F]{2}|.)/g, (_, e: string) =>
              e.length === 3 ? String.fromCharCode(parseInt(e.slice(1), 16)) : (escapes[e] ?? `\\${e}`),
            ),
        );
        break;
      }
      // Python 2 str: decoded as UTF-8, torch.load's default `encoding`.
      case 0x55: // SHORT_BINSTRING
        push(utf8(take(u8())));
        break;
      case 0x54: {
        // BINSTRING
        const n = i32();
        if (n < 0) fail('negative BINSTRING length');
        push(utf8(take(n)));
        break;
      }
      case 0x43: // SHORT_BINBYTES
        push(take(u8()).slice());
        break;
      case 0x42: // BINBYTES
        push(take(u32()).slice());
        break;
      case 0x8e: // BINBYTES8
        push(take(u64()).slice());
        break;
      case 0x96: // BYTEARRAY8
        push(take(u64()).slice());
        break;

      // Containers
      case 0x29: // EMPTY_TUPLE
        push(new PyTuple([]));
        break;
      case 0x85: // TUPLE1
        push(new PyTuple([pop()]));
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        push(new PyTuple([pop(), b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        push(new PyTuple([pop(), b, c]));
        break;
      }
      case 0x74: // TUPLE
        push(new PyTuple(popMark()));
        break;
      case 0x5d: // EMPTY_LIST
        push([]);
        break;
      case 0x6c: // LIST
        push(popMark());
        break;
      case 0x61: {
        // APPEND
        const v = pop();
        list(top(), 'APPEND').push(v);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        list(top(), 'APPENDS').push(...items);
        break;
      }
      case 0x7d: // EMPTY_DICT
        push(new Map());
        break;
      case 0x64: {
        // DICT
        const d = new Map<PyValue, PyValue>();
        setItems(d, popMark());
        push(d);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        dict(top(), 'SETITEM').set(k, v);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(dict(top(), 'SETITEMS'), items);
        break;
      }
      case 0x8f: // EMPTY_SET
        push(new Set());
        break;
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        const s = top();
        if (!(s instanceof Set)) fail('ADDITEMS on a value that is not a set');
        for (const v of items) s.add(v);
        break;
      }
      case 0x91: // FROZENSET
        push(new Set(popMark()));
        break;

      // Memo
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x70: {
        // PUT
        const s = line();
        if (!/^\d+$/.test(s)) fail(`bad PUT ${JSON.stringify(s)}`);
        memo.set(Number(s), top());
        break;
      }
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
        push(memoGet(u8()));
        break;
      case 0x6a: // LONG_BINGET
        push(memoGet(u32()));
        break;
      case 0x67: {
        // GET
        const s = line();
        if (!/^\d+$/.test(s)) fail(`bad GET ${JSON.stringify(s)}`);
        push(memoGet(Number(s)));
        break;
      }

      // Globals and calls: the only way a pickle reaches code, so every path goes through findGlobal.
      case 0x63: {
        // GLOBAL
        const module = line();
        push(findGlobal(module, line()));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        push(findGlobal(module, name));
        break;
      }
      case 0x52: {
        // REDUCE
        const a = args(pop(), 'REDUCE');
        push(hooks.call(callable(pop(), 'REDUCE'), a));
        break;
      }
      case 0x81: {
        // NEWOBJ: cls.__new__(cls, *args)
        const a = args(pop(), 'NEWOBJ');
        push(hooks.call(callable(pop(), 'NEWOBJ'), a));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX: keyword arguments are not used by anything on the allow-list
        const kwargs = pop();
        const a = args(pop(), 'NEWOBJ_EX');
        if (!(kwargs instanceof Map) || kwargs.size > 0) fail('NEWOBJ_EX with keyword arguments');
        push(hooks.call(callable(pop(), 'NEWOBJ_EX'), a));
        break;
      }
      case 0x69: {
        // INST
        const module = line();
        const g = findGlobal(module, line());
        push(hooks.call(g, popMark()));
        break;
      }
      case 0x6f: {
        // OBJ
        const items = popMark();
        if (items.length === 0) fail('OBJ without a class');
        push(hooks.call(callable(items[0]!, 'OBJ'), items.slice(1)));
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop();
        const target = pop();
        if (!hooks.build) fail('BUILD is not supported here');
        push(hooks.build(target, state));
        break;
      }
      case 0x51: // BINPERSID
        if (!hooks.persistentLoad) fail('persistent ids are not supported here');
        push(hooks.persistentLoad(pop()));
        break;
      case 0x50: // PERSID
        if (!hooks.persistentLoad) fail('persistent ids are not supported here');
        push(hooks.persistentLoad(line()));
        break;

      case 0x82: // EXT1
      case 0x83: // EXT2
      case 0x84: // EXT4
        fail('the copyreg extension registry (EXT opcodes) is not supported');
        break;
      case 0x97: // NEXT_BUFFER
      case 0x98: // READONLY_BUFFER
        fail('out-of-band buffers (pickle protocol 5) are not supported');
        break;
      default:
        pos--;
        fail(`unknown or unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')}`);
    }
  }
}
