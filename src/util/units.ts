/**
 * Human-written durations and sizes, as they appear in cluster.yml: `500ms`, `15s`, `2m`, `1h`;
 * `512B`, `64KiB`, `4MiB`, `1GiB`. Units are binary for sizes (1 KiB = 1024 bytes) because every
 * limit they feed (frames, buffers, snapshots) is a memory size. Parsing is strict: a unit is
 * required, the result must be a whole number of milliseconds or bytes, and it must be a safe
 * integer, so a typo is refused instead of silently becoming a surprising value.
 */
import type { Result } from './result.js';
import { err, ok } from './result.js';

const durationUnitsMs: ReadonlyMap<string, number> = new Map([
  ['ms', 1],
  ['s', 1000],
  ['m', 60_000],
  ['h', 3_600_000],
]);

const sizeUnitsBytes: ReadonlyMap<string, number> = new Map([
  ['B', 1],
  ['KiB', 1024],
  ['MiB', 1024 ** 2],
  ['GiB', 1024 ** 3],
]);

const quantityPattern = /^(\d+(?:\.\d+)?)\s*([A-Za-z]+)$/;

function parseQuantity(
  text: string,
  units: ReadonlyMap<string, number>,
  what: 'duration' | 'size',
  example: string,
): Result<number, string> {
  const match = quantityPattern.exec(text.trim());
  const quoted = JSON.stringify(text);
  const unitList = [...units.keys()].join(', ');
  if (match === null) {
    return err(`${quoted} is not a ${what} (write it like ${example}; units: ${unitList})`);
  }
  const [, amount = '', unit = ''] = match;
  const scale = units.get(unit);
  if (scale === undefined) {
    return err(`unknown ${what} unit ${JSON.stringify(unit)} in ${quoted} (units: ${unitList})`);
  }
  const value = Number(amount) * scale;
  if (!Number.isSafeInteger(value)) {
    const base = what === 'duration' ? 'milliseconds' : 'bytes';
    return err(`${quoted} is not a whole number of ${base} or is too large`);
  }
  return ok(value);
}

/** `'15s'` → 15000. */
export function parseDurationMs(text: string): Result<number, string> {
  return parseQuantity(text, durationUnitsMs, 'duration', '500ms, 15s or 2m');
}

/** `'4MiB'` → 4194304. */
export function parseSizeBytes(text: string): Result<number, string> {
  return parseQuantity(text, sizeUnitsBytes, 'size', '64KiB or 4MiB');
}

/** The largest unit that divides `ms` exactly: 15000 → `'15s'`. For messages and docs. */
export function formatDurationMs(ms: number): string {
  for (const [unit, scale] of [...durationUnitsMs].reverse()) {
    if (ms !== 0 && ms % scale === 0) return `${ms / scale}${unit}`;
  }
  return `${ms}ms`;
}

/** The largest unit that divides `bytes` exactly: 4194304 → `'4MiB'`. */
export function formatSizeBytes(bytes: number): string {
  for (const [unit, scale] of [...sizeUnitsBytes].reverse()) {
    if (bytes !== 0 && bytes % scale === 0) return `${bytes / scale}${unit}`;
  }
  return `${bytes}B`;
}

/**
 * A duration typed by a person (a flag, the chaos run's options): `60s` → 60000; a bare `60` → an
 * error that says to add a unit, rather than parseDurationMs's general one.
 */
export function checkDuration(text: string): Result<number, string> {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) {
    return err(
      `${JSON.stringify(text)} has no unit: add one, like ${trimmed}s or ${trimmed}ms ` +
        '(a duration is written with a unit, like 500ms, 60s or 2m; units: ms, s, m, h)',
    );
  }
  return parseDurationMs(trimmed);
}
