// The server's request-level helpers: an error that carries its HTTP status, and zod parsing of
// params, queries and bodies into a 400 that names the field.
import type { z } from 'zod';

/** Longest text query (search box, knowledge search). */
export const MAX_QUERY_CHARS = 500;
/** Most results a query may ask for. */
export const MAX_TOP = 50;

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function parseWith<T extends z.ZodTypeAny>(schema: T, value: unknown): z.infer<T> {
  const r = schema.safeParse(value);
  if (!r.success)
    throw new HttpError(
      400,
      r.error.issues.map((i) => `${i.path.join('.') || 'request'}: ${i.message}`).join('; '),
    );
  return r.data as z.infer<T>;
}
