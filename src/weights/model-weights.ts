// Parameter values for a registered model: from a checkpoint in its own format through the model's
// key map, or from the seeded initialisers when no weights are given.
import type { Graph } from '../engine/graph.ts';
import { initialParameters } from '../engine/init.ts';
import { toFloat32 } from '../engine/safetensors.ts';
import { KEY_MAPS, type KeyMap, type LoadReport, applyKeyMap } from './keymaps.ts';
import { loadStateDict } from './load.ts';

/** kep's own files (checkpoints and exports) use kep's names; optimiser moments are not weights. */
const KEP_NATIVE: KeyMap = {
  name: 'kep',
  rules: [{ from: '{name*}', to: '{name*}' }],
  ignore: ['optimizer.{name*}'],
};

export function keyMapNamed(name: string): KeyMap {
  if (name === 'kep') return KEP_NATIVE;
  const map = KEY_MAPS[name];
  if (!map) throw new Error(`unknown key map "${name}"; known: kep, ${Object.keys(KEY_MAPS).join(', ')}`);
  return map;
}

export interface ParamValues {
  values: Map<string, Float32Array>;
  report?: LoadReport;
  /** True when every parameter came from the initialisers (nothing pretrained). */
  untrained: boolean;
}

export async function parameterValues(
  g: Graph,
  opts: { weights?: string; keyMap?: string; strict?: boolean; seed?: number } = {},
): Promise<ParamValues> {
  if (!opts.weights) return { values: initialParameters(g.params.values(), opts.seed), untrained: true };
  const loaded = await loadStateDict(opts.weights);
  const expected = new Map([...g.params.values()].map((p) => [p.name, p.shape]));
  const { tensors, report } = applyKeyMap(loaded.tensors, keyMapNamed(opts.keyMap ?? 'kep'), expected, {
    strict: opts.strict ?? true,
    source: opts.weights,
  });
  // Parameters the checkpoint does not supply (non-strict loads) keep their initial values.
  const missing = [...g.params.values()].filter((p) => !tensors.has(p.name));
  const initial = initialParameters(missing, opts.seed);
  const values = new Map<string, Float32Array>();
  for (const name of g.params.keys()) {
    const t = tensors.get(name);
    values.set(name, t ? toFloat32(t, { convert: true }) : initial.get(name)!);
  }
  return { values, report, untrained: false };
}
