import type { ApplyContext } from './context.js';
import { emitEvent } from './context.js';
import type { LockAsk, Revocation } from './locks.js';
import { releaseLock, requestLock } from './locks.js';
import type { CommandResult } from './results.js';
import { failure, okResult } from './results.js';
import type { Session } from './state.js';

/**
 * Leader election on a mutex: campaign waits to hold the name (FIFO, like acquire) and carries the
 * candidate's value; the holder is the leader and its token the leadership's fencing token. Every
 * change of leader or value is a `leader` watch event, which is what observers follow.
 */
export function campaign(ctx: ApplyContext, ask: LockAsk, value: Uint8Array): CommandResult {
  return requestLock(ctx, ask, { kind: 'election', mode: 'exclusive', permits: 1, value });
}

/**
 * Resign: the leader steps down and the next candidate in line is elected in the same step.
 * `revocation`: another client ends this session's leadership (the leader is told first).
 */
export function resign(
  ctx: ApplyContext,
  session: Session,
  name: string,
  revocation: Revocation | null,
): CommandResult {
  return releaseLock(ctx, session, name, ['election'], revocation);
}

/** Proclaim: the leader changes its value without giving up leadership (NOT_HOLDER otherwise). */
export function proclaim(ctx: ApplyContext, session: Session, name: string, value: Uint8Array): CommandResult {
  const lock = ctx.state.locks.get(name);
  const hold = lock?.holders.get(session.id);
  if (lock === undefined || hold === undefined) {
    return failure('NOT_HOLDER', `session ${session.id} does not lead ${name}`);
  }
  if (lock.kind !== 'election') return failure('INVALID_ARGUMENT', `${name} is a ${lock.kind}`);
  hold.value = value;
  emitEvent(ctx, { type: 'leader', index: ctx.index, lock: name, session: session.id, token: hold.token, value });
  return okResult({ kind: 'proclaimed', name, token: hold.token });
}
