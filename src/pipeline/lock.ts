// A lock file per unit of work (one slide of a batch run), so that two processes sharing an output
// folder never write the same outputs. The file is created with O_EXCL (exactly one creator wins,
// also on NFS v3+), holds the owner's pid, host and start time, and is removed on release.
//
// A lock whose owner died (killed, crashed, machine lost) would block its slide forever, so a lock
// is stale when it names this host and its pid is no longer alive (signal 0 → ESRCH), or when its
// content has stayed unreadable for a while (a crash between create and write; a lock only
// microseconds old may simply not be written yet). A pid from another host means nothing here, so
// the holder renews the file's modification time every `heartbeatMs` while it works (a lease), and
// a lock from another host is stale once that time is older than `leaseMs`: its holder has stopped
// renewing it (died, or lost the shared file system). The lease is long against the heartbeat so
// that clocks a minute apart, a slow NFS server or a stalled event loop do not break a live lock.
import { closeSync, openSync, readFileSync, rmSync, statSync, utimesSync, writeSync } from 'node:fs';
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

export interface LockTiming {
  /** A lock from another host not renewed for this long is stale (default 10 minutes). */
  leaseMs?: number;
  /** How often the holder renews its lock (default 1 minute). */
  heartbeatMs?: number;
}

export const DEFAULT_LEASE_MS = 10 * 60_000;
export const DEFAULT_HEARTBEAT_MS = 60_000;

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

function isStale(path: string, owner: LockOwner | undefined, leaseMs: number): boolean {
  const age = Date.now() - statSync(path).mtimeMs;
  if (owner === undefined) return age > UNWRITTEN_GRACE_MS;
  if (owner.host !== hostname()) return age > leaseMs;
  return owner.pid !== process.pid && !processAlive(owner.pid);
}

const sameOwner = (a: LockOwner | undefined, b: LockOwner): boolean =>
  a?.pid === b.pid && a.host === b.host && a.started === b.started;

/** Renews the lock's modification time while it is ours; stops when someone else holds it. */
function heartbeat(path: string, owner: LockOwner, everyMs: number): NodeJS.Timeout {
  const timer = setInterval(() => {
    try {
      if (!sameOwner(readOwner(path), owner)) return void clearInterval(timer);
      const now = new Date();
      utimesSync(path, now, now);
    } catch {
      clearInterval(timer); // removed (released, or broken by another process)
    }
  }, everyMs);
  timer.unref(); // a lock never keeps the process alive
  return timer;
}

/** Takes the lock at `path`, breaking a stale one; reports the live owner otherwise. */
export function tryLock(path: string, timing: LockTiming = {}): LockResult {
  const leaseMs = timing.leaseMs ?? DEFAULT_LEASE_MS;
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
        stale = isStale(path, owner, leaseMs);
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
    const renewing = heartbeat(path, owner, timing.heartbeatMs ?? DEFAULT_HEARTBEAT_MS);
    return {
      acquired: true,
      release: () => {
        if (released) return;
        released = true;
        clearInterval(renewing);
        // Only our own lock is removed (a stale-lock breaker may have replaced it meanwhile).
        let current: LockOwner | undefined;
        try {
          current = readOwner(path);
        } catch {
          return;
        }
        if (sameOwner(current, owner)) rmSync(path, { force: true });
      },
    };
  }
  throw new Error(`${path}: could not take the lock (it keeps changing hands)`);
}
