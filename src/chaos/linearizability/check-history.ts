/**
 * Runs every model's linearizability check over one chaos history and renders one report. A run
 * fails on any violation; "unknown" (a search past its bound) is reported as such, never as a pass.
 */
import type { HistoryOp } from '../history.js';
import { checkLinearizable, formatCheck } from './checker.js';
import type { CheckOptions } from './checker.js';
import { splitHistory } from './from-history.js';
import { mutexModel } from './models/mutex.js';
import { semaphoreModel } from './models/semaphore.js';
import { kvModel } from './models/kv.js';
import { fenceModel } from './models/fence.js';

export type HistoryVerdict = {
  readonly verdict: 'ok' | 'violation' | 'unknown';
  readonly report: string;
};

export function checkHistory(history: readonly HistoryOp[], options: CheckOptions = {}): HistoryVerdict {
  const ops = splitHistory(history);
  const results: { verdict: 'ok' | 'violation' | 'unknown'; text: string }[] = [];
  const mutex = checkLinearizable(mutexModel, ops.mutex, options);
  results.push({ verdict: mutex.verdict, text: formatCheck(mutexModel, mutex) });
  const sem = checkLinearizable(semaphoreModel, ops.semaphore, options);
  results.push({ verdict: sem.verdict, text: formatCheck(semaphoreModel, sem) });
  const kv = checkLinearizable(kvModel, ops.kv, options);
  results.push({ verdict: kv.verdict, text: formatCheck(kvModel, kv) });
  const fence = checkLinearizable(fenceModel, ops.fence, options);
  results.push({ verdict: fence.verdict, text: formatCheck(fenceModel, fence) });
  const verdict = results.some((r) => r.verdict === 'violation')
    ? 'violation'
    : results.some((r) => r.verdict === 'unknown')
      ? 'unknown'
      : 'ok';
  return { verdict, report: results.map((r) => r.text).join('\n') };
}
