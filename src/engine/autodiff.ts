// Reverse-mode automatic differentiation over an engine graph: walks the nodes between the
// differentiated values and the loss in reverse and appends their VJP subgraphs to the same graph.
import { type Graph, GraphError, type GraphNode, type Tensor } from './graph.ts';
import { isFloat } from './dtype.ts';
import * as F from './ops/index.ts';
import { sameShape } from './graph.ts';
import { vjpRule } from './vjp.ts';

export interface GradientOptions {
  /** Gradient of the output to start from (default: 1 for a scalar loss). Enables GradCache-style seeds. */
  seed?: Tensor;
  /**
   * Activation checkpointing: forward nodes with the same key (consecutive in the graph) form a
   * segment whose inner activations the backward pass does not read; it recomputes them from the
   * segment's inputs just before the segment's gradients, so only segment boundaries stay alive
   * between the forward and the backward pass. `transformerBlockOf` makes one segment per block.
   */
  recompute?: (node: GraphNode) => string | undefined;
}

/** The innermost numbered transformer block a node was built in ("image.blocks.3", "text.encoder.layer.5"). */
export function transformerBlockOf(node: GraphNode): string | undefined {
  return /^(.*(?:^|\.)(?:blocks|layer|layers)\.\d+)\./.exec(node.name)?.[1];
}

/**
 * d(output)/d(w) for each w in wrt. Values with no path to the output get no entry, so the caller
 * can tell "zero gradient" from "not connected".
 */
export function gradients(
  g: Graph,
  output: Tensor,
  wrt: readonly Tensor[],
  opts: GradientOptions = {},
): Map<string, Tensor> {
  if (!opts.seed && output.rank !== 0)
    throw new GraphError(
      `gradients: ${output.name} has shape [${output.shape.join(', ')}]; give a seed or reduce to a scalar`,
    );
  if (opts.seed && !sameShape(opts.seed.shape, output.shape))
    throw new GraphError(`gradients: seed shape [${opts.seed.shape}] differs from output [${output.shape}]`);

  // Values that depend on some w (forward pass), skipping stop-gradient and integer values.
  const active = new Set<string>(wrt.map((w) => w.name));
  const nodeCount = g.nodes.length;
  const outputIndex = g.nodes.findIndex((n) => n.outputs.includes(output.name));
  const last = outputIndex < 0 ? nodeCount - 1 : outputIndex;
  for (let i = 0; i <= last; i++) {
    const n = g.nodes[i]!;
    if (!n.inputs.some((v) => v && active.has(v))) continue;
    for (const o of n.outputs) if (!g.noGrad.has(o) && isFloat(g.value(o).dtype)) active.add(o);
  }

  const contributions = new Map<string, Tensor[]>();
  const push = (name: string, t: Tensor): void => {
    const list = contributions.get(name);
    if (list) list.push(t);
    else contributions.set(name, [t]);
  };
  const total = (name: string): Tensor | undefined => {
    const list = contributions.get(name);
    if (!list || list.length === 0) return undefined;
    const sum = list.reduce((acc, t) => F.add(acc, t));
    contributions.set(name, [sum]);
    return sum;
  };

  push(output.name, opts.seed ?? g.scalar(1));
  const segments = opts.recompute ? segmentRuns(g, last, opts.recompute) : new Map<number, number>();
  // Forward values as the backward pass reads them: recomputed copies inside checkpointed segments.
  const recomputed = new Map<string, Tensor>();
  const val = (name: string): Tensor => recomputed.get(name) ?? g.value(name);
  for (let i = last; i >= 0; i--) {
    const n = g.nodes[i]!;
    const start = segments.get(i);
    if (start !== undefined) {
      const gate = gateFrom(g, i, start, active, total);
      if (gate) recompute(g, start, i, gate, recomputed);
    }
    const dy = n.outputs.map((o) => (active.has(o) ? total(o) : undefined));
    if (dy.every((d) => d === undefined)) continue;
    const needs = n.inputs.map((v) => v !== '' && active.has(v));
    if (!needs.some(Boolean)) continue;
    const rule = vjpRule(n.op);
    if (!rule) throw new GraphError(`no gradient rule for op ${n.op} (node ${n.name})`);
    const x = n.inputs.map((v) => (v ? val(v) : undefined));
    const y = n.outputs.map((o) => val(o));
    const dx = g.scope(`grad`, () => rule({ g, node: n, x, y, dy, needs }));
    n.inputs.forEach((v, k) => {
      const d = dx[k];
      if (!needs[k] || !d) return;
      const target = x[k]!;
      if (!sameShape(d.shape, target.shape))
        throw new GraphError(
          `gradient of ${n.op} (node ${n.name}) for input ${v} has shape [${d.shape}], expected [${target.shape}]`,
        );
      push(v, d);
    });
  }

  const result = new Map<string, Tensor>();
  for (const w of wrt) {
    const d = total(w.name);
    if (d) result.set(w.name, d);
  }
  return result;
}

/** Checkpointed segments as a map from each segment's last node index to its first. */
function segmentRuns(g: Graph, last: number, key: (n: GraphNode) => string | undefined): Map<number, number> {
  const runs = new Map<number, number>();
  let start = 0;
  let current: string | undefined;
  for (let i = 0; i <= last + 1; i++) {
    const k = i <= last ? key(g.nodes[i]!) : undefined;
    if (i > 0 && k !== current && current !== undefined) runs.set(i - 1, start);
    if (k !== current) [start, current] = [i, k];
  }
  return runs;
}

/**
 * A scalar 0 that depends on a gradient arriving at the segment's outputs. Adding it to the
 * segment's inputs makes the recomputation wait for the backward pass (ONNX has no control
 * dependencies; without it ONNX Runtime may run the copy right after the original and keep both).
 */
function gateFrom(
  g: Graph,
  end: number,
  start: number,
  active: Set<string>,
  total: (name: string) => Tensor | undefined,
): Tensor | undefined {
  for (let i = end; i >= start; i--)
    for (const o of g.nodes[i]!.outputs) {
      const d = active.has(o) ? total(o) : undefined;
      if (!d) continue;
      const first =
        d.rank === 0
          ? d
          : F.reshape(
              F.slice(
                d,
                d.shape.map((_, axis) => ({ axis, start: 0, end: 1 })),
              ),
              [],
            );
      return F.mul(first, 0);
    }
  return undefined;
}

const RANDOM_OPS = new Set([
  'Dropout',
  'RandomNormal',
  'RandomNormalLike',
  'RandomUniform',
  'RandomUniformLike',
  'Bernoulli',
  'Multinomial',
]);

/** Re-emits the active forward nodes start..end reading gated inputs, recording the copies. */
function recompute(
  g: Graph,
  start: number,
  end: number,
  gate: Tensor,
  recomputed: Map<string, Tensor>,
): void {
  const inside = new Map<string, Tensor>();
  const gated = new Map<string, Tensor>();
  const produced = new Set(g.nodes.slice(start, end + 1).flatMap((n) => n.outputs));
  // Float values from before the segment other than weights: the checkpoint, read through the gate.
  const external = (v: string): boolean =>
    !produced.has(v) && !g.params.has(v) && !g.constants.has(v) && isFloat(g.value(v).dtype);
  const input = (v: string): Tensor | undefined => {
    if (!v) return undefined;
    const copy = inside.get(v);
    if (copy) return copy;
    if (external(v)) {
      let t = gated.get(v);
      if (!t) gated.set(v, (t = F.add(g.value(v), gate)));
      return t;
    }
    return g.value(v);
  };
  g.scope('recompute', () => {
    for (let i = start; i <= end; i++) {
      const n = g.nodes[i]!;
      // Random ops would draw again: their outputs are kept instead.
      if (RANDOM_OPS.has(n.op)) continue;
      // Nodes that read no activation (weight transposes, shape plumbing) are shared, not copied.
      const reads = n.inputs.some((v) => v && (inside.has(v) || external(v)));
      if (!reads) continue;
      const outs = g.node(
        n.op,
        n.inputs.map(input),
        n.attrs,
        n.outputs.map((o) => g.value(o)),
        { domain: n.domain, noGrad: n.outputs.some((o) => g.noGrad.has(o)) },
      );
      n.outputs.forEach((o, k) => {
        inside.set(o, outs[k]!);
        recomputed.set(o, outs[k]!);
      });
    }
  });
}
