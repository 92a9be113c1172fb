// Static shapes with symbolic dimensions. A symbolic dim is a product of named factors and an
// integer coefficient, written canonically ("2*batch*seq"), so flattening [batch, seq, d] to
// [-1, d] infers "batch*seq" and later shapes can be checked against it.
export type Dim = number | string;
export type Shape = readonly Dim[];

interface Monomial {
  coef: number;
  syms: Map<string, number>;
}

function parse(d: Dim): Monomial {
  if (typeof d === 'number') return { coef: d, syms: new Map() };
  const m: Monomial = { coef: 1, syms: new Map() };
  for (const part of d.split('*')) {
    const p = part.trim();
    if (/^\d+$/.test(p)) m.coef *= Number(p);
    else if (/^[A-Za-z_][\w.]*$/.test(p)) m.syms.set(p, (m.syms.get(p) ?? 0) + 1);
    else throw new Error(`invalid symbolic dimension "${d}"`);
  }
  return m;
}

function format(m: Monomial): Dim {
  const names = [...m.syms.entries()]
    .filter(([, p]) => p !== 0)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (names.length === 0) return m.coef;
  const parts: string[] = m.coef === 1 ? [] : [String(m.coef)];
  for (const [name, power] of names) for (let i = 0; i < power; i++) parts.push(name);
  return parts.join('*');
}

export function canonicalDim(d: Dim): Dim {
  return format(parse(d));
}

export function dimProduct(dims: readonly Dim[]): Dim {
  const out: Monomial = { coef: 1, syms: new Map() };
  for (const d of dims) {
    const m = parse(d);
    out.coef *= m.coef;
    for (const [s, p] of m.syms) out.syms.set(s, (out.syms.get(s) ?? 0) + p);
  }
  return format(out);
}

/** a / b, or undefined when it is not a whole monomial. */
export function dimDivide(a: Dim, b: Dim): Dim | undefined {
  const ma = parse(a);
  const mb = parse(b);
  if (mb.coef === 0 || ma.coef % mb.coef !== 0) return undefined;
  const syms = new Map(ma.syms);
  for (const [s, p] of mb.syms) {
    const left = (syms.get(s) ?? 0) - p;
    if (left < 0) return undefined;
    syms.set(s, left);
  }
  return format({ coef: ma.coef / mb.coef, syms });
}

export const dimEqual = (a: Dim, b: Dim): boolean => canonicalDim(a) === canonicalDim(b);
export const isStatic = (s: Shape): s is readonly number[] => s.every((d) => typeof d === 'number');
export const showShape = (s: Shape): string => `[${s.join(', ')}]`;
export const symbolsOf = (d: Dim): string[] => [...parse(d).syms.keys()];

/** Numpy-style broadcast of two shapes; returns undefined where they cannot broadcast. */
export function broadcastShapes(a: Shape, b: Shape): Dim[] | undefined {
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (dimEqual(da, db)) out.push(canonicalDim(da));
    else if (da === 1) out.push(canonicalDim(db));
    else if (db === 1) out.push(canonicalDim(da));
    else return undefined;
  }
  return out;
}

export function normAxis(axis: number, rank: number, what: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`${what}: axis ${axis} out of range for rank ${rank}`);
  return a;
}
