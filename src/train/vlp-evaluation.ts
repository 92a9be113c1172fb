// What `kep train vlp` measures while it trains: zero-shot classification of a labelled image set
// over prompt sets (median weighted F1 and balanced accuracy, the paper's S3 protocol) and
// image↔text retrieval on held-out pairs. Images are re-embedded at every evaluation (the image
// tower changes); the labelled set and pairs are read once.
import type { LabelledSet } from '../data/labelled.ts';
import type { PairSet } from '../data/pairs.ts';
import type { PromptSet } from '../data/prompt-sets.ts';
import type { VisionLanguageModel } from '../embed/types.ts';
import { TextEmbeddingCache } from '../eval/class-embeddings.ts';
import { embedImageFiles } from '../eval/image-features.ts';
import { crossModalRetrieval } from '../eval/retrieval.ts';
import { checkPromptSets, zeroShotClassify } from '../eval/zeroshot.ts';

export interface VlpEvaluationSets {
  zeroShot?: { images: LabelledSet; prompts: PromptSet[]; source: string };
  retrieval?: PairSet;
}

export function vlpEvaluation(
  sets: VlpEvaluationSets,
): ((model: VisionLanguageModel, step: number) => Promise<Record<string, number>>) | undefined {
  const { zeroShot, retrieval } = sets;
  if (!zeroShot && !retrieval) return undefined;
  // Fail before training, not at the first evaluation.
  if (zeroShot)
    checkPromptSets(
      zeroShot.images.items.map((i) => i.label),
      zeroShot.prompts,
      zeroShot.source,
    );
  return async (model) => {
    const metrics: Record<string, number> = {};
    if (zeroShot) {
      const f = await embedImageFiles(
        model,
        zeroShot.images.items.map((i) => i.path),
        { progress: false },
      );
      const labels = f.indices.map((i) => zeroShot.images.items[i]!.label);
      const r = await zeroShotClassify(
        f.features,
        f.dim,
        labels,
        zeroShot.prompts,
        new TextEmbeddingCache(model),
      );
      metrics['zeroshot.bacc'] = r.bacc.median;
      metrics['zeroshot.wF1'] = r.wF1.median;
    }
    if (retrieval) {
      const f = await embedImageFiles(model, retrieval, { progress: false });
      const captions = f.indices.map((i) => retrieval.caption(i));
      const texts = await model.embedTexts(captions);
      const r = crossModalRetrieval(f.features, texts, model.embedDim);
      for (const [k, v] of Object.entries(r.image_to_text)) metrics[`i2t.${k}`] = v;
      for (const [k, v] of Object.entries(r.text_to_image)) metrics[`t2i.${k}`] = v;
    }
    return metrics;
  };
}
