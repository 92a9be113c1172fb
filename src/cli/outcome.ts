// The exit status every kep command follows (docs/reliability.md):
//   0  every input was processed, or was already complete from an earlier run;
//   1  the command failed: a bad flag or setting, an unreadable input file, a refused resume, or
//      every input failed. Nothing was written or changed (a batch run keeps its summary, which
//      lists each failure, and its per-item failure records);
//   2  partial: some inputs failed (each named on stderr, with counts) and the outputs of the others
//      were written.
// Commands report per-input failures here rather than setting process.exitCode themselves, so that
// the same command run in-process (tests, the demo) does not change the host process's status.

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_PARTIAL = 2;

/** Every input of a command failed: nothing is written; the command exits 1. */
export class AllInputsFailedError extends Error {
  constructor(what: string, total: number, firstReason?: string) {
    super(
      `every one of the ${total} ${what} failed; nothing written` +
        (firstReason ? ` (first: ${firstReason})` : ''),
    );
    this.name = 'AllInputsFailedError';
  }
}

let pending = EXIT_OK;

/**
 * Checks the failures among a command's inputs before it writes: all failed → throws
 * AllInputsFailedError; some → the command exits 2 once it has written the rest (the caller has
 * already said which failed, and `note` gets the counts).
 */
export function checkInputs(
  what: string,
  total: number,
  failed: readonly { reason: string; path?: string }[],
  note: (line: string) => void,
): void {
  if (total > 0 && failed.length >= total) {
    const f = failed[0];
    throw new AllInputsFailedError(
      what,
      total,
      f ? (f.path ? `${f.path}: ${f.reason}` : f.reason) : undefined,
    );
  }
  if (failed.length > 0) {
    note(
      `kep: ${failed.length} of ${total} ${what} failed (named above) and were left out; exit status 2 (partial)\n`,
    );
    pending = Math.max(pending, EXIT_PARTIAL);
  }
}

/** A batch whose items all failed (its record is written): exit 1; some failed: exit 2. */
export function batchOutcome(total: number, failed: number): void {
  if (total > 0 && failed >= total) pending = Math.max(pending, EXIT_FAILED);
  else if (failed > 0) pending = Math.max(pending, EXIT_PARTIAL);
}

/** The status the commands run so far asked for; resets it. */
export function takeExitStatus(): number {
  const s = pending;
  pending = EXIT_OK;
  return s;
}
