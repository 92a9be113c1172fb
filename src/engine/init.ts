// Seeded parameter initialisers. Each parameter draws from its own stream, derived from the run
// seed and the parameter's name, so adding a layer does not change the others' initial values.
export type Initializer =
  | { kind: 'zeros' }
  | { kind: 'ones' }
  | { kind: 'constant'; value: number }
  | { kind: 'normal'; std: number; mean?: number }
  /** Normal truncated to [mean-2·std, mean+2·std] by resampling (timm's trunc_normal_ with a=-2σ, b=2σ). */
  | { kind: 'truncNormal'; std: number }
  | { kind: 'uniform'; low: number; high: number };

export const zeros: Initializer = { kind: 'zeros' };
export const ones: Initializer = { kind: 'ones' };
export const normal = (std: number, mean = 0): Initializer => ({ kind: 'normal', std, mean });
export const truncNormal = (std: number): Initializer => ({ kind: 'truncNormal', std });
export const uniform = (low: number, high: number): Initializer => ({ kind: 'uniform', low, high });
export const constant = (value: number): Initializer => ({ kind: 'constant', value });
/** PyTorch's default for nn.Linear/nn.Conv weights and biases: U(±1/√fan_in). */
export const torchDefault = (fanIn: number): Initializer =>
  uniform(-1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn));

// A small, well-studied generator (SplitMix32 seeding + xoshiro128**) written here because we need
// reproducible streams keyed by (seed, name), which Math.random cannot give.
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare: number | undefined;

  constructor(seed: number, key = '') {
    let h = (seed ^ 0x9e3779b9) >>> 0;
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
    const split = (): number => {
      h = (h + 0x9e3779b9) >>> 0;
      let z = h;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = split();
    this.s1 = split();
    this.s2 = split();
    this.s3 = split();
  }

  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  normal(): number {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j] as T, items[i] as T];
    }
    return items;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

export function initialize(init: Initializer, size: number, rng: Rng): Float32Array {
  const out = new Float32Array(size);
  switch (init.kind) {
    case 'zeros':
      break;
    case 'ones':
      out.fill(1);
      break;
    case 'constant':
      out.fill(init.value);
      break;
    case 'normal':
      for (let i = 0; i < size; i++) out[i] = (init.mean ?? 0) + init.std * rng.normal();
      break;
    case 'truncNormal':
      for (let i = 0; i < size; i++) {
        let z: number;
        do z = rng.normal();
        while (z < -2 || z > 2);
        out[i] = init.std * z;
      }
      break;
    case 'uniform':
      for (let i = 0; i < size; i++) out[i] = init.low + (init.high - init.low) * rng.next();
      break;
  }
  return out;
}

/** Every parameter of a graph from its own initialiser, each drawn from its own (seed, name) stream:
 * the values a model has before any weights are loaded (the same for the same seed and names). */
export function initialParameters(
  params: Iterable<{ name: string; shape: readonly number[]; init: Initializer }>,
  seed = 0,
): Map<string, Float32Array> {
  const values = new Map<string, Float32Array>();
  for (const p of params)
    values.set(
      p.name,
      initialize(
        p.init,
        p.shape.reduce((a, b) => a * b, 1),
        new Rng(seed, p.name),
      ),
    );
  return values;
}
