// A lock file per unit of work (one slide of a batch run), so that two processes sharing an output
// folder never write the same outputs. The file is created with O_EXCL (exactly one creator wins,
// also on NFS v3+), holds the owner's pid, host and start time, and is removed on release.
//
// A lock whose owner died (killed, crashed, machine rebooted) would block its slide forever, so a
// lock is stale when it names this host and its pid is no longer alive (signal 0 → ESRCH), or when
// its content has stayed unreadable for a while (a crash between create and write; a lock only
// microseconds old may simply not be written yet). Locks held on another host are never broken:
// their pid means nothing here.
import { closeSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { z } from 'zod';

const lockSchema = z.object({ pid: z.number().int().positive(), host: z.string(), started: z.string() });
export type LockOwner = z.infer<typeof lockSchema>;

export type LockResult =
  | { acquired: true; release: () => void }
  /** `owner` is undefined while a just-created lock has not been written yet. */
  | { acquired: false; owner: LockOwner | undefined };

/** How long an unreadable lock file is taken to be in the middle of being written. */
const UNWRITTEN_GRACE_MS = 10_000;

/** Whether a process with this pid exists on this machine (EPERM: it exists but is not ours). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOwner(path: string): LockOwner | undefined {
  try {
    const parsed = lockSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw err;
    return undefined;
  }
}

function isStale(path: string, owner: LockOwner | undefined): boolean {
  if (owner === undefined) return Date.now() - statSync(path).mtimeMs > UNWRITTEN_GRACE_MS;
  return owner.host === hostname() && owner.pid !== process.pid && !processAlive(owner.pid);
}

/** Takes the lock at `path`, breaking a stale one; reports the live owner otherwise. */
export function tryLock(path: string): LockResult {
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let owner: LockOwner | undefined;
      let stale: boolean;
      try {
        owner = readOwner(path);
        stale = isStale(path, owner);
      } catch {
        continue; // released between our open and our read: try again
      }
      if (!stale) return { acquired: false, owner };
      // Two processes may both find the lock stale; only one removes this file and re-creates it
      // with O_EXCL, the other's next attempt sees the new, live lock.
      rmSync(path, { force: true });
      continue;
    }
    const owner: LockOwner = { pid: process.pid, host: hostname(), started: new Date().toISOString() };
    try {
      writeSync(fd, JSON.stringify(owner));
    } finally {
      closeSync(fd);
    }
    let released = false;
    return {
      acquired: true,
      release: () => {
        if (released) return;
        released = true;
        // Only our own lock is removed (a stale-lock breaker may have replaced it meanwhile).
        let current: LockOwner | undefined;
        try {
          current = readOwner(path);
        } catch {
          return;
        }
        if (current?.pid === owner.pid && current.host === owner.host && current.started === owner.started)
          rmSync(path, { force: true });
      },
    };
  }
  throw new Error(`${path}: could not take the lock (it keeps changing hands)`);
}
