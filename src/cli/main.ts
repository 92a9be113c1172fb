// The `kep` command line. Each capability registers its own subcommands from a module
// beside this one, so this file only wires them together.
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { registerDemoCommand } from './demo.ts';
import { registerKnowledgeCommands } from './knowledge.ts';
import { registerModelCommands } from './models.ts';
import { registerTrainCommands } from './train.ts';
import { registerTrainTextCommand } from './train-text.ts';
import { registerVlpTrainCommand } from './train-vlp.ts';
import { registerVisionLanguageCommands } from './vl.ts';
import { registerWsiCommands } from './wsi.ts';
import { registerWsiRunCommand } from './wsi-run.ts';
import { describeError } from '../util/fs-errors.ts';
import { EXIT_FAILED, takeExitStatus } from './outcome.ts';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

export function buildProgram(): Command {
  const program = new Command('kep')
    .description('Knowledge-enhanced vision–language pathology on ONNX Runtime')
    .version(pkg.version)
    .showHelpAfterError();
  registerKnowledgeCommands(program);
  registerDemoCommand(program);
  registerModelCommands(program);
  registerTrainCommands(program);
  registerTrainTextCommand(program);
  registerVlpTrainCommand(program);
  registerVisionLanguageCommands(program);
  registerWsiCommands(program);
  registerWsiRunCommand(program);
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
