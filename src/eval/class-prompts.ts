// Prompt sets for a user who gives only class names (`kep classify --classes …`): each class is
// looked up in the knowledge tree by name or synonym (src/knowledge/query.ts promptSynonyms, the
// same lookup as `kep knowledge prompts`), and its captions are the class name and the disease's
// names and synonyms put into the standard pathology templates — one template ensemble per class.
// A class the tree does not have (or no tree at all) keeps its own name only.
import type { PromptSet } from '../data/prompt-sets.ts';
import type { KnowledgeTree } from '../knowledge/schema.ts';
import { type PromptSynonyms, promptSynonyms } from '../knowledge/query.ts';

/**
 * The 22 templates of the published zero-shot prompt files (KEP's and KEEP's; they come from
 * CONCH's evaluation), each used by roughly 200 of their sets.
 */
export const DEFAULT_TEMPLATES = [
  'CLASSNAME.',
  'a photomicrograph showing CLASSNAME.',
  'a photomicrograph of CLASSNAME.',
  'an image of CLASSNAME.',
  'an image showing CLASSNAME.',
  'an example of CLASSNAME.',
  'CLASSNAME is shown.',
  'this is CLASSNAME.',
  'there is CLASSNAME.',
  'a histopathological image showing CLASSNAME.',
  'a histopathological image of CLASSNAME.',
  'a histopathological photograph showing CLASSNAME.',
  'a histopathological photograph of CLASSNAME.',
  'shows CLASSNAME.',
  'presence of CLASSNAME.',
  'CLASSNAME is present.',
  'an H&E stained image of CLASSNAME.',
  'an H&E stained image showing CLASSNAME.',
  'an H&E image showing CLASSNAME.',
  'an H&E image of CLASSNAME.',
  'CLASSNAME, H&E stain.',
  'CLASSNAME, H&E.',
] as const;

export interface ClassPromptInfo {
  label: string;
  /** Phrases used in the templates: the class name first. */
  names: string[];
  /** How the tree matched the class ('no tree' when none was given). */
  match: PromptSynonyms['match'] | 'no tree';
  disease?: { id: string; name: string; tissue: string };
  /** Closest diseases, when the class matched none. */
  suggestions?: { id: string; name: string; score: number }[];
}

export interface ClassPromptOptions {
  templates?: readonly string[];
  /** At most this many of the tree's names and synonyms per class (default 5). */
  maxSynonyms?: number;
}

/** Splits "a, b ,c" into class names; empty and repeated names are errors. */
export function parseClassList(text: string): string[] {
  const names = text.split(',').map((s) => s.trim());
  if (names.some((n) => n === '')) throw new Error(`--classes "${text}": an empty class name`);
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) throw new Error(`--classes: "${n}" is given twice`);
    seen.add(n);
  }
  if (names.length < 2) throw new Error('--classes needs at least two class names');
  return names;
}

export function promptSetFromClassNames(
  classNames: readonly string[],
  tree: KnowledgeTree | undefined,
  opts: ClassPromptOptions = {},
): { set: PromptSet; info: ClassPromptInfo[] } {
  const max = opts.maxSynonyms ?? 5;
  const found = tree ? promptSynonyms(tree, classNames, max) : undefined;
  const info = classNames.map((label, i): ClassPromptInfo => {
    const p = found?.[i];
    if (!p) return { label, names: [label], match: 'no tree' };
    return {
      label,
      names: [label, ...p.synonyms.slice(0, max)],
      match: p.match,
      ...(p.disease ? { disease: p.disease } : {}),
      ...(p.suggestions ? { suggestions: p.suggestions } : {}),
    };
  });
  const templates = [...(opts.templates ?? DEFAULT_TEMPLATES)];
  return {
    set: { id: 'classes', classes: info.map((c) => ({ label: c.label, names: c.names })), templates },
    info,
  };
}
