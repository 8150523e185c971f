// The command line of the bench programs: `--name value` options and bare `--name` switches, read
// from process.argv wherever they stand.

/** The value after `name` on the command line, or undefined when `name` is not there. */
export function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** Whether the switch `name` is on the command line. */
export function has(name: string): boolean {
  return process.argv.includes(name);
}

/** How long a bench that runs one loop after a warm-up measures, and where its data goes. */
export interface LoopWindow {
  readonly short: boolean;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly dataParent: string;
  /** Both durations are usable: seconds > 0, warm-up >= 0 (a typo reads as NaN and fails). */
  readonly valid: boolean;
}

/**
 * `--seconds N` (default 10), `--warmup N` (default 3) and `--dir PATH` (default `tmpdir`); with
 * `--short`, one second of each, as CI runs them.
 */
export function loopWindow(tmpdir: string): LoopWindow {
  const short = has('--short');
  const seconds = Number(flag('--seconds') ?? (short ? '1' : '10'));
  const warmupSeconds = Number(flag('--warmup') ?? (short ? '1' : '3'));
  const dataParent = flag('--dir') ?? tmpdir;
  return { short, seconds, warmupSeconds, dataParent, valid: seconds > 0 && warmupSeconds >= 0 };
}

/** The modes an `on|off|both` option asks for (on first), or null for any other value. */
export function onOffBoth(value: string): readonly boolean[] | null {
  if (value === 'both') return [true, false];
  if (value === 'on' || value === 'off') return [value === 'on'];
  return null;
}
