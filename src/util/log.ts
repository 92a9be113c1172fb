// The one logger of library code: progress and notes go to stderr (stdout is for results), at a
// level a command sets from its flags (`--quiet`: warnings and errors only; `--log-json`: one JSON
// object per line, for machines). Library code calls log.info / log.warn instead of writing to
// process.stderr itself, so a program embedding kep can silence or redirect it (configureLog).
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LogSettings {
  level: LogLevel;
  json: boolean;
  /** Where lines go (default: process.stderr). */
  write: (line: string) => void;
}

const settings: LogSettings = {
  level: 'info',
  json: false,
  write: (line) => void process.stderr.write(line),
};

export function configureLog(s: Partial<LogSettings>): void {
  Object.assign(settings, s);
}

export function logSettings(): Readonly<LogSettings> {
  return settings;
}

function emit(level: Exclude<LogLevel, 'silent'>, message: string): void {
  if (LOG_LEVELS.indexOf(level) < LOG_LEVELS.indexOf(settings.level)) return;
  if (settings.json)
    settings.write(`${JSON.stringify({ time: new Date().toISOString(), level, message })}\n`);
  else settings.write(`${level === 'warn' ? 'warning: ' : level === 'error' ? 'error: ' : ''}${message}\n`);
}

export const log = {
  debug: (m: string): void => emit('debug', m),
  info: (m: string): void => emit('info', m),
  warn: (m: string): void => emit('warn', m),
  error: (m: string): void => emit('error', m),
};
