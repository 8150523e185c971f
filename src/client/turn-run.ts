import { turnsMax } from '../statemachine/commands.js';
import type { FencingToken } from '../statemachine/ids.js';
import { fencingToken } from '../statemachine/ids.js';
import type { RaftlockError } from './errors.js';
import type { Lock } from './lock.js';
import type { ClientSession } from './session.js';

/** A grant as a caller receives it: its first token, and how many consecutive tokens it reserved. */
export interface Granted {
  readonly token: FencingToken;
  readonly turns: number;
}

/**
 * The turns of a grant from an answer or push: 1 unless it names a run (2 to turnsMax). A value out
 * of range is read as 1, so the client never passes a hold under tokens the cluster did not reserve.
 */
export function grantedTurns(value: { readonly turns?: unknown }): number {
  const turns = value.turns;
  return typeof turns === 'number' && Number.isSafeInteger(turns) && turns >= 2 && turns <= turnsMax ? turns : 1;
}

/**
 * One mutex grant that reserved consecutive tokens for this client's callers queued for the name
 * when the handoff asking for it was sent (docs/client.md, "Runs of turns"). The client passes the
 * hold from caller to caller under the next token, without a command, while tokens are left and
 * the next caller in line is one of those; the cluster knows the run as one hold under its first
 * token, which revocations name.
 */
export class TurnRun {
  /** The token the next caller of the run gets. */
  private next: number;
  private readonly last: number;
  /** The caller holding the run now; null between a pass and the next caller's Lock. */
  current: Lock | null = null;
  /** Set when the cluster told that the hold ended by someone else's hand: no more passes. */
  revokedBy: RaftlockError | null = null;

  constructor(
    readonly session: ClientSession,
    readonly name: string,
    /** The grant's token: the cluster's name for the whole run. */
    readonly holdToken: FencingToken,
    turns: number,
    /** The arrival number (NameQueue.arrivals) by which a caller must have queued to be in the run. */
    readonly arrivedBy: number,
  ) {
    this.next = holdToken + 1;
    this.last = holdToken + turns - 1;
  }

  /** The token for the next caller, or null when the run is used up, revoked or its session lost. */
  nextToken(): FencingToken | null {
    if (this.next > this.last || this.revokedBy !== null || this.session.isLost) return null;
    return fencingToken(this.next);
  }

  /** The hold went to the next caller under `nextToken()`: that token is used, whatever comes. */
  passed(): void {
    this.next++;
    this.current = null;
  }
}
