// Run settings: a JSON file of overrides plus command-line flags, validated by the trainer's schema,
// with errors that name the file and the field.
import { readFileSync } from 'node:fs';
import type { z } from 'zod';

export function readSettings<T extends z.ZodTypeAny>(
  schema: T,
  file: string | undefined,
  flags: Record<string, unknown>,
): z.infer<T> {
  let overrides: Record<string, unknown> = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new Error(`${file}: cannot read (${(err as Error).message})`, { cause: err });
    }
    try {
      overrides = JSON.parse(text) as Record<string, unknown>;
    } catch (err) {
      throw new Error(`${file}: not valid JSON (${(err as Error).message})`, { cause: err });
    }
    if (typeof overrides !== 'object' || overrides === null || Array.isArray(overrides))
      throw new Error(`${file}: expected a JSON object of settings`);
  }
  const defined = Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined));
  const parsed = schema.safeParse({ ...overrides, ...defined });
  if (!parsed.success)
    throw new Error(
      `${file ?? 'options'}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(settings)'}: ${i.message}`).join('; ')}`,
    );
  return parsed.data as z.infer<T>;
}
