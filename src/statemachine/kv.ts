import type { Fence } from './commands.js';
import type { ApplyContext } from './context.js';
import { emitEvent } from './context.js';
import type { CommandResult } from './results.js';
import { failure, okResult } from './results.js';
import type { KeyRecord, LockState, Session } from './state.js';
import { compareStrings } from './state.js';

/** Whether `token` is a current grant of `lock` (any holder's, for shared kinds). */
export function isCurrentToken(state: LockState, lock: string, token: number): boolean {
  const record = state.locks.get(lock);
  if (record === undefined) return false;
  for (const hold of record.holders.values()) if (hold.token === token) return true;
  return false;
}

function checkFence(state: LockState, fence: Fence | null): CommandResult | null {
  if (fence === null || isCurrentToken(state, fence.lock, fence.token)) return null;
  return failure('STALE_TOKEN', `token ${fence.token} is not a current grant of ${fence.lock}`);
}

function checkVersion(key: string, current: KeyRecord | undefined, ifVersion: number | null): CommandResult | null {
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
 * put: fence first (a stale holder learns STALE_TOKEN even if its version is right), then the
 * compare-and-set on ifVersion (0 = must not exist), then the write. An ephemeral put binds the
 * key to the session; a plain put makes it persistent again.
 */
export function put(
  ctx: ApplyContext,
  session: Session,
  key: string,
  value: Uint8Array,
  ifVersion: number | null,
  ephemeral: boolean,
  fence: Fence | null,
): CommandResult {
  const state = ctx.state;
  const current = state.keys.get(key);
  const refused = checkFence(state, fence) ?? checkVersion(key, current, ifVersion);
  if (refused !== null) return refused;
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

/** delete: fence, then ifVersion (0 = must not exist, so it only succeeds on a missing key). */
export function deleteKey(
  ctx: ApplyContext,
  key: string,
  ifVersion: number | null,
  fence: Fence | null,
): CommandResult {
  const state = ctx.state;
  const current = state.keys.get(key);
  const refused = checkFence(state, fence) ?? checkVersion(key, current, ifVersion);
  if (refused !== null) return refused;
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
