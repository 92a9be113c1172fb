// `kep models …` and `kep export onnx`: the model registry, and standalone ONNX files of a model's
// image and text towers (with real weights from a checkpoint, or seeded random ones).
import { Command, Option } from 'commander';
import { join, resolve } from 'node:path';
import { existsSync, statSync } from 'node:fs';
import type { Graph } from '../engine/graph.ts';
import { serializeGraph } from '../engine/onnx.ts';
import { PRECISIONS, type Precision, quantizeGraph } from '../engine/quantize.ts';
import { parameterValues } from '../weights/model-weights.ts';
import { readModelFile } from '../embed/model-folder.ts';
import { towerGraphs } from '../models/factory.ts';
import { type ModelEntry, getModel, registry } from '../models/registry.ts';
import type { ModelSpec } from '../models/spec.ts';
import { readKnowledgeEncoderSpec } from '../train/knowledge.ts';
import { formatLoadReport } from '../weights/keymaps.ts';
import { writeFileAtomic } from '../util/atomic.ts';

interface TowerGraph {
  tower: 'image' | 'text';
  graph: Graph;
}

/** The inference graphs of a spec's towers, from the one factory. */
function inferenceGraphs(spec: ModelSpec): { towers: TowerGraph[]; all: Graph } {
  const built = towerGraphs(spec);
  const towers: TowerGraph[] = [];
  if (built.image) towers.push({ tower: 'image', graph: built.image });
  if (built.text) towers.push({ tower: 'text', graph: built.text });
  return { towers, all: built.all };
}

/**
 * A model's tower graphs and their parameter values: from a checkpoint through the entry's key map
 * (or `keyMap`), checked against the whole model at once, or seeded random ones without weights.
 */
export async function loadTowerWeights(
  entry: ModelEntry,
  o: { weights?: string; keyMap?: string; strict: boolean; log?: (line: string) => void },
): Promise<{ graphs: TowerGraph[]; values: Map<string, Float32Array> }> {
  const { towers: graphs, all } = inferenceGraphs(entry);
  // One pass over the checkpoint for all towers: a KEP file holds both, and each tower's tensors
  // would be "unexpected" to the other.
  const { values, report, untrained } = await parameterValues(all, {
    ...(o.weights ? { weights: o.weights, keyMap: o.keyMap ?? entry.keyMap } : {}),
    strict: o.strict,
  });
  if (report) o.log?.(formatLoadReport(report));
  if (untrained) o.log?.('no --weights given: random (untrained) weights');
  return { graphs, values };
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
        const graphs = inferenceGraphs(entry).towers;
        const params = graphs.reduce((s, t) => s + paramCount(t.graph), 0);
        const info = {
          name: entry.name,
          kind: entry.kind,
          towers: graphs.map((t) => t.tower),
          parameters: params,
          ...('preprocess' in entry ? { imageSize: entry.preprocess.size } : {}),
          ...('tokenizer' in entry ? { maxLength: entry.tokenizer.maxLength } : {}),
          keyMap: entry.keyMap,
          description: entry.description,
          ...(entry.kind === 'kep' && entry.published ? { published: entry.published } : {}),
        };
        if (o.json) process.stdout.write(`${JSON.stringify(info)}\n`);
        else {
          process.stdout.write(
            `${entry.name.padEnd(20)} ${entry.kind.padEnd(5)} ${(params / 1e6).toFixed(1).padStart(6)} M  ${info.towers.join('+').padEnd(10)} ${entry.description}\n`,
          );
          if (info.published)
            for (const [k, v] of Object.entries(info.published))
              process.stdout.write(`${''.padEnd(22)}${`${k}:`.padEnd(15)}${v}\n`);
        }
      }
    });

  models
    .command('spec')
    .description(
      'the full spec of a registry model, a model folder (kep train vlp) or a knowledge encoder folder (kep train knowledge)',
    )
    .argument('<name|dir>', 'a registry name or a folder')
    .option('--json', 'the spec as one JSON document (the default output too)', false)
    .action((what: string) => {
      process.stdout.write(`${JSON.stringify(specOf(what), null, 2)}\n`);
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
    .addOption(
      new Option(
        '--precision <p>',
        "int8: the transformer blocks' linear layers as ONNX Runtime's DynamicQuantizeMatMul (files NAME-TOWER-int8.onnx)",
      )
        .choices([...PRECISIONS])
        .default('fp32'),
    )
    .option('--out <dir>', 'output folder', '.')
    .action(
      async (o: {
        model: string;
        weights?: string;
        keyMap?: string;
        nonStrict: boolean;
        precision: Precision;
        out: string;
      }) => {
        const entry = getModel(o.model);
        const { graphs, values } = await loadTowerWeights(entry, {
          ...(o.weights ? { weights: o.weights } : {}),
          ...(o.keyMap ? { keyMap: o.keyMap } : {}),
          strict: !o.nonStrict,
          log: (line) => process.stderr.write(`${line}\n`),
        });
        for (const { tower, graph } of graphs) {
          const int8 = o.precision === 'int8';
          const path = join(resolve(o.out), `${entry.name}-${tower}${int8 ? '-int8' : ''}.onnx`);
          const ser = {
            outputs: ['embedding'],
            docString: `kep ${entry.name} ${tower} tower${int8 ? ' (int8 linear layers)' : ''}`,
          };
          if (int8) {
            const q = quantizeGraph(graph, values, ser);
            process.stderr.write(
              `${tower}: ${q.report.quantized.length} linear layers in int8, ${q.report.kept.length} kept in fp32 (stems, heads)\n`,
            );
            writeFileAtomic(path, q.bytes);
          } else writeFileAtomic(path, serializeGraph(graph, { paramData: values, ...ser }).bytes);
          process.stdout.write(`${path}\n`);
        }
      },
    );
}

/** The spec of a registry name, or the one a folder stores (never the registry's for a folder). */
export function specOf(what: string): ModelSpec {
  if (existsSync(what) && statSync(what).isDirectory()) {
    if (existsSync(join(what, 'encoder.json'))) return readKnowledgeEncoderSpec(what);
    return readModelFile(what).spec;
  }
  return getModel(what);
}
