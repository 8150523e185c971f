import { checkInvariants } from '../../statemachine/invariants.js';
import type { SessionId } from '../../statemachine/ids.js';
import type { LockState, Waiter } from '../../statemachine/state.js';
import type { CommandResult, Notification } from '../../statemachine/results.js';
import type { WireResult } from '../../protocol/client-protocol.js';
import { Violation } from './violation.js';

interface GrantRecord {
  readonly lock: string;
  readonly session: number;
  readonly index: number;
}

interface QueuedWaiter {
  readonly id: number;
  readonly session: number;
}

interface Belief {
  readonly token: number;
  readonly exclusive: boolean;
  readonly untilMs: number;
}

/**
 * Lock safety, checked on every replica after every command it applies (ServerCore's
 * `onApplied` hook calls `afterApply` from inside the apply loop):
 * - the state machine's own invariants (`checkInvariants`: one exclusive holder, readers only
 *   without a writer, at most `permits` semaphore holders, consistent sessions and queues);
 * - along the log, each lock's fencing tokens strictly increase (a grant comes after every token
 *   a run of turns before it reserved), and every replica grants the same token to the same
 *   session at the same index;
 * - FIFO: a waiter is never granted while one queued before it on the same lock still waits;
 * - each (clientId, seq) takes effect at most once: every final answer to it is the same, and a
 *   replica that applies it again (a retry that reached the log twice) gets the first result back;
 * - an acknowledged grant is in the canonical log (and stays: the log checkers pin it);
 * - clients that honour the safety margin never both believe they hold one exclusive lock.
 */
export class LockSafetyChecker {
  private readonly grants = new Map<number, GrantRecord>();
  /** Per lock: the index of its latest grant and the last token that grant reserved. */
  private readonly lastGrant = new Map<string, { readonly index: number; readonly token: number }>();
  private readonly queues = new Map<string, Map<string, readonly QueuedWaiter[]>>();
  private readonly answers = new Map<string, string>();
  /** Per replica: `clientId/seq` → the first successful result it took effect with. */
  private readonly effects = new Map<
    string,
    Map<string, { readonly text: string; readonly session: SessionId | null }>
  >();
  private readonly beliefs = new Map<string, Map<string, Belief>>();
  /** Off once the run leaves the documented clock bound (a clock jump): see docs/statemachine.md. */
  beliefChecks = true;
  beliefsChecked = 0;
  /** Overlapping beliefs seen while the checks were off (outside the clock bound). */
  overlapsOutsideBound = 0;

  /** The node's state was rebuilt (restart, snapshot): its earlier queues say nothing now. */
  onReset(node: string): void {
    this.queues.delete(node);
    this.effects.delete(node);
  }

  /**
   * `node` applied the client command (clientId, seq) with `result`. The client table (Raft
   * dissertation §6.3) answers a retry that reached the log again with the first result, so two
   * different successes mean the command took effect twice. One exception is by design: a
   * client's entry goes with the session it acted in, so an openSession retried after that session
   * ended opens a new one (other commands then find their session gone: SESSION_EXPIRED).
   */
  onCommandResult(node: string, state: LockState, clientId: string, seq: number, result: CommandResult): void {
    if (result.code !== 'OK' || result.value.kind === 'queued') return;
    let seen = this.effects.get(node);
    if (seen === undefined) this.effects.set(node, (seen = new Map()));
    const key = `${clientId}/${seq}`;
    const text = JSON.stringify(result);
    const first = seen.get(key);
    seen.set(key, { text, session: result.value.kind === 'session' ? result.value.session : null });
    if (first === undefined || first.text === text) return;
    if (first.session !== null && !state.sessions.has(first.session)) return;
    throw new Violation(
      'exactly-once',
      `${node} applied (${clientId}, ${seq}) twice with different effects: ${first.text} then ${text}`,
    );
  }

  /** `node` applied one command: `notifications` are what it emitted, in order. */
  afterApply(node: string, state: LockState, notifications: readonly Notification[]): void {
    const problems = checkInvariants(state);
    if (problems.length > 0) {
      throw new Violation('lock-invariants', `${node} at ${state.appliedIndex}: ${problems.join('; ')}`);
    }
    const grantedNow = new Map<string, Set<number>>();
    for (const n of notifications) {
      if (n.kind !== 'event' || n.event.type !== 'grant') continue;
      const e = n.event;
      // A run's hold reserved its tokens through token + turns - 1 (the hold is still there: it
      // was granted by this very entry).
      const hold = state.locks.get(e.lock)?.holders.get(e.session);
      const reserved = hold !== undefined && hold.token === e.token ? e.token + hold.turns - 1 : e.token;
      this.onGrant(node, e.lock, e.session, e.token, reserved, e.index);
      let set = grantedNow.get(e.lock);
      if (set === undefined) grantedNow.set(e.lock, (set = new Set()));
      set.add(e.session);
    }
    this.checkFifo(node, state, grantedNow);
  }

  private onGrant(node: string, lock: string, session: number, token: number, reserved: number, index: number): void {
    const known = this.grants.get(token);
    if (known !== undefined) {
      if (known.lock !== lock || known.session !== session || known.index !== index) {
        throw new Violation(
          'lock-grant',
          `${node} granted token ${token} of ${lock} to session ${session} at ${index}; elsewhere it went to session ${known.session} of ${known.lock} at ${known.index}`,
        );
      }
      return;
    }
    this.grants.set(token, { lock, session, index });
    const last = this.lastGrant.get(lock);
    if (last !== undefined && index > last.index && token <= last.token) {
      throw new Violation(
        'fencing-order',
        `${lock}: token ${token} at ${index} follows token ${last.token} at ${last.index}`,
      );
    }
    if (last === undefined || index > last.index) this.lastGrant.set(lock, { index, token: reserved });
  }

  private checkFifo(node: string, state: LockState, grantedNow: ReadonlyMap<string, ReadonlySet<number>>): void {
    const before = this.queues.get(node);
    const after = new Map<string, readonly QueuedWaiter[]>();
    for (const lock of state.locks.values()) {
      if (lock.head === null) continue;
      const queue: QueuedWaiter[] = [];
      for (let w: Waiter | null = lock.head; w !== null; w = w.next) queue.push({ id: w.id, session: w.session });
      after.set(lock.name, queue);
    }
    if (before !== undefined) {
      for (const [name, previous] of before) {
        const granted = grantedNow.get(name);
        if (granted === undefined) continue;
        const still = new Set((after.get(name) ?? []).map((w) => w.id));
        previous.forEach((w, position) => {
          if (still.has(w.id) || !granted.has(w.session)) return;
          const skipped = previous.slice(0, position).find((ahead) => still.has(ahead.id));
          if (skipped !== undefined) {
            throw new Violation(
              'lock-fifo',
              `${node}: ${name} granted waiter ${w.id} (session ${w.session}) before waiter ${skipped.id} (session ${skipped.session}) queued ahead of it`,
            );
          }
        });
      }
    }
    this.queues.set(node, after);
  }

  /** A client's final answer to (clientId, seq): a retry must get the very same one. */
  onAnswer(clientId: string, seq: number, result: WireResult): void {
    // A queued acquire's answer becomes its grant or timeout later; refusals before the log
    // (NOT_LEADER, UNAVAILABLE) are not answers of the state machine.
    if (result.code === 'NOT_LEADER' || result.code === 'UNAVAILABLE') return;
    if (result.code === 'OK' && result.value.kind === 'queued') return;
    const key = `${clientId}/${seq}`;
    const text = JSON.stringify(result);
    const first = this.answers.get(key);
    if (first === undefined) this.answers.set(key, text);
    else if (first !== text && result.code === 'OK' && first.startsWith('{"code":"OK"')) {
      throw new Violation('exactly-once', `(${clientId}, ${seq}) took effect twice: ${first} then ${text}`);
    }
  }

  /** A client was told it holds `lock` with `token`: the grant must be in the canonical log. */
  acknowledgedGrant(lock: string, token: number): number {
    const g = this.grants.get(token);
    if (g === undefined || g.lock !== lock)
      throw new Violation('lost-acquire', `an acknowledged grant of ${lock} (token ${token}) is not in the log`);
    return g.index;
  }

  /**
   * `clientId` starts believing it holds `lock` until `untilMs` (its safety margin). With the
   * margin honoured, no other client may still believe it holds the lock when either is exclusive.
   */
  believe(clientId: string, lock: string, token: number, exclusive: boolean, nowMs: number, untilMs: number): void {
    this.beliefsChecked += 1;
    let holders = this.beliefs.get(lock);
    if (holders === undefined) this.beliefs.set(lock, (holders = new Map()));
    for (const [other, b] of holders) {
      if (other === clientId || b.untilMs <= nowMs || (!exclusive && !b.exclusive)) continue;
      if (this.beliefChecks) {
        throw new Violation(
          'lock-belief',
          `at ${nowMs}ms ${clientId} holds ${lock} (token ${token}) while ${other} still believes it holds token ${b.token} until ${b.untilMs}ms`,
        );
      }
      this.overlapsOutsideBound += 1;
    }
    holders.set(clientId, { token, exclusive, untilMs });
  }

  beliefEnded(clientId: string, lock: string): void {
    this.beliefs.get(lock)?.delete(clientId);
  }
}
