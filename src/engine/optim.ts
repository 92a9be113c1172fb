// AdamW as graph ops, appended after the backward pass so one ONNX Runtime call does forward,
// backward and update. Follows torch.optim.AdamW exactly (decoupled decay applied before the
// moment update, bias corrections, eps added after the bias-corrected square root).
import type { Graph, Tensor } from './graph.ts';
import * as F from './ops/index.ts';

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Clip the global gradient L2 norm to this value before the update (none when undefined). */
  maxGradNorm?: number;
}

export const defaultAdamW: AdamWConfig = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };

export interface AdamWTarget {
  name: string;
  param: Tensor;
  grad: Tensor;
  decay: boolean;
}

export interface AdamWGraphIO {
  lr: Tensor;
  step: Tensor;
  gradNorm: Tensor;
  /** Output tensors keyed by the parameter name. */
  params: Map<string, Tensor>;
  m: Map<string, Tensor>;
  v: Map<string, Tensor>;
  /** Moment inputs keyed by the parameter name. */
  mIn: Map<string, Tensor>;
  vIn: Map<string, Tensor>;
}

export const momentName = (kind: 'm' | 'v', param: string): string => `optimizer.${kind}.${param}`;

/** Global L2 norm of a set of gradients. */
export function globalNorm(grads: readonly Tensor[]): Tensor {
  const sq = grads.map((gr) => F.reduceSum(F.mul(gr, gr)));
  return F.sqrt(sq.reduce((a, b) => F.add(a, b)));
}

export function appendAdamW(g: Graph, targets: readonly AdamWTarget[], cfg: AdamWConfig): AdamWGraphIO {
  const lr = g.input('lr', 'float32', []);
  const step = g.input('step', 'float32', []); // 1-based, after this update
  const { beta1: b1, beta2: b2, eps, weightDecay: wd } = cfg;
  const stepSize = F.div(lr, F.sub(1, F.pow(g.scalar(b1), step)));
  const sqrtBc2 = F.sqrt(F.sub(1, F.pow(g.scalar(b2), step)));
  const decayFactor = F.sub(1, F.mul(lr, wd));

  const gradNorm = globalNorm(targets.map((t) => t.grad));
  let clip: Tensor | undefined;
  if (cfg.maxGradNorm !== undefined) clip = F.minimum(F.div(cfg.maxGradNorm, F.add(gradNorm, 1e-6)), 1);

  const io: AdamWGraphIO = {
    lr,
    step,
    gradNorm,
    params: new Map(),
    m: new Map(),
    v: new Map(),
    mIn: new Map(),
    vIn: new Map(),
  };
  for (const t of targets) {
    const shape = t.param.shape;
    const mIn = g.input(momentName('m', t.name), 'float32', shape);
    const vIn = g.input(momentName('v', t.name), 'float32', shape);
    const grad = clip ? F.mul(t.grad, clip) : t.grad;
    const m = F.add(F.mul(mIn, b1), F.mul(grad, 1 - b1));
    const v = F.add(F.mul(vIn, b2), F.mul(F.mul(grad, grad), 1 - b2));
    const denom = F.add(F.div(F.sqrt(v), sqrtBc2), eps);
    const decayed = t.decay && wd !== 0 ? F.mul(t.param, decayFactor) : t.param;
    const p = F.sub(decayed, F.mul(F.div(m, denom), stepSize));
    io.params.set(t.name, p);
    io.m.set(t.name, m);
    io.v.set(t.name, v);
    io.mIn.set(t.name, mIn);
    io.vIn.set(t.name, vIn);
  }
  return io;
}

/** Linear warm-up from 0 to peak over `warmup` steps, then cosine decay to `minLr` at `total` steps. */
export function cosineWithWarmup(opts: {
  peak: number;
  warmup: number;
  total: number;
  minLr?: number;
}): (step: number) => number {
  const { peak, warmup, total } = opts;
  const minLr = opts.minLr ?? 0;
  return (step: number) => {
    if (warmup > 0 && step < warmup) return (peak * (step + 1)) / warmup;
    const progress = Math.min(1, (step - warmup) / Math.max(1, total - warmup));
    return minLr + 0.5 * (peak - minLr) * (1 + Math.cos(Math.PI * progress));
  };
}
