// Reverse-mode automatic differentiation over an engine graph: walks the nodes between the
// differentiated values and the loss in reverse and appends their VJP subgraphs to the same graph.
import { type Graph, GraphError, type Tensor } from './graph.ts';
import { isFloat } from './dtype.ts';
import * as F from './ops/index.ts';
import { sameShape } from './graph.ts';
import { vjpRule } from './vjp.ts';

export interface GradientOptions {
  /** Gradient of the output to start from (default: 1 for a scalar loss). Enables GradCache-style seeds. */
  seed?: Tensor;
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
  for (let i = last; i >= 0; i--) {
    const n = g.nodes[i]!;
    const dy = n.outputs.map((o) => (active.has(o) ? total(o) : undefined));
    if (dy.every((d) => d === undefined)) continue;
    const needs = n.inputs.map((v) => v !== '' && active.has(v));
    if (!needs.some(Boolean)) continue;
    const rule = vjpRule(n.op);
    if (!rule) throw new GraphError(`no gradient rule for op ${n.op} (node ${n.name})`);
    const x = n.inputs.map((v) => (v ? g.value(v) : undefined));
    const y = n.outputs.map((o) => g.value(o));
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
