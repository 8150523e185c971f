/**
 * One line per event that matters, with a level: `2026-01-01T00:00:00.000Z info  n1 became leader
 * term=3`. Quiet by default (warn and above); `--log-level` lowers the bar. Lines go to a sink
 * (stderr in production, an array in tests) so logging never interleaves with command output.
 */

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export const logLevels: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

const rank: Readonly<Record<LogLevel, number>> = { error: 0, warn: 1, info: 2, debug: 3 };

export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && Object.hasOwn(rank, value);
}

/** Extra facts of an event, printed as `key=value` (strings with spaces are quoted). */
export type LogFields = Readonly<Record<string, string | number | boolean | null>>;

export interface Logger {
  readonly level: LogLevel;
  enabled(level: LogLevel): boolean;
  error(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
  /** The same sink and level, with `name` in front of every message (the node id). */
  child(name: string): Logger;
}

/** `text`: one readable line per event; `json`: one JSON object per line, for log shippers. */
export type LogFormat = 'text' | 'json';

export const logFormats: readonly LogFormat[] = ['text', 'json'];

export interface LoggerOptions {
  readonly level: LogLevel;
  /** Default `text`. */
  readonly format?: LogFormat;
  /** Receives each complete line without its newline; default: process.stderr. */
  readonly sink?: (line: string) => void;
  readonly name?: string;
}

function formatValue(value: string | number | boolean | null): string {
  if (typeof value !== 'string') return String(value);
  return /^[^\s="]+$/.test(value) ? value : JSON.stringify(value);
}

function formatFields(fields: LogFields | undefined): string {
  if (fields === undefined) return '';
  let out = '';
  for (const [key, value] of Object.entries(fields)) out += ` ${key}=${formatValue(value)}`;
  return out;
}

/**
 * `{"time":…,"level":…,"node":…,"msg":…,…fields}`. The fixed keys come first and win: a field
 * named like one of them is kept under `field.NAME` rather than overwriting it.
 */
function jsonLine(
  time: string,
  level: LogLevel,
  name: string | undefined,
  msg: string,
  fields: LogFields | undefined,
): string {
  const line: Record<string, string | number | boolean | null> = { time, level };
  if (name !== undefined) line['node'] = name;
  line['msg'] = msg;
  for (const [key, value] of Object.entries(fields ?? {})) {
    line[Object.hasOwn(line, key) ? `field.${key}` : key] = value;
  }
  return JSON.stringify(line);
}

export function createLogger(options: LoggerOptions): Logger {
  const sink = options.sink ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const threshold = rank[options.level];
  const prefix = options.name === undefined ? '' : `${options.name} `;
  const format = options.format ?? 'text';
  const write = (level: LogLevel, message: string, fields?: LogFields): void => {
    if (rank[level] > threshold) return;
    const stamp = new Date().toISOString();
    if (format === 'json') sink(jsonLine(stamp, level, options.name, message, fields));
    else sink(`${stamp} ${level.padEnd(5)} ${prefix}${message}${formatFields(fields)}`);
  };
  return {
    level: options.level,
    enabled: (level) => rank[level] <= threshold,
    error: (message, fields) => write('error', message, fields),
    warn: (message, fields) => write('warn', message, fields),
    info: (message, fields) => write('info', message, fields),
    debug: (message, fields) => write('debug', message, fields),
    child: (name) => {
      const full = options.name === undefined ? name : `${options.name}/${name}`;
      return createLogger({ level: options.level, format, sink, name: full });
    },
  };
}

/** Discards everything (embedding defaults). */
export const silentLogger: Logger = createLogger({ level: 'error', sink: () => undefined });
