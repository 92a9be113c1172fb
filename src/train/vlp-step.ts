// S2's step: the training graph (both towers and the frozen knowledge tower from the one factory,
// KEP's loss from src/nn/losses.ts — the function the parity test checks), and the GradCache step
// used when a batch is split into micro-batches (see the comment at the top of ./vlp.ts).
import { gradients } from '../engine/autodiff.ts';
import { Graph } from '../engine/graph.ts';
import * as F from '../engine/ops/index.ts';
import { type CompiledGraph, type Feeds, compile, ort } from '../engine/runtime.ts';
import type { ModelBuild, Trainer } from '../engine/trainer.ts';
import { kepForward } from '../models/factory.ts';
import type { KepSpec } from '../models/spec.ts';
import { kepLossTerms } from '../nn/losses.ts';
import { type BatchPart, rowsOf } from './vlp-data.ts';
import type { VlpConfig } from './vlp-config.ts';

export interface StepReport {
  loss: number;
  terms?: Record<string, number>;
}

/** The S2 graph builder: eval graphs output the embeddings; train graphs the loss (or, with
 * GradCache, the surrogate ⟨embedding, cached gradient⟩). `frozen`: the freeze phase. */
export function vlpBuilder(spec: KepSpec, cfg: VlpConfig, cached: boolean, frozen: boolean) {
  return (g: Graph, mode: 'train' | 'eval'): ModelBuild => {
    const out = kepForward(g, spec, {
      training: mode === 'train',
      dropout: cfg.dropout,
      knowledge: cfg.loss === 'kep',
    });
    const { image, text, knowledge, logitScale: ls } = out;
    if (frozen) g.freeze('image.', 'text.', 'text_head.');
    if (mode === 'eval')
      return { outputs: { image, text, logit_scale: ls, ...(knowledge ? { knowledge } : {}) } };
    if (!cached) {
      const t = kepLossTerms(image, text, knowledge, ls, cfg.knowledgeWeight);
      return { loss: t.loss, outputs: { loss_it: t.it, ...(t.tk ? { loss_tk: t.tk } : {}) } };
    }
    const d = spec.config.embedDim;
    const gImage = g.input('cached_grad_image', 'float32', ['batch', d]);
    const gText = g.input('cached_grad_text', 'float32', ['batch', d]);
    const gScale = g.input('cached_grad_logit_scale', 'float32', []);
    const surrogate = F.add(
      F.add(F.reduceSum(F.mul(image, gImage)), F.reduceSum(F.mul(text, gText))),
      F.mul(ls, gScale),
    );
    return { loss: surrogate };
  };
}

/** The whole-batch loss over cached embeddings, and its gradient with respect to them. */
function lossGraph(kind: 'kep' | 'clip', weight: number, dim: number): Graph {
  const g = new Graph('vlp-loss');
  const image = g.input('image', 'float32', ['batch', dim]);
  const text = g.input('text', 'float32', ['batch', dim]);
  const ls = g.input('logit_scale', 'float32', []);
  const knowledge = kind === 'kep' ? g.input('knowledge', 'float32', ['batch', dim]) : undefined;
  const t = kepLossTerms(image, text, knowledge, ls, weight);
  if (t.tk) g.output('loss_tk', t.tk);
  g.output('loss', t.loss);
  g.output('loss_it', t.it);
  const grads = gradients(g, t.loss, [image, text, ls]);
  g.output('grad_image', grads.get(image.name)!);
  g.output('grad_text', grads.get(text.name)!);
  g.output('grad_logit_scale', grads.get(ls.name)!);
  return g;
}

/** GradCache: embeddings of every micro-batch, the whole-batch loss and its embedding gradients,
 * then one surrogate feed per micro-batch whose parameter gradients sum to the full-batch gradient. */
export class GradCacheStep {
  private session: CompiledGraph | undefined;

  constructor(
    private readonly cfg: VlpConfig,
    private readonly dim: number,
    private readonly runtime: Parameters<typeof compile>[2],
  ) {}

  async feeds(
    trainer: Trainer,
    parts: BatchPart[],
    step: number,
  ): Promise<{ feeds: Feeds[]; report: StepReport }> {
    const d = this.dim;
    const n = parts[parts.length - 1]!.rows[1];
    const wanted = this.cfg.loss === 'kep' ? ['image', 'text', 'knowledge'] : ['image', 'text'];
    const cache: Record<string, Float32Array> = Object.fromEntries(
      wanted.map((k) => [k, new Float32Array(n * d)]),
    );
    // (1) embeddings of every micro-batch with the current weights.
    for (const p of parts) {
      const out = await trainer.run(p.feeds, wanted);
      for (const k of wanted) cache[k]!.set(out[k]!.data as Float32Array, p.rows[0] * d);
    }
    // (2) the loss over the whole batch and its gradient with respect to the embeddings.
    this.session ??= await compile(lossGraph(this.cfg.loss, this.cfg.knowledgeWeight, d), {}, this.runtime);
    const scale = trainer.params.get('logit_scale')![0]!;
    const lf: Feeds = { logit_scale: new ort.Tensor('float32', Float32Array.of(scale), []) };
    for (const k of wanted) lf[k] = new ort.Tensor('float32', cache[k]!, [n, d]);
    const lo = await this.session.run(lf);
    const loss = Number(lo.loss!.data[0]);
    if (!Number.isFinite(loss))
      throw new Error(`loss is ${loss} at step ${step}; stopping (parameters not updated)`);
    const report: StepReport = {
      loss,
      terms: { it: Number(lo.loss_it!.data[0]), ...(lo.loss_tk ? { tk: Number(lo.loss_tk.data[0]) } : {}) },
    };
    // (3) one surrogate pass per micro-batch. The trainer averages micro-batch gradients, so the
    // embedding gradients are scaled up by their count and the scale's gradient is split over them.
    const k = parts.length;
    const gI = lo.grad_image!.data as Float32Array;
    const gT = lo.grad_text!.data as Float32Array;
    const gS = Number(lo.grad_logit_scale!.data[0]);
    const feeds = parts.map((p) => {
      const [a, b] = p.rows;
      return {
        ...p.feeds,
        cached_grad_image: new ort.Tensor(
          'float32',
          rowsOf(gI, d, a, b).map((v) => v * k),
          [b - a, d],
        ),
        cached_grad_text: new ort.Tensor(
          'float32',
          rowsOf(gT, d, a, b).map((v) => v * k),
          [b - a, d],
        ),
        cached_grad_logit_scale: new ort.Tensor('float32', Float32Array.of(gS), []),
      };
    });
    return { feeds, report };
  }

  async release(): Promise<void> {
    await this.session?.release();
  }
}
