// `kep serve RUN_DIR`: the web viewer over a `kep wsi run` folder (src/server/; docs/serve.md).
import { type Command, Option } from 'commander';
import { PRECISIONS, type Precision } from '../engine/quantize.ts';
import { DEFAULT_PORT, startServer } from '../server/serve.ts';

function port(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new Error(`--port ${value}: expected a port number 0–65535`);
  return n;
}

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description(
      'web viewer over a `kep wsi run` folder: slides (Deep Zoom), tissue, heatmaps, text search over the stored patch features, the knowledge tree, training curves',
    )
    .argument('<run_dir>', 'the --out folder of `kep wsi run` (or a folder holding it and training runs)')
    .option('--port <n>', 'TCP port', port, DEFAULT_PORT)
    .option('--host <addr>', 'address to listen on (off loopback a token is required)', '127.0.0.1')
    .option('--model <name|dir>', "model for text queries (default: the run's own model)")
    .addOption(
      new Option(
        '--precision <p>',
        "precision of the text tower (default: the precision the run's patches were embedded at)",
      ).choices([...PRECISIONS]),
    )
    .option('--tree <file>', 'knowledge tree for the knowledge browser and "use as classes"')
    .option('--encoder <dir>', 'knowledge encoder folder: knowledge search by the hybrid linker')
    .option('--token <t>', 'access token required on every request (generated when --host is not loopback)')
    .action(
      async (
        runDir: string,
        o: {
          port: number;
          host: string;
          model?: string;
          precision?: Precision;
          tree?: string;
          encoder?: string;
          token?: string;
        },
      ) => {
        const server = await startServer({ runDir, ...o });
        for (const p of server.problems) process.stderr.write(`kep serve: ${p}\n`);
        const url = server.token ? `${server.url}/?token=${server.token}` : `${server.url}/`;
        process.stdout.write(`kep serve: ${url}\n`);
        if (server.token && !o.token) process.stdout.write(`access token (generated): ${server.token}\n`);
        await new Promise<void>((done) => {
          const stop = (): void => {
            process.off('SIGINT', stop);
            process.off('SIGTERM', stop);
            void server.close().then(done);
          };
          process.on('SIGINT', stop);
          process.on('SIGTERM', stop);
        });
      },
    );
}
