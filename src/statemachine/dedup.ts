import type { CommandResult } from './results.js';
import type { LockState, Session } from './state.js';

/** What the client table says about an incoming (clientId, seq). */
export type DedupVerdict =
  | { readonly kind: 'new' }
  | { readonly kind: 'duplicate'; readonly result: CommandResult }
  | { readonly kind: 'stale'; readonly lastSeq: number }
  /** The client id's entry belongs to another principal: neither read nor overwritten. */
  | { readonly kind: 'foreign'; readonly principal: string | null };

/**
 * Exactly once (Raft dissertation §6.3): the table keeps each client's last seq and its result.
 * The same seq again returns that result and changes nothing; a lower seq is refused, because its
 * result is no longer kept (under one client id commands go one at a time, in seq order; the
 * client library keeps several in flight under several ids, its lanes: src/client/lanes.ts).
 */
const fresh: DedupVerdict = { kind: 'new' };

export function checkDuplicate(
  state: LockState,
  clientId: string,
  seq: number,
  principal: string | null,
): DedupVerdict {
  const entry = state.clients.get(clientId);
  if (entry === undefined) return fresh;
  if (entry.principal !== principal) return { kind: 'foreign', principal: entry.principal };
  if (seq > entry.seq) return fresh;
  if (seq === entry.seq) return { kind: 'duplicate', result: entry.result };
  return { kind: 'stale', lastSeq: entry.seq };
}

/**
 * Records a client's result, bound to the live session it acted in (trimmed when that ends) and
 * to the principal it acted as.
 */
export function recordResult(
  state: LockState,
  clientId: string,
  seq: number,
  result: CommandResult,
  session: Session,
  principal: string | null,
): void {
  const previous = state.clients.get(clientId);
  if (previous !== undefined && previous.session === session.id && previous.principal === principal) {
    // The common case, updated in place: one allocation less per command.
    previous.seq = seq;
    previous.result = result;
    return;
  }
  if (previous !== undefined) state.sessions.get(previous.session)?.clients.delete(clientId);
  state.clients.set(clientId, { seq, result, session: session.id, principal });
  session.clients.add(clientId);
}

/**
 * A queued request finished later (granted or timed out): if it is still the client's last
 * command, its cached result becomes the final one, so a retry learns the outcome.
 */
export function updateResult(state: LockState, clientId: string, seq: number, result: CommandResult): void {
  const entry = state.clients.get(clientId);
  if (entry !== undefined && entry.seq === seq) entry.result = result;
}

/** Drops the entries of every client whose last command ran in the ended session. */
export function trimClients(state: LockState, session: Session): void {
  for (const clientId of session.clients) {
    const entry = state.clients.get(clientId);
    if (entry !== undefined && entry.session === session.id) state.clients.delete(clientId);
  }
  session.clients.clear();
}
