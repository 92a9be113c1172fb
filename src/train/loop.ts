// The training loop shared by every trainer in kep (knowledge encoder, vision–language
// pretraining): learning-rate schedule, gradient accumulation, periodic evaluation, checkpoints
// with resume, progress with rate and ETA, metrics as JSON lines, a summary figure. The data order
// must be a function of the step (`batches(step)`), so a resumed run sees exactly the batches the
// interrupted one would have.
import { log as logger } from '../util/log.ts';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkpointPath, latestCheckpoint, pruneCheckpoints } from '../engine/checkpoint.ts';
import { cosineWithWarmup } from '../engine/optim.ts';
import type { Feeds } from '../engine/runtime.ts';
import type { StepResult, Trainer } from '../engine/trainer.ts';
import { lineChart, page } from '../report/html.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { createProgress, formatDuration } from '../util/progress.ts';

export interface LoopConfig {
  /** Optimiser steps in the whole run (the schedule's length). */
  steps: number;
  /** Stop early after this much wall time, with a checkpoint and a final evaluation. */
  minutes?: number;
  lr: number;
  warmup: number;
  minLr?: number;
  evalEvery: number;
  checkpointEvery: number;
  keepCheckpoints: number;
  /** A plain log line every N steps (the progress bar only draws on a terminal). */
  logEvery: number;
}

/** A run's schedule from its settings, as every kep trainer sets it: the last two checkpoints kept,
 * a log line every 10 steps, and the wall-time limit when one was given. */
export function loopConfig(
  cfg: Pick<LoopConfig, 'steps' | 'lr' | 'warmup' | 'evalEvery' | 'checkpointEvery'> & { minLr?: number },
  minutes: number | undefined,
): LoopConfig {
  return {
    steps: cfg.steps,
    lr: cfg.lr,
    ...(cfg.minLr !== undefined ? { minLr: cfg.minLr } : {}),
    warmup: cfg.warmup,
    evalEvery: cfg.evalEvery,
    checkpointEvery: cfg.checkpointEvery,
    keepCheckpoints: 2,
    logEvery: 10,
    ...(minutes !== undefined ? { minutes } : {}),
  };
}

export interface LoopHooks {
  /** The micro-batches of optimiser step `step` (0-based); one element = no accumulation. */
  batches(step: number): Feeds[] | Promise<Feeds[]>;
  /** Items (texts, images) per step, for the throughput figure. */
  itemsPerStep: number;
  /** Metrics of the current parameters; `higher` names the metric plotted beside the loss. */
  evaluate?(step: number): Promise<Record<string, number>>;
  /** Extra JSON stored in every checkpoint (configs, vocabulary path…). */
  meta?: Record<string, unknown>;
  /** Called after each step, e.g. to clamp a parameter. */
  afterStep?(result: StepResult): void;
  /**
   * Before step `step`: a trainer to continue with instead of the current one (a freeze schedule
   * changes which parameters train), or undefined to keep it.
   */
  trainerFor?(step: number, current: Trainer): Promise<Trainer | undefined>;
  /** The loss to report for the step just taken, when the trainer's own is a surrogate (GradCache),
   * and further per-step figures (loss terms) for the metrics line. */
  stepReport?(): { loss: number; terms?: Record<string, number> };
}

export interface MetricsLine {
  step: number;
  loss?: number;
  /** Terms of the loss, where a trainer reports them (e.g. KEP's image–text and text–knowledge). */
  terms?: Record<string, number>;
  lr?: number;
  gradNorm?: number;
  itemsPerSecond?: number;
  elapsedSeconds?: number;
  eval?: Record<string, number>;
}

export interface LoopSummary {
  firstStep: number;
  lastStep: number;
  resumedFrom?: string;
  stoppedBy: 'steps' | 'minutes' | 'signal';
  seconds: number;
  finalEval?: Record<string, number>;
  checkpoint: string;
}

const log = (s: string): void => logger.info(s);

/** The metrics file up to and including `step`: a resumed run rewrites what came after its checkpoint. */
function metricsUpTo(path: string, step: number): string {
  if (!existsSync(path)) return '';
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() && (JSON.parse(l) as MetricsLine).step <= step)
    .map((l) => `${l}\n`)
    .join('');
}

export function readMetrics(path: string): MetricsLine[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as MetricsLine);
}

export async function runTraining(
  trainer: Trainer,
  cfg: LoopConfig,
  hooks: LoopHooks,
  outDir: string,
): Promise<LoopSummary> {
  const ckptDir = join(outDir, 'checkpoints');
  const metricsPath = join(outDir, 'metrics.jsonl');
  mkdirSync(ckptDir, { recursive: true });

  let resumedFrom: string | undefined;
  const found = latestCheckpoint(ckptDir, {
    onSkip: (p, e) => log(`skipping incomplete checkpoint ${p}: ${e.message}`),
  });
  if (found) {
    trainer.loadCheckpoint(found.path);
    resumedFrom = found.path;
    log(`resuming from ${found.path} (step ${trainer.step})`);
  }
  writeFileAtomic(metricsPath, metricsUpTo(metricsPath, trainer.step));
  const append = (line: MetricsLine): void => appendFileSync(metricsPath, `${JSON.stringify(line)}\n`);

  const schedule = cosineWithWarmup({
    peak: cfg.lr,
    warmup: cfg.warmup,
    total: cfg.steps,
    ...(cfg.minLr !== undefined ? { minLr: cfg.minLr } : {}),
  });
  const firstStep = trainer.step;
  const started = performance.now();
  const deadline = cfg.minutes !== undefined ? started + cfg.minutes * 60_000 : Infinity;
  let stoppedBy: LoopSummary['stoppedBy'] = 'steps';
  let interrupted = false;
  const onSignal = (): void => {
    interrupted = true;
    log('interrupt: finishing this step, then saving a checkpoint (interrupt again to abort)');
    process.off('SIGINT', onSignal);
  };
  process.on('SIGINT', onSignal);

  const save = (): string => {
    const path = checkpointPath(ckptDir, trainer.step);
    trainer.saveCheckpoint(path, { ...hooks.meta, step: trainer.step });
    pruneCheckpoints(ckptDir, cfg.keepCheckpoints);
    return path;
  };
  const evaluate = async (): Promise<Record<string, number> | undefined> => {
    if (!hooks.evaluate) return undefined;
    const metrics = await hooks.evaluate(trainer.step);
    append({ step: trainer.step, eval: metrics });
    log(
      `step ${trainer.step}: ${Object.entries(metrics)
        .map(([k, v]) => `${k} ${v.toFixed(4)}`)
        .join(', ')}`,
    );
    return metrics;
  };

  const progress = createProgress({ label: 'training', total: cfg.steps });
  progress.update(trainer.step);
  let lastEval: Record<string, number> | undefined;
  let windowStart = performance.now();
  let windowSteps = 0;
  try {
    while (trainer.step < cfg.steps) {
      if (performance.now() > deadline) {
        stoppedBy = 'minutes';
        break;
      }
      if (interrupted) {
        stoppedBy = 'signal';
        break;
      }
      const step = trainer.step;
      const next = await hooks.trainerFor?.(step, trainer);
      if (next) trainer = next;
      const lr = schedule(step);
      const t0 = performance.now();
      const result = await trainer.trainStep(await hooks.batches(step), lr);
      hooks.afterStep?.(result);
      const report = hooks.stepReport?.();
      if (report) result.loss = report.loss;
      const seconds = (performance.now() - t0) / 1000;
      windowSteps++;
      append({
        step: trainer.step,
        loss: result.loss,
        ...(report?.terms ? { terms: report.terms } : {}),
        lr,
        gradNorm: result.gradNorm,
        itemsPerSecond: hooks.itemsPerStep / seconds,
        elapsedSeconds: (performance.now() - started) / 1000,
      });
      progress.update(trainer.step);
      if (trainer.step % cfg.logEvery === 0) {
        const rate = windowSteps / ((performance.now() - windowStart) / 1000);
        const eta = (cfg.steps - trainer.step) / rate;
        log(
          `step ${trainer.step}/${cfg.steps} loss ${result.loss.toFixed(4)} lr ${lr.toExponential(2)} ` +
            `${(rate * hooks.itemsPerStep).toFixed(1)} items/s, ETA ${formatDuration(eta)}`,
        );
        windowStart = performance.now();
        windowSteps = 0;
      }
      if (trainer.step % cfg.evalEvery === 0) lastEval = await evaluate();
      if (trainer.step % cfg.checkpointEvery === 0) save();
    }
  } finally {
    progress.stop();
    process.off('SIGINT', onSignal);
  }
  const checkpoint = save();
  if (hooks.evaluate && (lastEval === undefined || trainer.step % cfg.evalEvery !== 0))
    lastEval = await evaluate();
  writeSummaryFigure(outDir, readMetrics(metricsPath));
  const summary: LoopSummary = {
    firstStep,
    lastStep: trainer.step,
    ...(resumedFrom ? { resumedFrom } : {}),
    stoppedBy,
    seconds: (performance.now() - started) / 1000,
    ...(lastEval ? { finalEval: lastEval } : {}),
    checkpoint,
  };
  writeFileAtomic(join(outDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  return summary;
}

/** Loss (and the first evaluation metric) over steps, as SVG and a small HTML page. */
export function writeSummaryFigure(outDir: string, lines: readonly MetricsLine[]): void {
  const losses = lines.filter((l) => l.loss !== undefined).map((l) => [l.step, l.loss!] as [number, number]);
  const evals = lines.filter((l) => l.eval);
  const charts = [
    lineChart([{ label: 'training loss', points: losses, color: '#1f77b4' }], {
      title: 'Training loss',
      xLabel: 'step',
      yLabel: 'loss',
    }),
  ];
  const firstMetric = evals[0] ? Object.keys(evals[0].eval!)[0] : undefined;
  if (firstMetric)
    charts.push(
      lineChart(
        [
          {
            label: firstMetric,
            points: evals.map((l) => [l.step, l.eval![firstMetric]!] as [number, number]),
            color: '#d62728',
          },
        ],
        {
          title: `Evaluation: ${firstMetric}`,
          xLabel: 'step',
          yLabel: firstMetric,
        },
      ),
    );
  writeFileAtomic(join(outDir, 'summary.svg'), charts[0]!);
  writeFileAtomic(join(outDir, 'summary.html'), page('training summary', charts.join('\n')));
}
