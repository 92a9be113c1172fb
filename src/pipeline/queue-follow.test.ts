import assert from 'node:assert/strict';
import { test } from 'node:test';
import { finished } from './queue-follow.ts';
import type { QueuedSlide } from './queue-enqueue.ts';

const slide = {
  id: 's1',
  data: { input: { id: 'slide-a', path: '/slides/a.svs' } },
} as unknown as QueuedSlide;
const started = new Date(1000);

test('a job read just before it completed waits for the next poll instead of failing the follower', () => {
  // getJob() saw the job running (no return value); getState() a moment later says completed.
  assert.equal(finished(slide, 'completed', { returnvalue: null, attemptsMade: 1 }, started), undefined);
  assert.equal(finished(slide, 'active', { returnvalue: null, attemptsMade: 0 }, started), undefined);
});

test('a completed job with a result that is not a slide result is named', () => {
  assert.throws(
    () => finished(slide, 'completed', { returnvalue: { nonsense: 1 }, attemptsMade: 1 }, started),
    /slide job s1 \(slide-a\): not a kep slide result/,
  );
});

test('a failed job is a failed slide with its reason and attempts', () => {
  const f = finished(slide, 'failed', { returnvalue: null, failedReason: 'boom', attemptsMade: 2 }, started);
  assert.equal(f?.summary.status, 'failed');
  assert.equal(f?.summary.error, 'boom (after 2 attempts)');
});
