// The knowledge encoder of the generated image world (src/data/synthetic.ts): a tiny S1 run on the
// words for each colour, shape and background, so that S2 on generated pairs can start from
// "knowledge" the way KEP starts from its pathology tree (used by the demo and the S2 tests).
import { SYNONYMS } from '../data/synthetic.ts';
import { knowledgeConfigSchema, trainKnowledgeEncoder } from './knowledge.ts';

export async function trainSyntheticWorldEncoder(dir: string, threads?: number): Promise<void> {
  const samples = Object.entries(SYNONYMS).flatMap(([label, words]) =>
    words.map((text, i) => ({ text, label, kind: i === 0 ? ('name' as const) : ('synonym' as const) })),
  );
  await trainKnowledgeEncoder(
    samples,
    dir,
    knowledgeConfigSchema.parse({
      layers: 1,
      hidden: 32,
      heads: 2,
      intermediate: 64,
      embedDim: 16,
      maxLength: 32,
      vocabSize: 300,
      p: 6,
      k: 3,
      steps: 100,
      lr: 3e-3,
      warmup: 5,
      evalEvery: 100,
      heldOut: 0,
      ...(threads ? { threads } : {}),
    }),
  );
}
