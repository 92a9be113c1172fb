// Zero-shot prompt files in the schema KEP and KEEP publish:
//   {"0": {"classnames": {LABEL: "phrase" | ["phrase", …]}, "templates": "… CLASSNAME …" | [ … ]}, …}
// Each top-level key is one prompt set. A class's captions are its phrases put into its set's
// templates (every CLASSNAME replaced); with one phrase and one template that is the paper's one
// caption per class, with lists it is a template ensemble.
import { readFileSync } from 'node:fs';
import { z } from 'zod';

export const PLACEHOLDER = 'CLASSNAME';

export interface PromptClass {
  label: string;
  names: string[];
}

export interface PromptSet {
  /** The set's key in the file ("0", "1", …). */
  id: string;
  classes: PromptClass[];
  templates: string[];
}

export class PromptFileError extends Error {
  constructor(
    readonly file: string,
    readonly where: string,
    reason: string,
  ) {
    super(`${file}: ${where ? `${where}: ` : ''}${reason}`);
    this.name = 'PromptFileError';
  }
}

const text = z.string({ error: 'expected a string' }).refine((s) => s.trim() !== '', { error: 'empty text' });
const oneOrMany = z.union([text, z.array(text).min(1, { error: 'empty list' })], {
  error: 'expected a string or a non-empty list of strings',
});

const promptSetSchema = z.strictObject({
  classnames: z
    .record(z.string(), oneOrMany, { error: 'expected an object {LABEL: phrase}' })
    .refine((o) => Object.keys(o).length > 0, { error: 'no classes' }),
  templates: oneOrMany,
});

export type PromptSetJson = z.input<typeof promptSetSchema>;

const list = (v: string | string[]): string[] => (Array.isArray(v) ? v : [v]);

/** Validates a parsed prompt file; `file` names it in errors. */
export function parsePromptFile(value: unknown, file: string): PromptSet[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new PromptFileError(
      file,
      '',
      'expected an object of prompt sets {"0": {"classnames": …, "templates": …}}',
    );
  const sets: PromptSet[] = [];
  for (const [id, raw] of Object.entries(value)) {
    const parsed = promptSetSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const path = issue.path.map(String).join('.');
      const missing =
        issue.path.length === 1 && typeof raw === 'object' && raw !== null && !(String(issue.path[0]) in raw);
      throw new PromptFileError(
        file,
        `set "${id}"${path ? `, ${path}` : ''}`,
        missing ? 'missing' : issue.message,
      );
    }
    const templates = list(parsed.data.templates);
    const bad = templates.find((t) => !t.includes(PLACEHOLDER));
    if (bad !== undefined)
      throw new PromptFileError(
        file,
        `set "${id}", templates`,
        `"${bad}" has no ${PLACEHOLDER} (every class would get the same caption)`,
      );
    const classes = Object.entries(parsed.data.classnames).map(([label, names]) => ({
      label,
      names: list(names),
    }));
    sets.push({ id, classes, templates });
  }
  if (sets.length === 0) throw new PromptFileError(file, '', 'no prompt sets');
  return sets;
}

export function readPromptFile(file: string): PromptSet[] {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new PromptFileError(
      file,
      '',
      err instanceof SyntaxError ? `malformed JSON (${err.message})` : (err as Error).message,
    );
  }
  return parsePromptFile(value, file);
}

/** The template with every CLASSNAME replaced by `name`. */
export function fillTemplate(template: string, name: string): string {
  return template.replaceAll(PLACEHOLDER, name);
}

/** Every caption of one class: its names × its set's templates (template-major). */
export function classCaptions(set: PromptSet, cls: PromptClass): string[] {
  return set.templates.flatMap((t) => cls.names.map((n) => fillTemplate(t, n)));
}

/** The labels of a set, in the set's order. */
export function labelsOf(set: PromptSet): string[] {
  return set.classes.map((c) => c.label);
}

/**
 * All sets merged into one ensemble: each label gets every distinct name any set gives it, and the
 * set gets every distinct template. (The whole-slide protocol's "mean of the template embeddings per
 * class" over a pool, and a way to get one steadier figure instead of a median over sets.)
 */
export function poolPromptSets(sets: readonly PromptSet[], id = 'pooled'): PromptSet {
  const names = new Map<string, Set<string>>();
  const templates = new Set<string>();
  for (const s of sets) {
    for (const t of s.templates) templates.add(t);
    for (const c of s.classes) {
      const n = names.get(c.label) ?? new Set<string>();
      for (const x of c.names) n.add(x);
      names.set(c.label, n);
    }
  }
  return {
    id,
    classes: [...names].map(([label, n]) => ({ label, names: [...n] })),
    templates: [...templates],
  };
}

/** The published JSON form (a single name or template as a string, several as a list). */
export function promptFileJson(sets: readonly PromptSet[]): Record<string, PromptSetJson> {
  const one = (v: string[]): string | string[] => (v.length === 1 ? v[0]! : v);
  return Object.fromEntries(
    sets.map((s) => [
      s.id,
      {
        classnames: Object.fromEntries(s.classes.map((c) => [c.label, one(c.names)])),
        templates: one(s.templates),
      },
    ]),
  );
}
