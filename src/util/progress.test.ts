import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import {
  createProgress,
  formatAmount,
  formatDuration,
  progressFigures,
  renderProgressLine,
} from './progress.ts';

class FakeTerminal extends Writable {
  isTTY = true;
  columns = 200;
  text = '';
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
  cursorTo(_x: number, _y?: number, cb?: () => void): boolean {
    cb?.();
    return true;
  }
  clearLine(_dir: number, cb?: () => void): boolean {
    cb?.();
    return true;
  }
  moveCursor(_dx: number, _dy: number, cb?: () => void): boolean {
    cb?.();
    return true;
  }
}

describe('progress', () => {
  it('formats amounts, durations, rate and ETA', () => {
    assert.equal(formatAmount(512, 'bytes'), '512 B');
    assert.equal(formatAmount(1536, 'bytes'), '1.5 KiB');
    assert.equal(formatAmount(5 * 1024 * 1024, 'bytes'), '5.0 MiB');
    assert.equal(formatAmount(12345.4, 'items'), '12,345');
    assert.equal(formatDuration(75), '01:15');
    assert.equal(formatDuration(3725), '1:02:05');
    assert.equal(formatDuration(NaN), '--:--');
    assert.deepEqual(progressFigures(50, 200, 10_000), { rate: 5, etaSeconds: 30 });
    assert.ok(Number.isNaN(progressFigures(50, undefined, 10_000).etaSeconds));
  });

  it('renders label, bar, amounts, rate and ETA; without a total, amount and rate', () => {
    assert.equal(
      renderProgressLine('doid.obo', 2 * 1048576, 4 * 1048576, 2000, 'bytes'),
      'doid.obo ████████████░░░░░░░░░░░░  50% 2.0 MiB/4.0 MiB | 1.0 MiB/s | ETA 00:02',
    );
    assert.equal(renderProgressLine('tree', 30, undefined, 3000, 'items'), 'tree 30 | 10/s | 00:03');
  });

  it('draws on a terminal and stays silent elsewhere', () => {
    const tty = new FakeTerminal();
    let now = 0;
    const p = createProgress({
      label: 'x',
      total: 100,
      unit: 'items',
      stream: tty as unknown as NodeJS.WritableStream,
      now: () => now,
    });
    now = 1000;
    p.update(50);
    p.stop();
    assert.match(tty.text, /x █+░+ {2}50% 50\/100 \| 50\/s \| ETA 00:01/);

    const pipe = new FakeTerminal();
    pipe.isTTY = false;
    const q = createProgress({ label: 'y', total: 10, stream: pipe as unknown as NodeJS.WritableStream });
    q.update(5);
    q.stop();
    assert.equal(pipe.text, '');
  });
});
