// `kep worker --queue URL`: takes slide jobs from the queue that `kep wsi run … --queue URL` fills
// and runs the per-slide pipeline on each (src/pipeline/queue-worker.ts). Runs until stopped:
// SIGTERM or SIGINT finishes the current slides and exits; a second one exits at once, and BullMQ's
// stall check gives the unfinished jobs to another worker. docs/deployment.md.
import { type Command, Option } from 'commander';
import { createModel } from '../embed/model.ts';
import type { ModelSource, VisionLanguageModel } from '../embed/types.ts';
import { startSlideWorker } from '../pipeline/queue-worker.ts';
import { queueConnection } from '../pipeline/slide-queue.ts';
import { positiveInt, threadCount } from './arguments.ts';
import { type ModelOptions, imageNormOption, modelSource, precisionOption } from './vl.ts';

export interface WorkerDeps {
  loadModel: (source: ModelSource) => Promise<VisionLanguageModel>;
  err: (text: string) => void;
}

interface WorkerOptions extends Omit<ModelOptions, 'model'> {
  queue: string;
  concurrency: number;
  model?: string;
  workers?: number;
  stallMs: number;
  lockedRecheckMs: number;
}

export function registerWorkerCommand(program: Command, deps: Partial<WorkerDeps> = {}): void {
  const loadModel = deps.loadModel ?? createModel;
  const err = deps.err ?? ((t: string) => void process.stderr.write(t));
  program
    .command('worker')
    .description(
      'take slide jobs from a queue filled by `kep wsi run … --queue URL` and process them into the OUT folder each job names ' +
        '(a file system every worker shares); runs until SIGTERM/SIGINT',
    )
    .requiredOption('--queue <url>', 'redis://HOST:PORT[/DB]')
    .option('--concurrency <n>', 'slides worked on at once', positiveInt, 1)
    .option('--model <dir|name>', "serve only this model (default: each job's own model)")
    .option('--weights <file>', 'checkpoint of --model')
    .option('--vocab <file>', "vocab.txt of --model's text tower")
    .option('--key-map <name>', 'key map of the checkpoint')
    .addOption(imageNormOption())
    .addOption(precisionOption())
    .option('--threads <n>', 'ONNX Runtime intra-op threads per model', threadCount('--threads', 1))
    .option('--workers <n>', 'patch reader threads (0: main thread)', threadCount('--workers', 0))
    .option(
      '--stall-ms <ms>',
      'a job whose worker has been silent this long is given to another worker (BullMQ lock duration and stall check)',
      positiveInt,
      30_000,
    )
    .addOption(
      new Option('--locked-recheck-ms <ms>', 'wait before looking again at a slide another process holds')
        .argParser(positiveInt)
        .default(30_000)
        .hideHelp(),
    )
    .action(async (o: WorkerOptions) => {
      const connection = queueConnection(o.queue);
      const model = o.model ? modelSource({ ...o, model: o.model }) : undefined;
      const log = (line: string): void => err(`kep worker: ${line}\n`);
      const w = startSlideWorker({
        connection,
        concurrency: o.concurrency,
        ...(model ? { model } : {}),
        ...(o.threads ? { threads: o.threads } : {}),
        ...(o.workers !== undefined ? { workers: o.workers } : {}),
        stallMs: o.stallMs,
        lockedRecheckMs: o.lockedRecheckMs,
        loadModel,
        log,
      });
      log(`waiting for slide jobs on ${o.queue} (concurrency ${o.concurrency}, pid ${process.pid})`);
      await untilStopped(log);
      log('stopping: finishing the current slides (a second signal exits at once)');
      await w.close();
      log('stopped');
    });
}

/** Resolves on the first SIGTERM/SIGINT; a second one exits the process at once. */
function untilStopped(log: (line: string) => void): Promise<void> {
  return new Promise((resolveStop) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        log(
          `${signal} again: exiting now; the unfinished jobs go to another worker after the stall interval`,
        );
        process.exit(130);
      }
      stopping = true;
      resolveStop();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
