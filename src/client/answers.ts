import type { CycleStep } from '../statemachine/results.js';
import { resultCodes } from '../statemachine/results.js';
import { RaftlockError } from './errors.js';
import type { RaftlockErrorCode } from './errors.js';
import type { NodeStatusView } from '../protocol/client-protocol.js';
import type { Fields, WireResult } from './protocol.js';
import { fieldsOf, isUint } from './protocol.js';

const refusalCodes: ReadonlySet<string> = new Set<string>([
  ...resultCodes.filter((code) => code !== 'OK'),
  'PERMISSION_DENIED',
  'UNAUTHENTICATED',
  'UNAVAILABLE',
]);

function isCode(code: string): code is RaftlockErrorCode {
  return refusalCodes.has(code);
}

function cycleOf(value: unknown): CycleStep[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const steps: CycleStep[] = [];
  for (const item of value as readonly unknown[]) {
    const f = fieldsOf(item);
    if (f === null || !isUint(f['session']) || typeof f['lock'] !== 'string') return undefined;
    steps.push(f as unknown as CycleStep);
  }
  return steps;
}

/** The typed error for a refusal (any result whose code is not OK). */
export function errorOf(result: WireResult): RaftlockError {
  const message = typeof result['message'] === 'string' ? result['message'] : 'refused';
  if (!isCode(result.code)) {
    return new RaftlockError('INVALID_ARGUMENT', `unknown result code ${result.code}: ${message}`);
  }
  const cycle = cycleOf(result['cycle']);
  const version = isUint(result['version']) ? result['version'] : undefined;
  return new RaftlockError(result.code, message, {
    ...(cycle === undefined ? {} : { cycle }),
    ...(version === undefined ? {} : { version }),
  });
}

/** The `value` of an OK result as a map, or throws the refusal as a RaftlockError. */
export function okFields(result: WireResult): Fields {
  if (result.code !== 'OK') throw errorOf(result);
  const value = fieldsOf(result['value']);
  if (value === null) throw malformed('a map value', result['value']);
  return value;
}

/** The raw `value` of an OK result (reads may answer null), or throws the refusal. */
export function okValue(result: WireResult): unknown {
  if (result.code !== 'OK') throw errorOf(result);
  return result['value'] ?? null;
}

export function malformed(expected: string, got: unknown): RaftlockError {
  const shown = JSON.stringify(got, (_k, v: unknown) =>
    v instanceof Uint8Array ? `<${v.length} bytes>` : v,
  );
  const message = `the server answered ${String(shown).slice(0, 200)}, expected ${expected}`;
  return new RaftlockError('INVALID_ARGUMENT', message);
}

export function uintField(fields: Fields, key: string): number {
  const value = fields[key];
  if (!isUint(value)) throw malformed(`an integer ${key}`, value);
  return value;
}

/** The node's own report from a status answer. */
export function statusOf(fields: Fields): NodeStatusView {
  const status = fieldsOf(fields['status']);
  const shaped = status !== null && typeof status['role'] === 'string' && isUint(status['term']);
  if (fields['kind'] !== 'status' || status === null || !shaped) {
    throw malformed('a status answer', fields);
  }
  return status as unknown as NodeStatusView;
}
