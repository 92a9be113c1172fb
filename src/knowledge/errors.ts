// Errors in source files name the file, the line and the field, so that a user can open the file at
// the failing place; a build stops at the first one and writes nothing.

export interface SourcePosition {
  file: string;
  /** 1-based; 0 when the problem is with the file as a whole (missing, empty). */
  line: number;
  column?: number;
  field: string;
}

export class SourceError extends Error {
  readonly file: string;
  readonly line: number;
  readonly column: number | undefined;
  readonly field: string;
  readonly reason: string;

  constructor(at: SourcePosition, reason: string) {
    const where = at.line > 0 ? `${at.file}:${at.line}${at.column ? `:${at.column}` : ''}` : at.file;
    super(`${where}: field "${at.field}": ${reason}`);
    this.name = 'SourceError';
    this.file = at.file;
    this.line = at.line;
    this.column = at.column;
    this.field = at.field;
    this.reason = reason;
  }
}

/** 1-based line and column of a UTF-16 offset. */
export function lineColumnAt(text: string, offset: number): { line: number; column: number } {
  return lineIndex(text)(offset);
}

/** A lookup from offset to line and column that scans the text once, for many lookups in one file. */
export function lineIndex(text: string): (offset: number) => { line: number; column: number } {
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return (offset: number) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((starts[mid] ?? 0) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - (starts[lo] ?? 0) + 1 };
  };
}
