// The knowledge encoder's input: a samples JSONL file (one `{"text", "label", "kind", "tissue"?,
// "source"?}` per line, as `kep knowledge export --format jsonl` writes it), read line by line so that a file of any
// size streams, and grouped into identities (one per disease label).
//
// `parseSamples` in src/knowledge/export.ts checks the same format for a whole string, with a single
// message for every fault and `tissue` required. Training also reads files the tree never produced
// (user data, evaluation sets without tissues), and a user who gets one bad line out of 50,000 needs
// the field and the reason, so this reader has its own zod schema but shares export's `Sample` type
// and kind list.
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { z } from 'zod';
import { textLengthProblem } from '../text/limits.ts';
import type { Sample } from '../knowledge/export.ts';
import { ATTRIBUTE_KINDS, type AttributeKind } from '../knowledge/schema.ts';

/** A sample as training reads it: export's `Sample`, with `tissue` optional, and `source` (its
 * provenance: the sorted unique source ids of the text joined with "+", e.g.
 * "do-ncit-subset+ncit-disease") optional; the cross-source split needs it (src/train/held-out-splits.ts). */
export type TrainingSample = Omit<Sample, 'tissue' | 'source'> & { tissue?: string; source?: string };

export class SampleFileError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly field: string | undefined,
    reason: string,
  ) {
    super(`${file}${line === undefined ? '' : `:${line}`}: ${field ? `field "${field}": ` : ''}${reason}`);
    this.name = 'SampleFileError';
  }
}

const nonEmpty = (what: string) =>
  z
    .string({ error: `expected a string` })
    .refine((s) => s.trim().length > 0, { error: `empty ${what}` })
    .refine((s) => textLengthProblem(s) === undefined, {
      error: (issue) => textLengthProblem(String(issue.input)) ?? 'too long',
    });

export const sampleSchema = z.object({
  text: nonEmpty('text'),
  label: nonEmpty('label'),
  kind: z.enum(ATTRIBUTE_KINDS, { error: `expected one of ${ATTRIBUTE_KINDS.join(', ')}` }),
  tissue: z.string({ error: 'expected a string' }).optional(),
  source: nonEmpty('source').optional(),
});

/** One line of a samples file; `line` is 1-based, for the message. Blank lines give undefined. */
export function parseSampleLine(text: string, file: string, line: number): TrainingSample | undefined {
  const trimmed = (line === 1 ? text.replace(/^\uFEFF/, '') : text).trim();
  if (trimmed === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch (e) {
    throw new SampleFileError(file, line, undefined, `malformed JSON (${(e as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new SampleFileError(file, line, undefined, 'expected a JSON object {"text", "label", "kind"}');
  const parsed = sampleSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join('.');
    const missing = !(field in (value as Record<string, unknown>));
    throw new SampleFileError(file, line, field, missing ? 'missing' : issue.message);
  }
  const { text: t, label, kind, tissue, source } = parsed.data;
  return {
    text: t,
    label,
    kind,
    ...(tissue === undefined ? {} : { tissue }),
    ...(source === undefined ? {} : { source }),
  };
}

/** Samples of an in-memory JSONL text, checked as `streamSamples` checks a file. */
export function parseSampleText(text: string, file: string): TrainingSample[] {
  const out: TrainingSample[] = [];
  text.split('\n').forEach((l, i) => {
    const s = parseSampleLine(l, file, i + 1);
    if (s) out.push(s);
  });
  if (out.length === 0) throw new SampleFileError(file, undefined, undefined, 'no samples (empty file)');
  return out;
}

/** Samples of a JSONL file, one line at a time; throws SampleFileError on the first bad line and on
 * a file without samples. */
export async function* streamSamples(file: string): AsyncGenerator<TrainingSample> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (e) {
    throw new SampleFileError(file, undefined, undefined, `cannot open (${(e as Error).message})`);
  }
  try {
    let line = 0;
    let count = 0;
    for await (const text of handle.readLines({ encoding: 'utf8' })) {
      const s = parseSampleLine(text, file, ++line);
      if (s) {
        count++;
        yield s;
      }
    }
    if (count === 0) throw new SampleFileError(file, undefined, undefined, 'no samples (empty file)');
  } finally {
    await handle.close();
  }
}

export async function readSamples(file: string): Promise<TrainingSample[]> {
  const out: TrainingSample[] = [];
  for await (const s of streamSamples(file)) out.push(s);
  return out;
}

/** One disease: its name (the query in evaluation, the anchor of its group in training) and its other
 * texts (every kind but name), deduplicated, sorted by code unit so that the order does not depend on
 * the file's row order. */
export interface Identity {
  label: string;
  name: string | undefined;
  texts: string[];
}

export interface Grouping {
  /** Sorted by label (code-unit order). */
  identities: Identity[];
  /** Labels with one text in all (name included): kept; their groups repeat that text. */
  singleText: string[];
  /** Labels without a name row: kept for training (their groups are attributes only), never queries. */
  withoutName: string[];
  /** Labels with more than one name row: the first name is the name, the others become texts. */
  extraNames: string[];
  /** Rows dropped because the same text already appeared under the same label. */
  duplicates: number;
}

export function groupIdentities(samples: Iterable<TrainingSample>): Grouping {
  const byLabel = new Map<string, { name: string | undefined; texts: Set<string>; extra: boolean }>();
  let duplicates = 0;
  for (const s of samples) {
    let g = byLabel.get(s.label);
    if (!g) byLabel.set(s.label, (g = { name: undefined, texts: new Set(), extra: false }));
    if (s.kind === 'name' && g.name === undefined) {
      if (g.texts.delete(s.text)) duplicates++;
      g.name = s.text;
      continue;
    }
    if (s.kind === 'name') g.extra = true;
    if (s.text === g.name || g.texts.has(s.text)) duplicates++;
    else g.texts.add(s.text);
  }
  const identities: Identity[] = [];
  const singleText: string[] = [];
  const withoutName: string[] = [];
  const extraNames: string[] = [];
  for (const label of [...byLabel.keys()].sort()) {
    const g = byLabel.get(label)!;
    const texts = [...g.texts].sort();
    identities.push({ label, name: g.name, texts });
    if (texts.length + (g.name === undefined ? 0 : 1) === 1) singleText.push(label);
    if (g.name === undefined) withoutName.push(label);
    if (g.extra) extraNames.push(label);
  }
  return { identities, singleText, withoutName, extraNames, duplicates };
}

/** Count of samples per kind, for reports. */
export function countKinds(samples: Iterable<TrainingSample>): Record<AttributeKind, number> {
  const out = Object.fromEntries(ATTRIBUTE_KINDS.map((k) => [k, 0])) as Record<AttributeKind, number>;
  for (const s of samples) out[s.kind]++;
  return out;
}
