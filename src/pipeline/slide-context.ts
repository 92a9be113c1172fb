// What every slide of a run shares: the settings, the model and the prompt sets' class embeddings
// (each made on first need, so a run with nothing to do loads no model), the patch reader threads
// (started once, not per slide), where notes go, and how progress is shown. A batch makes one for
// its slides; a queue worker makes one and keeps it for every job it takes.
import { readPromptFile, type PromptSet } from '../data/prompt-sets.ts';
import type { VisionLanguageModel } from '../embed/types.ts';
import type { Progress } from '../util/progress.ts';
import { defaultReaderWorkers } from '../wsi/embed-patches.ts';
import { PatchReaderPool } from '../wsi/patch-reader.ts';
import { embedClassSets, type ScoringClasses } from './slide-score.ts';
import type { SlideSettings } from './slide-settings.ts';

/** The per-slide stages after the claim, in order ('done': the done marker is written). */
export type SlideStage = 'segment' | 'patch' | 'embed' | 'score' | 'done';

export interface SlideContext {
  readonly settings: SlideSettings;
  /** The model, loaded on the first call. */
  model(): Promise<VisionLanguageModel>;
  /** The prompt sets' class embeddings, computed on the first call; undefined without prompts. */
  classes(): Promise<ScoringClasses | undefined>;
  /** Patch reader threads shared by every slide. */
  pool(): PatchReaderPool;
  /** Notes for the user about a slide (a misnamed file, an assumed magnification). */
  log(line: string): void;
  /** Counts embedded patches; told each slide's patch count once its grid is known. */
  patches?: { add(count: number): void; progress: Progress };
  /** Told when a slide enters a stage (a queue worker reports it as the job's progress). */
  onStage?: (slide: string, stage: SlideStage) => void;
}

export interface SlideContextOptions {
  settings: SlideSettings;
  loadModel: () => Promise<VisionLanguageModel>;
  /** Already read (the batch checks labels against them); read from settings.promptsFile otherwise. */
  promptSets?: PromptSet[];
  /** Patch reader threads (default: cores − 1, at most 4). */
  workers?: number;
  log?: (line: string) => void;
  patches?: SlideContext['patches'];
  onStage?: SlideContext['onStage'];
}

export interface OwnedSlideContext extends SlideContext {
  /** The model if one was loaded (a run that had nothing to do loads none). */
  loadedModel(): VisionLanguageModel | undefined;
  /** Stops the reader threads and releases the model. */
  close(): Promise<void>;
}

export function createSlideContext(o: SlideContextOptions): OwnedSlideContext {
  let model: Promise<VisionLanguageModel> | undefined;
  let loaded: VisionLanguageModel | undefined;
  let classes: Promise<ScoringClasses | undefined> | undefined;
  let pool: PatchReaderPool | undefined;
  const getModel = (): Promise<VisionLanguageModel> => (model ??= o.loadModel().then((m) => (loaded = m)));
  return {
    settings: o.settings,
    model: getModel,
    classes: () =>
      (classes ??= (async () => {
        const file = o.settings.promptsFile;
        if (!o.settings.scoring || !file) return undefined;
        return embedClassSets(o.promptSets ?? readPromptFile(file), await getModel());
      })()),
    pool: () => (pool ??= new PatchReaderPool(o.workers ?? defaultReaderWorkers())),
    log: o.log ?? (() => {}),
    ...(o.patches ? { patches: o.patches } : {}),
    ...(o.onStage ? { onStage: o.onStage } : {}),
    loadedModel: () => loaded,
    async close() {
      const p = pool;
      pool = undefined;
      await p?.close();
      const m = loaded;
      loaded = undefined;
      model = undefined;
      await m?.release();
    },
  };
}
