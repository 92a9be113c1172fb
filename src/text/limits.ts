// The longest text kep takes from an input file or the command line. Every text tower truncates to
// a few hundred tokens (32–512), so a text of 100 000 characters already carries more than any
// model reads; a longer one is a wrong column or a binary file read as text, and tokenising it
// would only cost time and memory. Refused with the place it came from, never silently cut.
export const MAX_TEXT_CHARS = 100_000;

/** Why `text` is refused, or undefined when its length is fine. */
export function textLengthProblem(text: string): string | undefined {
  return text.length > MAX_TEXT_CHARS
    ? `${text.length} characters; at most ${MAX_TEXT_CHARS} (text towers read a few hundred tokens)`
    : undefined;
}
