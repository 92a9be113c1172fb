// The hybrid ranker's one parameter (src/eval/hybrid.ts), chosen at the end of `kep train knowledge`
// and kept beside the encoder as `hybrid.json`. A folder without one (written before issue 11, or
// trained on too little data to hold a calibration slice out) uses DEFAULT_HYBRID_WEIGHT.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { DEFAULT_HYBRID_WEIGHT, type HybridFit } from '../eval/hybrid.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { readJsonFile } from '../util/json-file.ts';

export const HYBRID_FILE = 'hybrid.json';

const hybridFileSchema = z.strictObject({
  format: z.literal('kep-hybrid/1'),
  fusion: z.literal('min-max convex'),
  /** Weight of the encoder's normalised cosine; BM25's is 1 − alpha. */
  alpha: z.number().min(0).max(1),
  objective: z.literal('mean mAP'),
  meanMAP: z.number(),
  fittedOn: z.strictObject({ queries: z.number().int(), galleries: z.record(z.string(), z.number().int()) }),
  grid: z.array(z.strictObject({ alpha: z.number(), meanMAP: z.number() })),
});

export interface HybridWeight {
  alpha: number;
  /** False when the folder has no hybrid.json and the default is used. */
  fitted: boolean;
}

export function writeHybridWeight(dir: string, fit: HybridFit): void {
  const record: z.infer<typeof hybridFileSchema> = {
    format: 'kep-hybrid/1',
    fusion: 'min-max convex',
    alpha: fit.alpha,
    objective: 'mean mAP',
    meanMAP: fit.meanMAP,
    fittedOn: { queries: fit.queries, galleries: fit.galleries },
    grid: fit.grid,
  };
  writeFileAtomic(join(dir, HYBRID_FILE), `${JSON.stringify(record, null, 2)}\n`);
}

export function readHybridWeight(dir: string): HybridWeight {
  const file = join(dir, HYBRID_FILE);
  if (!existsSync(file)) return { alpha: DEFAULT_HYBRID_WEIGHT, fitted: false };
  return { alpha: readJsonFile(file, hybridFileSchema).alpha, fitted: true };
}
