/**
 * Checks chaos history files from the command line:
 *   npx tsx src/chaos/check-cli.ts [--steps-max N] HISTORY.jsonl...
 * Prints one verdict per model (with an explanation of any violation) and exits 0 when every
 * model's history is linearizable, 1 on a violation, 2 when a search hit its bound, 3 on a bad file.
 */
import { pathToFileURL } from 'node:url';
import { readHistory } from './history.js';
import { checkHistory } from './linearizability/check-history.js';
import { defaultStepsMax } from './linearizability/checker.js';

export function runCheckCli(argv: readonly string[]): number {
  const args = [...argv];
  let stepsMax = defaultStepsMax;
  const at = args.indexOf('--steps-max');
  if (at >= 0) {
    stepsMax = Number(args[at + 1]);
    args.splice(at, 2);
  }
  if (args.length === 0 || !(stepsMax > 0)) {
    console.error('usage: check-cli [--steps-max N] HISTORY.jsonl...');
    return 3;
  }
  const history = readHistory(args);
  if (!history.ok) {
    console.error(`bad history: ${history.error}`);
    return 3;
  }
  const result = checkHistory(history.value, { stepsMax });
  console.log(result.report);
  return result.verdict === 'ok' ? 0 : result.verdict === 'violation' ? 1 : 2;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = runCheckCli(process.argv.slice(2));
}
