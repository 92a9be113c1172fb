// Claim: decide what a slide needs before touching it. Complete from an earlier run → skipped;
// failed earlier with the same inputs → failed (unless retrying); held by another live process →
// locked; otherwise this process takes the slide's lock and says whether features.h5 is current
// (only the scores to redo) or everything is to be made again.
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { assess, earlierFailure } from './done-marker.ts';
import { tryLock } from './lock.ts';
import type { SlideSummary } from './run-summary.ts';
import type { SlideInput } from './slide-inputs.ts';
import type { SlideKeys } from './slide-settings.ts';

export type Claim =
  /** Nothing to do here: summary says why (skipped, failed, locked). */
  | { claimed: false; summary: SlideSummary }
  | {
      claimed: true;
      summary: SlideSummary;
      /** True when features.h5 is current and only the scores need redoing. */
      rescoreOnly: boolean;
      release: () => void;
    };

export function claimSlide(input: SlideInput, dir: string, keys: SlideKeys, retryFailed: boolean): Claim {
  const summary: SlideSummary = {
    slide: input.id,
    path: input.path,
    status: 'done',
    n_patches: null,
    seconds: 0,
    error: null,
    ...(input.label !== undefined ? { label: input.label } : {}),
  };
  const settled = (fields: Partial<SlideSummary>): Claim => ({
    claimed: false,
    summary: Object.assign(summary, fields),
  });
  if (input.problem)
    return settled({
      status: 'failed',
      error: `${input.path}: ${input.problem.reason}`,
      error_kind: input.problem.kind,
    });
  const before = assess(dir, keys);
  if (before.state === 'complete') return settled({ status: 'skipped', n_patches: before.done.n_patches });
  const failed = earlierFailure(dir, keys.embedKey);
  if (!retryFailed && failed)
    return settled({
      status: 'failed',
      error: `${failed.error} (earlier run; --retry-failed to retry)`,
      error_kind: failed.kind,
    });
  mkdirSync(dir, { recursive: true });
  const lock = tryLock(join(dir, '.lock'));
  if (!lock.acquired) {
    const who = lock.owner
      ? `pid ${lock.owner.pid} on ${lock.owner.host} since ${lock.owner.started}`
      : 'a process starting up';
    return settled({ status: 'locked', error: `being processed by ${who}` });
  }
  // Another process may have finished the slide between our look at done.json and the lock.
  const now = assess(dir, keys);
  if (now.state === 'complete') {
    lock.release();
    return settled({ status: 'skipped', n_patches: now.done.n_patches });
  }
  if (now.problem) summary.note = `redone: ${now.problem}`;
  // Temporary files of a writer that died (only a lock holder writes here, and we hold it).
  for (const f of readdirSync(dir))
    if (f.startsWith('.') && f.endsWith('.tmp')) rmSync(join(dir, f), { force: true });
  return { claimed: true, summary, rescoreOnly: now.state === 'rescore', release: lock.release };
}
