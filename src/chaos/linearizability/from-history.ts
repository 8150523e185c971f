/**
 * From the chaos history to each model's operations. Failed operations are dropped (they certainly
 * had no effect); unknown ones keep `output: undefined` and return at +∞. A session end touches
 * every lock and semaphore, so it is copied into each of their partitions: checking each object on
 * its own with the same window is weaker than one atomic end, never stronger, so it cannot raise a
 * false alarm.
 */
import { assertNever } from '../../util/assert.js';
import type { ChaosOp, ChaosResult, HistoryOp } from '../history.js';
import type { Operation } from './model.js';
import type { MutexInput, MutexOutput } from './models/mutex.js';
import type { SemaphoreInput, SemaphoreOutput } from './models/semaphore.js';
import type { KvInput, KvOutput } from './models/kv.js';
import type { FenceInput, FenceOutput } from './models/fence.js';

export type ModelOperations = {
  readonly mutex: Operation<MutexInput, MutexOutput>[];
  readonly semaphore: Operation<SemaphoreInput, SemaphoreOutput>[];
  readonly kv: Operation<KvInput, KvOutput>[];
  readonly fence: Operation<FenceInput, FenceOutput>[];
};

type Timing = { readonly id: string; readonly process: string; readonly callUs: number; readonly returnUs: number };

function resultOf(h: HistoryOp): ChaosResult | undefined {
  return h.outcome === 'ok' ? h.result : undefined;
}

export function splitHistory(history: readonly HistoryOp[]): ModelOperations {
  const out: ModelOperations = { mutex: [], semaphore: [], kv: [], fence: [] };
  const locks = new Set<string>();
  const sems = new Map<string, number>();
  for (const h of history) {
    if (h.op.type === 'lock.acquire' || h.op.type === 'lock.release') locks.add(h.op.lock);
    if (h.op.type === 'sem.acquire' || h.op.type === 'sem.release') sems.set(h.op.sem, h.op.limit);
  }
  for (const h of history) {
    if (h.outcome === 'fail') continue;
    const t: Timing = { id: h.id, process: h.process, callUs: h.invokeUs, returnUs: h.completeUs };
    const r = resultOf(h);
    const op: ChaosOp = h.op;
    switch (op.type) {
      case 'lock.acquire':
        out.mutex.push({
          ...t,
          input: { type: 'acquire', lock: op.lock, owner: op.owner },
          output: r?.type === 'lock.acquire' ? { type: 'acquire', token: r.token } : undefined,
        });
        break;
      case 'lock.release':
        out.mutex.push({
          ...t,
          input: { type: 'release', lock: op.lock, owner: op.owner, token: op.token },
          output: r?.type === 'lock.release' ? { type: 'release', released: r.released } : undefined,
        });
        break;
      case 'sem.acquire':
        out.semaphore.push({
          ...t,
          input: { type: 'acquire', sem: op.sem, owner: op.owner, limit: op.limit },
          output: r?.type === 'sem.acquire' ? { type: 'acquire', acquired: r.acquired } : undefined,
        });
        break;
      case 'sem.release':
        out.semaphore.push({
          ...t,
          input: { type: 'release', sem: op.sem, owner: op.owner },
          output: r?.type === 'sem.release' ? { type: 'release', released: r.released } : undefined,
        });
        break;
      case 'session.end':
        for (const lock of [...locks].sort()) {
          out.mutex.push({
            ...t,
            id: `${h.id}@${lock}`,
            input: { type: 'end', lock, owner: op.owner },
            output: r === undefined ? undefined : { type: 'end' },
          });
        }
        for (const sem of [...sems.keys()].sort()) {
          out.semaphore.push({
            ...t,
            id: `${h.id}@${sem}`,
            input: { type: 'end', sem, owner: op.owner },
            output: r === undefined ? undefined : { type: 'end' },
          });
        }
        break;
      case 'kv.put':
        out.kv.push({
          ...t,
          input: { type: 'put', key: op.key, value: op.value, ifVersion: op.ifVersion },
          output: r?.type === 'kv.put' ? { type: 'put', ok: r.ok, version: r.version } : undefined,
        });
        break;
      case 'kv.get':
        out.kv.push({
          ...t,
          input: { type: 'get', key: op.key },
          output: r?.type === 'kv.get' ? { type: 'get', value: r.value, version: r.version } : undefined,
        });
        break;
      case 'kv.delete':
        out.kv.push({
          ...t,
          input: { type: 'delete', key: op.key, ifVersion: op.ifVersion },
          output: r?.type === 'kv.delete' ? { type: 'delete', deleted: r.deleted } : undefined,
        });
        break;
      case 'fence.write':
        out.fence.push({
          ...t,
          input: { resource: op.resource, token: op.token, value: op.value },
          output: r?.type === 'fence.write' ? { accepted: r.accepted } : undefined,
        });
        break;
      default:
        assertNever(op, 'chaos op');
    }
  }
  return out;
}
