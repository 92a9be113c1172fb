// A JSON file validated by a zod schema, with errors that name the file and the field: the one way
// kep reads its own small descriptor files (model folders, encoder folders).
import { readFileSync } from 'node:fs';
import type { z } from 'zod';

export function readJsonFile<T extends z.ZodTypeAny>(path: string, schema: T): z.infer<T> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ? 'cannot read' : 'not valid JSON';
    throw new Error(`${path}: ${reason} (${(err as Error).message})`, { cause: err });
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success)
    throw new Error(
      `${path}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`).join('; ')}`,
    );
  return parsed.data as z.infer<T>;
}
