// Training on ONNX Runtime. The whole optimiser step — forward, loss, backward, AdamW — is one
// graph and one session run. Parameters and moments live in Float32Arrays owned here, in two
// sets: a run reads one set and writes the other into pre-allocated outputs, then they swap, so a
// step allocates nothing. With gradient accumulation, an accumulate graph adds each micro-batch's
// gradients into buffers and an apply graph updates once.
import { gradients, transformerBlockOf } from './autodiff.ts';
import { type CheckpointState, loadCheckpoint, saveCheckpoint } from './checkpoint.ts';
import { Graph, type ParamSpec, type Tensor } from './graph.ts';
import { Rng, initialize } from './init.ts';
import * as F from './ops/index.ts';
import { serializeGraph } from './onnx.ts';
import { type AdamWConfig, appendAdamW, defaultAdamW } from './optim.ts';
import { type CompiledGraph, type Feeds, type RuntimeOptions, compile, ort } from './runtime.ts';
import { writeFileAtomic } from '../util/atomic.ts';

export type Mode = 'train' | 'eval';

export interface ModelBuild {
  /** Scalar loss; required in train mode. */
  loss?: Tensor;
  /** Named outputs (logits, embeddings, metrics…). */
  outputs?: Record<string, Tensor>;
}

/** Builds the model into g. Called once per graph the trainer needs; must add the same parameters each time. */
export type ModelBuilder = (g: Graph, mode: Mode) => ModelBuild;

export interface TrainerOptions {
  optimizer?: Partial<AdamWConfig>;
  runtime?: RuntimeOptions;
  /** Seed of the parameter initialisers. */
  seed?: number;
  /** Starting values that override the initialisers (e.g. pretrained weights); shapes must match. */
  initial?: ReadonlyMap<string, Float32Array>;
  /**
   * 'blocks': activation checkpointing per transformer block (autodiff.ts): the backward pass
   * recomputes each block's activations instead of keeping them, about one more forward pass of
   * compute for memory that no longer grows with depth × activations. Also turns ONNX Runtime's
   * memory arena off unless `runtime.memoryArena` says otherwise.
   */
  recompute?: 'none' | 'blocks';
}

export interface StepResult {
  loss: number;
  gradNorm: number;
  step: number;
  outputs: Record<string, ort.Tensor>;
}

class BufferPair {
  readonly a: ort.Tensor;
  readonly b: ort.Tensor;
  private flipped = false;
  constructor(shape: readonly number[], initial: Float32Array) {
    this.a = new ort.Tensor('float32', initial, shape);
    this.b = new ort.Tensor('float32', new Float32Array(initial.length), shape);
  }
  get current(): ort.Tensor {
    return this.flipped ? this.b : this.a;
  }
  get next(): ort.Tensor {
    return this.flipped ? this.a : this.b;
  }
  swap(): void {
    this.flipped = !this.flipped;
  }
  get data(): Float32Array {
    return this.current.data as Float32Array;
  }
}

export class Trainer {
  readonly specs: readonly ParamSpec[];
  readonly optimizer: AdamWConfig;
  /** Trainable parameters that do not affect the loss (skipped by the optimiser, as PyTorch skips grad=None). */
  readonly unused: readonly string[];
  step = 0;
  private readonly values = new Map<string, BufferPair>();
  private readonly m = new Map<string, BufferPair>();
  private readonly v = new Map<string, BufferPair>();
  private readonly acc = new Map<string, BufferPair>();
  private fused?: CompiledGraph;
  private accumulate?: CompiledGraph;
  private apply?: CompiledGraph;
  private readonly evaluate = new Map<string, CompiledGraph>();
  private readonly extraOutputs: string[];

  private constructor(
    readonly builder: ModelBuilder,
    private readonly runtime: RuntimeOptions,
    specs: ParamSpec[],
    optimizer: AdamWConfig,
    unused: string[],
    extraOutputs: string[],
    private readonly recompute: 'none' | 'blocks' = 'none',
  ) {
    this.specs = specs;
    this.optimizer = optimizer;
    this.unused = unused;
    this.extraOutputs = extraOutputs;
  }

  static async create(builder: ModelBuilder, opts: TrainerOptions = {}): Promise<Trainer> {
    const optimizer = { ...defaultAdamW, ...opts.optimizer };
    const probe = new Graph('probe');
    const built = builder(probe, 'train');
    if (!built.loss) throw new Error('the model builder returned no loss in train mode');
    const specs = [...probe.params.values()];
    const connected = gradients(
      probe,
      built.loss,
      probe.trainableParams().map((p) => probe.value(p.name)),
    );
    const unused = probe
      .trainableParams()
      .map((p) => p.name)
      .filter((n) => !connected.has(n));
    // Recomputation is for memory; so is malloc instead of the arena (runtime.ts).
    const runtime = { ...(opts.recompute === 'blocks' ? { memoryArena: false } : {}), ...opts.runtime };
    const trainer = new Trainer(
      builder,
      runtime,
      specs,
      optimizer,
      unused,
      Object.keys(built.outputs ?? {}),
      opts.recompute ?? 'none',
    );
    const seed = opts.seed ?? 0;
    for (const p of specs) {
      const size = p.shape.reduce((a, b) => a * b, 1);
      const given = opts.initial?.get(p.name);
      if (given && given.length !== size)
        throw new Error(
          `initial value for ${p.name} has ${given.length} elements, expected ${size} [${p.shape}]`,
        );
      const data = given ? Float32Array.from(given) : initialize(p.init, size, new Rng(seed, p.name));
      trainer.values.set(p.name, new BufferPair(p.shape, data));
      if (trainer.isUpdated(p)) {
        trainer.m.set(p.name, new BufferPair(p.shape, new Float32Array(size)));
        trainer.v.set(p.name, new BufferPair(p.shape, new Float32Array(size)));
      }
    }
    return trainer;
  }

  private isUpdated(p: ParamSpec): boolean {
    return p.trainable && !this.unused.includes(p.name);
  }

  get updated(): ParamSpec[] {
    return this.specs.filter((p) => this.isUpdated(p));
  }

  /** Current parameter values (live views; copy before keeping them across steps). */
  get params(): Map<string, Float32Array> {
    return new Map([...this.values].map(([k, b]) => [k, b.data]));
  }

  private buildTrainGraph(kind: 'fused' | 'accumulate' | 'apply'): Graph {
    const g = new Graph(`train-${kind}`);
    if (kind === 'apply') {
      // Accumulated gradients come in as inputs, scaled by 1/micro-batches.
      const scale = g.input('grad_scale', 'float32', []);
      const targets = this.updated.map((p) => {
        const param = g.param(p.name, p.shape, p.init, { trainable: p.trainable, decay: p.decay });
        return {
          name: p.name,
          param,
          grad: F.mul(g.input(`grad.${p.name}`, 'float32', p.shape), scale),
          decay: p.decay,
        };
      });
      this.addUpdateOutputs(g, appendAdamW(g, targets, this.optimizer));
      return g;
    }
    const built = this.builder(g, 'train');
    if (!built.loss) throw new Error('the model builder returned no loss in train mode');
    if (built.loss.rank !== 0) throw new Error(`the loss must be a scalar, got [${built.loss.shape}]`);
    g.output('loss', built.loss);
    for (const [k, t] of Object.entries(built.outputs ?? {})) g.output(k, t);
    const updated = this.updated;
    const grads = gradients(
      g,
      built.loss,
      updated.map((p) => g.value(p.name)),
      this.recompute === 'blocks' ? { recompute: transformerBlockOf } : {},
    );
    if (kind === 'accumulate') {
      for (const p of updated) {
        const accIn = g.input(`acc.${p.name}`, 'float32', p.shape);
        g.output(`new.acc.${p.name}`, F.add(accIn, grads.get(p.name)!));
      }
      return g;
    }
    const targets = updated.map((p) => ({
      name: p.name,
      param: g.value(p.name),
      grad: grads.get(p.name)!,
      decay: p.decay,
    }));
    this.addUpdateOutputs(g, appendAdamW(g, targets, this.optimizer));
    return g;
  }

  private addUpdateOutputs(g: Graph, io: ReturnType<typeof appendAdamW>): void {
    if (!g.outputs.has('grad_norm')) g.output('grad_norm', io.gradNorm);
    for (const [name, t] of io.params) g.output(`new.${name}`, t);
    for (const [name, t] of io.m) g.output(`new.m.${name}`, t);
    for (const [name, t] of io.v) g.output(`new.v.${name}`, t);
  }

  private paramFeeds(feeds: Feeds, session: CompiledGraph): void {
    for (const name of session.inputNames) {
      const pair = this.values.get(name);
      if (pair) feeds[name] = pair.current;
      else if (name.startsWith('optimizer.m.')) feeds[name] = this.m.get(name.slice(12))!.current;
      else if (name.startsWith('optimizer.v.')) feeds[name] = this.v.get(name.slice(12))!.current;
    }
  }

  private updateFetches(): Record<string, ort.Tensor | null> {
    const fetches: Record<string, ort.Tensor | null> = { loss: null, grad_norm: null };
    for (const p of this.updated) {
      fetches[`new.${p.name}`] = this.values.get(p.name)!.next;
      fetches[`new.m.${p.name}`] = this.m.get(p.name)!.next;
      fetches[`new.v.${p.name}`] = this.v.get(p.name)!.next;
    }
    return fetches;
  }

  private swapUpdated(): void {
    for (const p of this.updated) {
      this.values.get(p.name)!.swap();
      this.m.get(p.name)!.swap();
      this.v.get(p.name)!.swap();
    }
  }

  private scalars(lr: number): Feeds {
    return {
      lr: new ort.Tensor('float32', Float32Array.of(lr), []),
      step: new ort.Tensor('float32', Float32Array.of(this.step + 1), []),
    };
  }

  /**
   * One optimiser step. With several micro-batches their gradients are averaged before the
   * update (each micro-batch's loss is a mean, so the result equals one large batch for losses
   * that decompose over samples; contrastive losses see each micro-batch's negatives only).
   */
  async trainStep(batch: Feeds | readonly Feeds[], lr: number): Promise<StepResult> {
    const micro = Array.isArray(batch) ? (batch as Feeds[]) : [batch as Feeds];
    if (micro.length === 0) throw new Error('trainStep needs at least one micro-batch');
    if (micro.length === 1) return this.fusedStep(micro[0]!, lr);
    return this.accumulatedStep(micro, lr);
  }

  private async fusedStep(batch: Feeds, lr: number): Promise<StepResult> {
    this.fused ??= await compile(this.buildTrainGraph('fused'), {}, this.runtime);
    const feeds: Feeds = { ...batch, ...this.scalars(lr) };
    this.paramFeeds(feeds, this.fused);
    const fetches = this.updateFetches();
    for (const k of this.extraOutputs) fetches[k] = null;
    const out = (await this.fused.session.run(feeds, fetches)) as Record<string, ort.Tensor>;
    const result = this.result(out); // throws on a non-finite loss, before the update is taken
    this.swapUpdated();
    result.step = ++this.step;
    return result;
  }

  private async accumulatedStep(micro: readonly Feeds[], lr: number): Promise<StepResult> {
    this.accumulate ??= await compile(this.buildTrainGraph('accumulate'), {}, this.runtime);
    this.apply ??= await compile(this.buildTrainGraph('apply'), {}, this.runtime);
    for (const p of this.updated) {
      let pair = this.acc.get(p.name);
      if (!pair) {
        pair = new BufferPair(p.shape, new Float32Array(p.shape.reduce((a, b) => a * b, 1)));
        this.acc.set(p.name, pair);
      }
      pair.data.fill(0);
    }
    let lossSum = 0;
    let last: Record<string, ort.Tensor> = {};
    for (const batch of micro) {
      const feeds: Feeds = { ...batch };
      this.paramFeeds(feeds, this.accumulate);
      const fetches: Record<string, ort.Tensor | null> = { loss: null };
      for (const k of this.extraOutputs) fetches[k] = null;
      for (const p of this.updated) {
        const pair = this.acc.get(p.name)!;
        feeds[`acc.${p.name}`] = pair.current;
        fetches[`new.acc.${p.name}`] = pair.next;
      }
      last = (await this.accumulate.session.run(feeds, fetches)) as Record<string, ort.Tensor>;
      for (const p of this.updated) this.acc.get(p.name)!.swap();
      lossSum += this.result(last).loss;
    }
    const feeds: Feeds = {
      ...this.scalars(lr),
      grad_scale: new ort.Tensor('float32', Float32Array.of(1 / micro.length), []),
    };
    this.paramFeeds(feeds, this.apply);
    for (const p of this.updated) feeds[`grad.${p.name}`] = this.acc.get(p.name)!.current;
    const out = (await this.apply.session.run(feeds, this.updateFetches())) as Record<string, ort.Tensor>;
    this.swapUpdated();
    this.step++;
    const outputs = Object.fromEntries(this.extraOutputs.map((k) => [k, last[k]!]));
    return {
      loss: lossSum / micro.length,
      gradNorm: Number(out.grad_norm!.data[0]),
      step: this.step,
      outputs,
    };
  }

  private result(out: Record<string, ort.Tensor>): StepResult {
    const loss = Number(out.loss!.data[0]);
    if (!Number.isFinite(loss))
      throw new Error(`loss is ${loss} at step ${this.step}; stopping (parameters not updated)`);
    const outputs = Object.fromEntries(this.extraOutputs.map((k) => [k, out[k]!]));
    return { loss, gradNorm: Number(out.grad_norm?.data[0] ?? Number.NaN), step: this.step, outputs };
  }

  /** Forward pass in eval mode with the current parameters. */
  /** Forward pass in eval mode with the current parameters; only the inputs the outputs need are required. */
  async run(batch: Feeds, outputs?: readonly string[]): Promise<Record<string, ort.Tensor>> {
    const key = outputs?.join('\u0000') ?? '';
    let session = this.evaluate.get(key);
    if (!session) {
      const g = new Graph('eval');
      const built = this.builder(g, 'eval');
      if (built.loss) g.output('loss', built.loss);
      for (const [k, t] of Object.entries(built.outputs ?? {})) g.output(k, t);
      session = await compile(g, outputs ? { outputs } : {}, this.runtime);
      this.evaluate.set(key, session);
    }
    const feeds: Feeds = { ...batch };
    this.paramFeeds(feeds, session);
    return session.run(feeds);
  }

  /** A portable ONNX file of the eval graph with the current weights as initializers. */
  exportOnnx(path: string, outputs?: readonly string[]): void {
    const g = new Graph('kep');
    const built = this.builder(g, 'eval');
    for (const [k, t] of Object.entries(built.outputs ?? {})) g.output(k, t);
    const { bytes } = serializeGraph(g, { paramData: this.params, ...(outputs ? { outputs } : {}) });
    writeFileAtomic(path, bytes);
  }

  checkpointState(meta: Record<string, unknown> = {}): CheckpointState {
    const params = new Map(
      this.specs.map((p) => [p.name, { shape: p.shape, data: this.values.get(p.name)!.data }]),
    );
    const m = new Map([...this.m].map(([k, b]) => [k, b.data]));
    const v = new Map([...this.v].map(([k, b]) => [k, b.data]));
    return { params, optimizer: { step: this.step, m, v }, meta };
  }

  saveCheckpoint(path: string, meta: Record<string, unknown> = {}): void {
    saveCheckpoint(path, this.checkpointState(meta));
  }

  /** Restore parameters (and optimiser state when present); returns the checkpoint's meta. */
  loadCheckpoint(path: string): Record<string, unknown> {
    const state = loadCheckpoint(path);
    for (const p of this.specs) {
      const saved = state.params.get(p.name);
      if (!saved) throw new Error(`${path}: no tensor for parameter ${p.name}`);
      if (saved.shape.join(',') !== p.shape.join(','))
        throw new Error(`${path}: ${p.name} has shape [${saved.shape}], the model expects [${p.shape}]`);
      this.values.get(p.name)!.data.set(saved.data);
    }
    if (state.optimizer) {
      this.step = state.optimizer.step;
      for (const [name, pair] of this.m) {
        const mm = state.optimizer.m.get(name);
        const vv = state.optimizer.v.get(name);
        if (!mm || !vv) throw new Error(`${path}: no optimiser moments for ${name}`);
        pair.data.set(mm);
        this.v.get(name)!.data.set(vv);
      }
    }
    return state.meta ?? {};
  }

  /**
   * Parameters, step and optimiser moments from another trainer's state, when which parameters
   * train changes (a freeze schedule): moments of parameters the state did not train start at zero.
   */
  adopt(state: CheckpointState): void {
    for (const p of this.specs) {
      const saved = state.params.get(p.name);
      if (!saved) throw new Error(`adopt: no tensor for parameter ${p.name}`);
      this.values.get(p.name)!.data.set(saved.data);
    }
    this.step = state.optimizer?.step ?? this.step;
    for (const [name, pair] of this.m) {
      const mm = state.optimizer?.m.get(name);
      const vv = state.optimizer?.v.get(name);
      pair.data.set(mm ?? new Float32Array(pair.data.length));
      this.v.get(name)!.data.set(vv ?? new Float32Array(pair.data.length));
    }
  }

  async release(): Promise<void> {
    for (const s of [this.fused, this.accumulate, this.apply, ...this.evaluate.values()]) await s?.release();
    this.evaluate.clear();
  }
}
