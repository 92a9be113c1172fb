// The `kep` command line. Each capability registers its own subcommands from a module
// beside this one, so this file only wires them together.
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { registerDemoCommand } from './demo.ts';
import { registerKnowledgeCommands } from './knowledge.ts';
import { registerModelCommands } from './models.ts';
import { registerServeCommand } from './serve.ts';
import { registerTrainCommands } from './train.ts';
import { registerTrainTextCommand } from './train-text.ts';
import { registerVlpTrainCommand } from './train-vlp.ts';
import { registerVisionLanguageCommands } from './vl.ts';
import { registerWsiCommands } from './wsi.ts';
import { registerWsiRunCommand } from './wsi-run.ts';
import { registerWsiQueueCommands } from './wsi-queue.ts';
import { registerWorkerCommand } from './worker.ts';
import { DEVICES, applyRuntimeDefaults } from '../engine/settings.ts';
import { describeError } from '../util/fs-errors.ts';
import { configureLog } from '../util/log.ts';
import { EXIT_FAILED, takeExitStatus } from './outcome.ts';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/** The options every command takes: one logger, one runtime settings object for all sessions. */
function applyGlobalOptions(o: { device?: string; quiet?: boolean; logJson?: boolean }): void {
  const device = DEVICES.find((d) => d === o.device);
  if (o.device !== undefined && !device)
    throw new Error(`--device ${o.device}: expected one of ${DEVICES.join(', ')}`);
  applyRuntimeDefaults(device ? { device } : {});
  configureLog({ level: o.quiet ? 'warn' : 'info', json: Boolean(o.logJson) });
}

export function buildProgram(): Command {
  const program = new Command('kep')
    .description('Knowledge-enhanced vision–language pathology on ONNX Runtime')
    .version(pkg.version)
    .showHelpAfterError()
    .option('--device <cpu|cuda>', 'ONNX Runtime execution provider for every model session (default cpu)')
    .option('--quiet', 'only warnings and errors on stderr', false)
    .option('--log-json', 'log lines as JSON objects (time, level, message) on stderr', false)
    .hook('preAction', (root) => applyGlobalOptions(root.opts()));
  registerKnowledgeCommands(program);
  registerDemoCommand(program);
  registerModelCommands(program);
  registerTrainCommands(program);
  registerTrainTextCommand(program);
  registerVlpTrainCommand(program);
  registerVisionLanguageCommands(program);
  registerWsiCommands(program);
  registerWsiRunCommand(program);
  registerServeCommand(program);
  registerWsiQueueCommands(program);
  registerWorkerCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
    const status = takeExitStatus();
    if (status > Number(process.exitCode ?? 0)) process.exitCode = status;
  } catch (err: unknown) {
    // File-system errors say the path and the real cause (read-only, no space…), never a bare errno.
    process.stderr.write(`kep: ${describeError(err)}\n`);
    process.exitCode = EXIT_FAILED;
  }
}
