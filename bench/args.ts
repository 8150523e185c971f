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
