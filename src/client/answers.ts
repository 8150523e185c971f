/**
 * Reading a node's answers. Every frame was decoded by the protocol's one decoder
 * (`decodeServerFrame`, src/protocol/client-protocol.ts), so a result here is the typed
 * `WireResult`: a refusal becomes a RaftlockError, an OK value is read by its `kind`.
 */
import type { Refusal, WireAnswer, WireResult, WireValue } from '../protocol/client-protocol.js';
import { assertNever } from '../util/assert.js';
import { RaftlockError } from './errors.js';

/** The typed error for a refusal, keeping DEADLOCK's cycle and VERSION_MISMATCH's version. */
export function errorOf(result: Refusal): RaftlockError {
  switch (result.code) {
    case 'DEADLOCK':
      return new RaftlockError(result.code, result.message, { cycle: result.cycle });
    case 'VERSION_MISMATCH':
      return new RaftlockError(result.code, result.message, { version: result.version });
    case 'BUSY':
    case 'TIMEOUT':
    case 'NOT_HOLDER':
    case 'SESSION_EXPIRED':
    case 'STALE_TOKEN':
    case 'COMPACTED':
    case 'INVALID_ARGUMENT':
    case 'PERMISSION_DENIED':
    case 'NOT_LEADER':
    case 'UNAVAILABLE':
      return new RaftlockError(result.code, result.message);
    default:
      return assertNever(result, 'result code');
  }
}

/** The value of an OK result, or throws the refusal as a RaftlockError. */
export function okValue(result: WireResult): WireValue {
  if (result.code !== 'OK') throw errorOf(result);
  return result.value;
}

function isKind<K extends WireValue['kind']>(value: WireValue, kind: K): value is WireAnswer<K> {
  return value.kind === kind;
}

/**
 * The OK value of `kind` (the answer the request asked for), or throws: the refusal, or
 * INVALID_ARGUMENT naming what came instead when the node answered another kind.
 */
export function answerOf<K extends WireValue['kind']>(result: WireResult, kind: K): WireAnswer<K> {
  const value = okValue(result);
  if (!isKind(value, kind)) throw malformed(`a ${kind} answer`, value);
  return value;
}

/** An answer of the wrong kind for its request: the client cannot use it. */
export function malformed(expected: string, got: unknown): RaftlockError {
  const shown = JSON.stringify(got, (_k, v: unknown) => (v instanceof Uint8Array ? `<${v.length} bytes>` : v));
  const message = `the server answered ${String(shown).slice(0, 200)}, expected ${expected}`;
  return new RaftlockError('INVALID_ARGUMENT', message);
}
