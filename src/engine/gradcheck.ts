// Checks a graph's analytic gradients against central finite differences. Used by the engine's
// tests for every op, and useful to anyone adding an op or a composite layer.
import { gradients } from './autodiff.ts';
import type { DType } from './dtype.ts';
import { Graph, type Tensor } from './graph.ts';
import { Rng } from './init.ts';
import * as F from './ops/index.ts';
import { compile, ort } from './runtime.ts';

export interface CheckInput {
  shape: number[];
  dtype?: DType;
  /** Values; default standard normal draws (floats). Integer inputs must give their values. */
  data?: ArrayLike<number>;
  /** Skip the gradient check for this float input. */
  noGrad?: boolean;
}

export interface GradCheckResult {
  /** Largest |analytic − numeric| / max(1, |numeric|) over all checked elements. */
  maxError: number;
  worst: { input: number; index: number; analytic: number; numeric: number } | undefined;
}

export async function gradCheck(
  build: (g: Graph, xs: Tensor[]) => Tensor,
  inputs: readonly CheckInput[],
  opts: { eps?: number; seed?: number } = {},
): Promise<GradCheckResult> {
  const eps = opts.eps ?? 1e-2;
  const rng = new Rng(opts.seed ?? 1, 'gradcheck');
  const g = new Graph('gradcheck');
  const xs = inputs.map((inp, i) => g.input(`x${i}`, inp.dtype ?? 'float32', inp.shape));
  const out = build(g, xs);
  // A random projection makes every output element matter with a distinct weight.
  const shape = out.shape.map((d) => (typeof d === 'number' ? d : NaN));
  if (shape.some(Number.isNaN)) throw new Error('gradCheck needs static output shapes');
  const size = shape.reduce((a, b) => a * b, 1);
  const proj = g.constant({
    dtype: 'float32',
    shape,
    data: Float32Array.from({ length: size }, () => rng.normal()),
  });
  const loss = F.reduceSum(F.mul(out, proj));
  g.output('loss', loss);
  const checked = xs.filter((x, i) => x.dtype === 'float32' && !inputs[i]!.noGrad);
  const grads = gradients(g, loss, checked);
  for (const x of checked) {
    const d = grads.get(x.name);
    g.output(`grad_${x.name}`, d ?? F.zerosLike(x));
  }
  const session = await compile(g);

  const values = inputs.map((inp) => {
    const n = inp.shape.reduce((a, b) => a * b, 1);
    const dtype = inp.dtype ?? 'float32';
    if (dtype === 'float32')
      return Float32Array.from(inp.data ?? Array.from({ length: n }, () => rng.normal()));
    if (!inp.data) throw new Error(`gradCheck: integer input ${dtype} needs data`);
    if (dtype === 'int64') return BigInt64Array.from(Array.from(inp.data, (v) => BigInt(v)));
    if (dtype === 'bool') return Uint8Array.from(inp.data);
    return Int32Array.from(inp.data);
  });
  const feeds = (): Record<string, ort.Tensor> =>
    Object.fromEntries(
      xs.map((x, i) => {
        const v = values[i]!;
        const dtype = inputs[i]!.dtype ?? 'float32';
        return [x.name, new ort.Tensor(dtype, v, inputs[i]!.shape)];
      }),
    );
  const lossAt = async (): Promise<number> => Number((await session.run(feeds(), ['loss'])).loss!.data[0]);

  const analytic = await session.run(feeds());
  let result: GradCheckResult = { maxError: 0, worst: undefined };
  for (const x of checked) {
    const i = xs.indexOf(x);
    const v = values[i] as Float32Array;
    const grad = analytic[`grad_${x.name}`]!.data as Float32Array;
    for (let k = 0; k < v.length; k++) {
      const orig = v[k]!;
      v[k] = orig + eps;
      const up = await lossAt();
      v[k] = orig - eps;
      const down = await lossAt();
      v[k] = orig;
      const numeric = (up - down) / (2 * eps);
      const err = Math.abs(grad[k]! - numeric) / Math.max(1, Math.abs(numeric));
      if (err > result.maxError)
        result = { maxError: err, worst: { input: i, index: k, analytic: grad[k]!, numeric } };
    }
  }
  return result;
}
