// Reading a history file back checks every operation and result field by field: each kind of
// operation and result a client writes reads back equal, a missing or mistyped field of any of them
// is refused naming the line, a field no kind has is left behind, and a type that is not one of
// ours (including inherited names such as "constructor") is refused.
import t from 'tap';
import { parseHistoryText } from '../../src/chaos/history.js';
import type { ChaosOp, ChaosResult } from '../../src/chaos/history.js';

const ops: readonly ChaosOp[] = [
  { type: 'lock.acquire', lock: 'L', owner: 's1' },
  { type: 'lock.release', lock: 'L', owner: 's1', token: 7 },
  { type: 'sem.acquire', sem: 'S', owner: 's1', limit: 2 },
  { type: 'sem.release', sem: 'S', owner: 's1', limit: 2 },
  { type: 'session.end', owner: 's1' },
  { type: 'kv.put', key: 'k', value: 'v', ifVersion: null },
  { type: 'kv.put', key: 'k', value: 'v', ifVersion: 3 },
  { type: 'kv.get', key: 'k' },
  { type: 'kv.delete', key: 'k', ifVersion: null },
  { type: 'fence.write', resource: 'R', token: 7, value: 'x' },
];

const results: readonly ChaosResult[] = [
  { type: 'lock.acquire', token: 7 },
  { type: 'lock.release', released: true },
  { type: 'sem.acquire', acquired: false },
  { type: 'sem.release', released: false },
  { type: 'session.end' },
  { type: 'kv.put', ok: true, version: 4 },
  { type: 'kv.get', value: null, version: 0 },
  { type: 'kv.get', value: 'v', version: 2 },
  { type: 'kv.delete', deleted: true },
  { type: 'fence.write', accepted: false },
];

const invokeLine = (op: unknown): string => JSON.stringify({ kind: 'invoke', id: 'x', process: 'p', atUs: 1, op });
const completeLine = (result: unknown): string =>
  JSON.stringify({ kind: 'complete', id: 'x', process: 'p', atUs: 2, outcome: 'ok', result });

function readOp(op: unknown): unknown {
  const parsed = parseHistoryText(`${invokeLine(op)}\n`, 'h.jsonl');
  if (!parsed.ok) return parsed.error;
  const event = parsed.value[0];
  return event?.kind === 'invoke' ? event.op : 'not an invocation';
}

function readResult(result: unknown): unknown {
  const parsed = parseHistoryText(`${completeLine(result)}\n`, 'h.jsonl');
  if (!parsed.ok) return parsed.error;
  const event = parsed.value[0];
  return event?.kind === 'complete' && event.outcome === 'ok' ? event.result : 'not an ok completion';
}

/** Every way to spoil one field of a record: drop it, or give it a value of another type. */
function spoiled(record: Record<string, unknown>): { readonly how: string; readonly value: Record<string, unknown> }[] {
  return Object.keys(record)
    .filter((field) => field !== 'type')
    .flatMap((field) => {
      const { [field]: _dropped, ...without } = record;
      // A string where a number or boolean belongs; true where a string (or null) does.
      const wrong = typeof record[field] === 'number' || typeof record[field] === 'boolean' ? 'twelve' : true;
      return [
        { how: `without ${field}`, value: without },
        { how: `${field} as ${typeof wrong}`, value: { ...record, [field]: wrong } },
      ];
    });
}

t.test('every operation and result reads back equal', async (t) => {
  for (const op of ops) t.same(readOp(op), op, op.type);
  for (const result of results) t.same(readResult(result), result, result.type);
});

t.test('a missing or mistyped field of any operation or result is refused, naming the line', async (t) => {
  for (const op of ops) {
    for (const { how, value } of spoiled(op)) t.match(readOp(value), /^h\.jsonl:1: bad op/, `${op.type} ${how}`);
  }
  for (const result of results) {
    for (const { how, value } of spoiled(result)) {
      t.match(readResult(value), /^h\.jsonl:1: bad result/, `${result.type} ${how}`);
    }
  }
});

t.test('fields no kind has are left behind; unknown and inherited types are refused', async (t) => {
  t.same(readOp({ type: 'kv.get', key: 'k', extra: 1 }), { type: 'kv.get', key: 'k' });
  t.same(readResult({ type: 'session.end', token: 3 }), { type: 'session.end' });
  for (const type of ['lock.steal', 'constructor', 'toString', '__proto__', 7, null]) {
    t.match(readOp({ type, key: 'k' }), /^h\.jsonl:1: bad op/, `op type ${String(type)}`);
    t.match(readResult({ type }), /^h\.jsonl:1: bad result/, `result type ${String(type)}`);
  }
});
