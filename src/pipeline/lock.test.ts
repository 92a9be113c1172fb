import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_LEASE_MS, processAlive, tryLock } from './lock.ts';

function lockPath(): string {
  return join(mkdtempSync(join(tmpdir(), 'kep-lock-')), 'slide.lock');
}

function ownerFile(path: string, pid: number, host = hostname()): void {
  writeFileSync(path, JSON.stringify({ pid, host, started: new Date().toISOString() }));
}

test('one holder at a time; release frees the lock', () => {
  const path = lockPath();
  const a = tryLock(path);
  assert.ok(a.acquired);
  assert.equal(JSON.parse(readFileSync(path, 'utf8')).pid, process.pid);
  const b = tryLock(path);
  assert.equal(b.acquired, false);
  if (!b.acquired) assert.equal(b.owner?.pid, process.pid);
  a.release();
  assert.equal(existsSync(path), false);
  const c = tryLock(path);
  assert.ok(c.acquired);
  c.release();
});

test('a lock held by a live process is respected; once it dies the lock is stale and broken', async () => {
  const path = lockPath();
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  try {
    ownerFile(path, child.pid!);
    assert.ok(processAlive(child.pid!));
    const held = tryLock(path);
    assert.equal(held.acquired, false);
    if (!held.acquired) assert.equal(held.owner?.pid, child.pid);
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
  assert.equal(processAlive(child.pid!), false);
  const taken = tryLock(path);
  assert.ok(taken.acquired, 'the dead owner’s lock is broken');
  assert.equal(JSON.parse(readFileSync(path, 'utf8')).pid, process.pid);
  taken.release();
});

test('locks from other hosts are broken only once their lease has run out; unwritten ones once old', () => {
  const dead = spawnSync(process.execPath, ['-e', 'process.pid'], { stdio: 'ignore' }).pid!;
  const other = lockPath();
  ownerFile(other, dead, `not-${hostname()}`);
  assert.equal(tryLock(other).acquired, false, 'renewed recently: its holder may be working');
  const lapsed = new Date(Date.now() - DEFAULT_LEASE_MS - 1000);
  utimesSync(other, lapsed, lapsed);
  const taken = tryLock(other);
  assert.ok(taken.acquired, 'not renewed for longer than the lease: its holder is gone');
  taken.release();

  const empty = lockPath();
  writeFileSync(empty, '');
  const fresh = tryLock(empty);
  assert.equal(fresh.acquired, false);
  if (!fresh.acquired) assert.equal(fresh.owner, undefined);
  const old = new Date(Date.now() - 60_000);
  utimesSync(empty, old, old);
  const broken = tryLock(empty);
  assert.ok(broken.acquired);
  broken.release();
});

test('the holder renews its lock while it holds it, and stops once it lets go', async () => {
  const path = lockPath();
  const held = tryLock(path, { heartbeatMs: 20 });
  assert.ok(held.acquired);
  const old = new Date(Date.now() - 60_000);
  utimesSync(path, old, old);
  await new Promise((r) => setTimeout(r, 120));
  assert.ok(Date.now() - statSync(path).mtimeMs < 5_000, 'renewed');
  held.release();
  assert.equal(existsSync(path), false);
});

test('release leaves a lock that someone else has taken since', () => {
  const path = lockPath();
  const mine = tryLock(path);
  assert.ok(mine.acquired);
  ownerFile(path, 1); // replaced (as a stale-lock breaker would)
  mine.release();
  assert.ok(existsSync(path));
});
