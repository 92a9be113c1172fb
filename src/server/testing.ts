// What the server's tests share: a real run folder made by `kep wsi run` on the two shared slides
// with the untrained kep-tiny (seconds, as src/cli/wsi-run.test.ts makes it), a knowledge tree built
// from the fixture sources, and a training run's metrics.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildTree } from '../knowledge/build.ts';
import { saveTree } from '../knowledge/tree-io.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SHARED_WSI = resolve(ROOT, '../shared/data/wsi');

/** `kep wsi run` into DIR/run (with prompts, so with scores and heatmaps); throws with its stderr. */
export function makeRun(dir: string): string {
  const prompts = join(dir, 'prompts.json');
  writeFileSync(
    prompts,
    JSON.stringify({
      '0': {
        classnames: { tumour: 'tumour', stroma: 'stroma' },
        templates: 'an H&E image of CLASSNAME tissue',
      },
    }),
  );
  const out = join(dir, 'run');
  const r = spawnSync(
    process.execPath,
    [
      join(ROOT, 'bin/kep.js'),
      'wsi',
      'run',
      SHARED_WSI,
      '--out',
      out,
      '--model',
      'kep-tiny',
      '--prompts',
      prompts,
      '--overview-size',
      '512',
      '--heatmap-size',
      '256',
      '--workers',
      '1',
      '--quiet',
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`kep wsi run failed:\n${r.stderr}`);
  return out;
}

/** A training run folder under `parent` with a short metrics.jsonl. */
export function makeTrainingRun(parent: string, name: string): string {
  const dir = join(parent, name);
  mkdirSync(dir, { recursive: true });
  const lines = [1, 2, 3, 4].map((step) =>
    JSON.stringify({ step, loss: 2 / step, lr: 1e-4, eval: { mAP: step / 10 } }),
  );
  writeFileSync(join(dir, 'metrics.jsonl'), `${lines.join('\n')}\n`);
  writeFileSync(join(dir, 'summary.json'), JSON.stringify({ lastStep: 4, stoppedBy: 'steps' }));
  return dir;
}

/** The knowledge tree of the fixture sources (src/knowledge/fixtures/sources). */
export function makeTree(dir: string): string {
  const path = join(dir, 'tree.json');
  saveTree(path, buildTree(fileURLToPath(new URL('../knowledge/fixtures/sources/', import.meta.url))));
  return path;
}
