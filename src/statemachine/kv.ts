import type { Fence, Operation } from './commands.js';
import type { ApplyContext } from './context.js';
import { emitEvent } from './context.js';
import type { CommandResult } from './results.js';
import { failure, okResult } from './results.js';
import type { Hold, KeyRecord, LockState, Session } from './state.js';
import { compareStrings } from './state.js';

/**
 * The hold of `lock` that `token` is current for, if any (any holder's, for shared kinds). A run's
 * hold is current for each of its tokens from the largest one a fenced write has used on
 * (docs/statemachine.md, "Runs of turns"): the run's callers use them in order, so a smaller one
 * belongs to a caller whose turn has passed.
 */
function holdOfToken(state: LockState, lock: string, token: number): Hold | undefined {
  const record = state.locks.get(lock);
  if (record === undefined) return undefined;
  for (const hold of record.holders.values()) {
    if (hold.turns === 1 ? token === hold.token : token >= hold.fenced && token < hold.token + hold.turns) return hold;
  }
  return undefined;
}

/** Whether `token` is a current grant of `lock` (see holdOfToken). */
export function isCurrentToken(state: LockState, lock: string, token: number): boolean {
  return holdOfToken(state, lock, token) !== undefined;
}

/** After a fenced write is applied: its run's earlier tokens are stale from now on. */
function raiseFence(state: LockState, fence: Fence | null): void {
  if (fence === null) return;
  const hold = holdOfToken(state, fence.lock, fence.token);
  if (hold !== undefined && hold.turns > 1) hold.fenced = fence.token;
}

type PutOperation = Extract<Operation, { type: 'put' }>;
type DeleteOperation = Extract<Operation, { type: 'delete' }>;

/**
 * Why a key write (put or delete) is refused, or null. The fence comes first, so a stale holder
 * learns STALE_TOKEN even if its version is right; then the compare-and-set on ifVersion (0 = the
 * key must not exist) against `current`, the key's record as it stands.
 */
function refuseWrite(
  state: LockState,
  write: PutOperation | DeleteOperation,
  current: KeyRecord | undefined,
): CommandResult | null {
  const { key, ifVersion, fence } = write;
  if (fence !== null && !isCurrentToken(state, fence.lock, fence.token)) {
    return failure('STALE_TOKEN', `token ${fence.token} is not a current grant of ${fence.lock}`);
  }
  const version = current?.version ?? 0;
  if (ifVersion === null || ifVersion === version) return null;
  return {
    code: 'VERSION_MISMATCH',
    message: `${key} is at version ${version}, not ${ifVersion}`,
    version,
  };
}

function unbind(state: LockState, key: string, record: KeyRecord | undefined): void {
  if (record?.session !== null && record?.session !== undefined) {
    state.sessions.get(record.session)?.keys.delete(key);
  }
}

/**
 * put: unless refused (see refuseWrite), the write. An ephemeral put binds the key to the session;
 * a plain put makes it persistent again.
 */
export function put(ctx: ApplyContext, session: Session, op: PutOperation): CommandResult {
  const { key, value, ephemeral } = op;
  const state = ctx.state;
  const current = state.keys.get(key);
  const refused = refuseWrite(state, op, current);
  if (refused !== null) return refused;
  raiseFence(state, op.fence);
  unbind(state, key, current);
  const record: KeyRecord = {
    value,
    version: (current?.version ?? 0) + 1,
    createIndex: current?.createIndex ?? ctx.index,
    modifyIndex: ctx.index,
    session: ephemeral ? session.id : null,
  };
  state.keys.set(key, record);
  if (ephemeral) session.keys.add(key);
  emitEvent(ctx, { type: 'put', index: ctx.index, key, version: record.version, value });
  return okResult({
    kind: 'put',
    key,
    version: record.version,
    createIndex: record.createIndex,
    modifyIndex: record.modifyIndex,
  });
}

/** delete: unless refused (see refuseWrite; ifVersion 0 only succeeds on a missing key), the delete. */
export function deleteKey(ctx: ApplyContext, op: DeleteOperation): CommandResult {
  const key = op.key;
  const state = ctx.state;
  const current = state.keys.get(key);
  const refused = refuseWrite(state, op, current);
  if (refused !== null) return refused;
  raiseFence(state, op.fence);
  if (current === undefined) return okResult({ kind: 'deleted', key, existed: false });
  unbind(state, key, current);
  state.keys.delete(key);
  emitEvent(ctx, { type: 'delete', index: ctx.index, key });
  return okResult({ kind: 'deleted', key, existed: true });
}

/** Deletes a session's ephemeral keys, in key order (the same on every replica). */
export function deleteEphemeralKeys(ctx: ApplyContext, session: Session): void {
  const keys = [...session.keys].sort(compareStrings);
  for (const key of keys) {
    const record = ctx.state.keys.get(key);
    if (record?.session !== session.id) continue;
    ctx.state.keys.delete(key);
    emitEvent(ctx, { type: 'delete', index: ctx.index, key });
  }
  session.keys.clear();
}
