// Shared by the knowledge tests: run fn and return the SourceError it must throw.
import assert from 'node:assert/strict';
import { SourceError } from './errors.ts';

export function sourceError(fn: () => unknown): SourceError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof SourceError, `expected a SourceError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected an error');
}
