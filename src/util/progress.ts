// A progress line for long jobs (downloads, builds, epochs): label, bar, value/total, rate and ETA.
// It goes to stderr so that stdout stays clean for results that other programs read, and it stays
// silent when stderr is not a terminal (CI logs, pipes), where a redrawn line is only noise.
import cliProgress from 'cli-progress';

export type ProgressUnit = 'bytes' | 'items';

export interface ProgressOptions {
  label: string;
  /** Unknown totals (a download without Content-Length) show value and rate without bar or ETA. */
  total?: number;
  unit?: ProgressUnit;
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Overrides the TTY check, e.g. `--quiet`, or tests that want the rendered text. */
  enabled?: boolean;
  /** Clock in milliseconds; injectable so that rate and ETA can be tested without waiting. */
  now?: () => number;
}

export interface Progress {
  update(value: number): void;
  increment(delta?: number): void;
  setTotal(total: number): void;
  stop(): void;
}

export function formatAmount(value: number, unit: ProgressUnit): string {
  if (unit === 'items') return Math.round(value).toLocaleString('en-US');
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = value;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${Math.round(v)} B` : `${v.toFixed(1)} ${units[i]}`;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const mm = String(m).padStart(2, '0');
  const ss = String(sec).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

export interface ProgressFigures {
  rate: number;
  etaSeconds: number;
}

/** Rate over the whole run (steadier than a windowed rate for the short jobs this serves). */
export function progressFigures(
  value: number,
  total: number | undefined,
  elapsedMs: number,
): ProgressFigures {
  const rate = elapsedMs > 0 ? (value * 1000) / elapsedMs : 0;
  const etaSeconds = total !== undefined && total > 0 && rate > 0 ? Math.max(0, total - value) / rate : NaN;
  return { rate, etaSeconds };
}

export function renderProgressLine(
  label: string,
  value: number,
  total: number | undefined,
  elapsedMs: number,
  unit: ProgressUnit,
): string {
  const { rate, etaSeconds } = progressFigures(value, total, elapsedMs);
  const rateText = `${formatAmount(rate, unit)}/s`;
  if (total === undefined || total <= 0) {
    return `${label} ${formatAmount(value, unit)} | ${rateText} | ${formatDuration(elapsedMs / 1000)}`;
  }
  const frac = Math.min(1, value / total);
  const width = 24;
  const filled = Math.round(frac * width);
  const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
  const pct = `${(frac * 100).toFixed(0).padStart(3)}%`;
  return `${label} ${bar} ${pct} ${formatAmount(value, unit)}/${formatAmount(total, unit)} | ${rateText} | ETA ${formatDuration(etaSeconds)}`;
}

const silent: Progress = {
  update() {},
  increment() {},
  setTotal() {},
  stop() {},
};

export function createProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  const enabled = options.enabled ?? (stream as { isTTY?: boolean }).isTTY === true;
  if (!enabled) return silent;
  const unit = options.unit ?? 'items';
  const now = options.now ?? Date.now;
  const started = now();
  let total = options.total;
  const bar = new cliProgress.SingleBar({
    stream,
    fps: 8,
    hideCursor: null,
    // Rendering goes through our own line so that units and the unknown-total case look the same
    // everywhere; cli-progress still does the throttled redraw and the terminal handling.
    format: (_opts, params) => renderProgressLine(options.label, params.value, total, now() - started, unit),
    noTTYOutput: !(stream as { isTTY?: boolean }).isTTY,
    gracefulExit: true,
  });
  bar.start(total ?? 0, 0);
  let value = 0;
  return {
    update(v: number) {
      value = v;
      bar.update(v);
    },
    increment(delta = 1) {
      value += delta;
      bar.update(value);
    },
    setTotal(t: number) {
      total = t;
      bar.setTotal(t);
    },
    stop() {
      bar.render();
      bar.stop();
    },
  };
}
