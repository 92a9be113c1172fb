// `kep models …` and `kep export onnx`: the model registry, and standalone ONNX files of a model's
// image and text towers (with real weights from a checkpoint, or seeded random ones).
import { Command } from 'commander';
import { join, resolve } from 'node:path';
import { Graph } from '../engine/graph.ts';
import { serializeGraph } from '../engine/onnx.ts';
import { parameterValues } from '../weights/model-weights.ts';
import { type ModelEntry, getModel, registry, towers } from '../models/registry.ts';
import { formatLoadReport } from '../weights/keymaps.ts';
import { writeFileAtomic } from '../util/atomic.ts';

function towerGraphs(entry: ModelEntry): { tower: 'image' | 'text'; graph: Graph }[] {
  const t = towers(entry);
  const out: { tower: 'image' | 'text'; graph: Graph }[] = [];
  if (t.image) {
    const size = entry.kind === 'bert' ? 0 : entry.preprocess.size;
    const g = new Graph(`${entry.name}-image`);
    g.output('embedding', t.image(g, g.input('pixels', 'float32', ['batch', 3, size, size])));
    out.push({ tower: 'image', graph: g });
  }
  if (t.text) {
    const g = new Graph(`${entry.name}-text`);
    g.output(
      'embedding',
      t.text(
        g,
        g.input('input_ids', 'int64', ['batch', 'seq']),
        g.input('attention_mask', 'int64', ['batch', 'seq']),
      ),
    );
    out.push({ tower: 'text', graph: g });
  }
  return out;
}

function paramCount(g: Graph): number {
  let n = 0;
  for (const p of g.params.values()) n += p.shape.reduce((a, b) => a * b, 1);
  return n;
}

export function registerModelCommands(program: Command): void {
  const models = program.command('models').description('the model registry');
  models
    .command('list')
    .description('registered models with their towers, sizes and preprocessing')
    .option('--json', 'one JSON object per model', false)
    .action((o: { json: boolean }) => {
      for (const entry of registry.values()) {
        const graphs = towerGraphs(entry);
        const params = graphs.reduce((s, t) => s + paramCount(t.graph), 0);
        const info = {
          name: entry.name,
          kind: entry.kind,
          towers: graphs.map((t) => t.tower),
          parameters: params,
          ...(entry.kind !== 'bert' ? { imageSize: entry.preprocess.size } : {}),
          ...(entry.kind === 'bert' || entry.kind === 'kep' ? { maxLength: entry.maxLength } : {}),
          keyMap: entry.keyMap,
          description: entry.description,
        };
        if (o.json) process.stdout.write(`${JSON.stringify(info)}\n`);
        else
          process.stdout.write(
            `${entry.name.padEnd(20)} ${entry.kind.padEnd(5)} ${(params / 1e6).toFixed(1).padStart(6)} M  ${info.towers.join('+').padEnd(10)} ${entry.description}\n`,
          );
      }
    });

  program
    .command('export')
    .description('write model files for other runtimes')
    .command('onnx')
    .description("write a model's image and text towers as standalone ONNX files (weights as initializers)")
    .requiredOption('--model <name>', 'a registered model (see kep models list)')
    .option(
      '--weights <path>',
      'checkpoint: .safetensors, .pt/.pth/.bin, or a Hugging Face folder (default: seeded random weights)',
    )
    .option(
      '--key-map <name>',
      "how the checkpoint names its tensors (default: the model's; 'kep' for kep's own files)",
    )
    .option('--non-strict', 'load what matches and report the rest, instead of failing', false)
    .option('--out <dir>', 'output folder', '.')
    .action(
      async (o: { model: string; weights?: string; keyMap?: string; nonStrict: boolean; out: string }) => {
        const entry = getModel(o.model);
        for (const { tower, graph } of towerGraphs(entry)) {
          const { values, report, untrained } = await parameterValues(graph, {
            ...(o.weights ? { weights: o.weights, keyMap: o.keyMap ?? entry.keyMap } : {}),
            strict: !o.nonStrict,
          });
          if (report) process.stderr.write(`${tower}: ${formatLoadReport(report)}\n`);
          if (untrained) process.stderr.write(`${tower}: no --weights given: random (untrained) weights\n`);
          const path = join(resolve(o.out), `${entry.name}-${tower}.onnx`);
          writeFileAtomic(
            path,
            serializeGraph(graph, {
              paramData: values,
              outputs: ['embedding'],
              docString: `kep ${entry.name} ${tower} tower`,
            }).bytes,
          );
          process.stdout.write(`${path}\n`);
        }
      },
    );
}
