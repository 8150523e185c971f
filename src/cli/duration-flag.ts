/**
 * The one reading of a duration given on the command line: every `--ttl`, `--wait`, `--timeout`,
 * `sim --duration` and the chaos run's `--duration`/`--ttl`. It is cluster.yml's rule
 * (src/util/units.ts): a unit is required. A bare number is refused rather than guessed, since
 * `5` read as seconds by one flag and as milliseconds by another is how a run silently lasts a
 * thousand times shorter or longer than meant.
 */
import { InvalidArgumentError, Option } from 'commander';
import { checkDuration, formatDurationMs } from '../util/units.js';

export { checkDuration };

/** checkDuration for commander: a refusal is a usage error (exit 2, docs/cli.md). */
export function parseDurationFlag(text: string): number {
  const parsed = checkDuration(text);
  if (!parsed.ok) throw new InvalidArgumentError(parsed.error);
  return parsed.value;
}

/** A duration option (`15s`, `500ms`) whose help shows its default as a duration. */
export function durationFlag(flags: string, description: string, defaultMs: number): Option {
  return new Option(flags, description).argParser(parseDurationFlag).default(defaultMs, formatDurationMs(defaultMs));
}
