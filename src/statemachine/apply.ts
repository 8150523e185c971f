import type { AppliedCommand } from '../raft/state-machine.js';
import { assert, assertNever } from '../util/assert.js';
import { refuseOperation, revocationOf } from './access.js';
import { runAdmin } from './admin.js';
import { describeUnknownUser, userExists } from './authorize.js';
import type { ClientCommand, Command, Operation } from './commands.js';
import type { Mutations } from '../util/mutations.js';
import { noMutations } from '../util/mutations.js';
import { decodeCommand } from './commands.js';
import type { ApplyContext } from './context.js';
import type { DedupVerdict } from './dedup.js';
import { checkDuplicate, recordResult } from './dedup.js';
import { campaign, proclaim, resign } from './election.js';
import { deleteKey, put } from './kv.js';
import type { LockAsk } from './locks.js';
import { acquireMutex, handOff, release } from './mutex.js';
import type { ApplyOutput, CommandResult } from './results.js';
import { failure, okResult } from './results.js';
import { acquireRw } from './rwlock.js';
import { acquireSemaphore } from './semaphore.js';
import { closeSession, keepAlive, keepAliveBatch, openSession } from './sessions.js';
import type { LockState, Session } from './state.js';
import { advanceTime } from './timers.js';

/** The terms of a lock operation (acquire of any kind, handoff, campaign) as every kind takes them. */
function lockAsk(
  session: Session,
  clientId: string,
  seq: number,
  op: { readonly name: string; readonly waitMs: number; readonly lockDelayMs: number; readonly turns?: number },
): LockAsk {
  const { name, waitMs, lockDelayMs } = op;
  return { session, clientId, seq, name, waitMs, lockDelayMs, turns: op.turns ?? 1 };
}

function runOperation(
  ctx: ApplyContext,
  session: Session,
  clientId: string,
  seq: number,
  op: Operation,
  principal: string | null,
): CommandResult {
  switch (op.type) {
    case 'openSession':
      // Handled before the session lookup; unreachable here.
      return failure('INVALID_ARGUMENT', 'openSession does not act in a session');
    case 'keepAlive':
      return keepAlive(ctx, session);
    case 'closeSession':
      return closeSession(ctx, session, revocationOf(principal, clientId, session, op));
    case 'acquire':
      return acquireMutex(ctx, lockAsk(session, clientId, seq, op));
    case 'acquireSemaphore':
      return acquireSemaphore(ctx, lockAsk(session, clientId, seq, op), op.permits);
    case 'acquireRw':
      return acquireRw(ctx, lockAsk(session, clientId, seq, op), op.mode);
    case 'release':
      return release(ctx, session, op.name, revocationOf(principal, clientId, session, op));
    case 'handoff':
      return handOff(ctx, lockAsk(session, clientId, seq, op), revocationOf(principal, clientId, session, op));
    case 'campaign':
      return campaign(ctx, lockAsk(session, clientId, seq, op), op.value);
    case 'resign':
      return resign(ctx, session, op.name, revocationOf(principal, clientId, session, op));
    case 'proclaim':
      return proclaim(ctx, session, op.name, op.value);
    case 'put':
      return put(ctx, session, op);
    case 'delete':
      return deleteKey(ctx, op);
    default:
      return assertNever(op, 'operation');
  }
}

/** What the seeded bug 'lost-dedup' says of every command: never seen before. */
const newCommand: DedupVerdict = { kind: 'new' };

/**
 * A client command, in this order: the client id must be the principal's (else refused and not
 * recorded, so nobody reads or overwrites another's entry); exactly-once (a known seq answers its
 * first result); a deleted principal opens nothing; the named session must be live; then the
 * principal must own the session (or be an admin) and hold the operation's right. A refusal after
 * the session check is recorded like any result, so a retry gets the same answer.
 */
function runClient(ctx: ApplyContext, command: ClientCommand): CommandResult {
  const { clientId, seq, op } = command;
  const principal = command.principal ?? null;
  const state = ctx.state;
  const verdict = ctx.mutations.has('lost-dedup') ? newCommand : checkDuplicate(state, clientId, seq, principal);
  switch (verdict.kind) {
    case 'duplicate':
      return verdict.result;
    case 'stale':
      return failure(
        'INVALID_ARGUMENT',
        `seq ${seq} of ${clientId} is older than its last applied seq ${verdict.lastSeq}`,
      );
    case 'foreign':
      return failure('PERMISSION_DENIED', `client id ${JSON.stringify(clientId)} is in use by another principal`);
    case 'new':
      break;
    default:
      return assertNever(verdict, 'dedup verdict');
  }
  if (op.type === 'openSession') {
    // Nothing to bind a refusal to: a retry is refused again, or opens once the user exists.
    if (principal !== null && !userExists(state.auth, principal))
      return failure('PERMISSION_DENIED', describeUnknownUser(principal));
    const session = openSession(ctx, clientId, op.ttlMs, principal);
    const result = okResult({ kind: 'session', session: session.id, ttlMs: op.ttlMs });
    recordResult(state, clientId, seq, result, session, principal);
    return result;
  }
  const session = state.sessions.get(op.session);
  if (session === undefined) {
    return failure('SESSION_EXPIRED', `session ${op.session} is not live`);
  }
  const result =
    refuseOperation(state.auth, principal, session, op) ?? runOperation(ctx, session, clientId, seq, op, principal);
  // closeSession trims the client's entry with the session: a retry then reports SESSION_EXPIRED.
  if (state.sessions.get(session.id) === session) recordResult(state, clientId, seq, result, session, principal);
  return result;
}

function runCommand(ctx: ApplyContext, command: Command): CommandResult {
  switch (command.type) {
    case 'keepAliveBatch':
      return keepAliveBatch(ctx, command.sessions);
    case 'client':
      return runClient(ctx, command);
    case 'admin':
      return runAdmin(ctx, command.principal, command.action);
    default:
      return assertNever(command, 'command');
  }
}

/**
 * The single entry point: applies one committed entry. Log time is made monotonic here
 * (`max(previous, floor(stamped))`), timers due by it fire first (expiry, wait timeouts, lock-delays),
 * then the command runs. An empty payload is a tick. Never throws on any payload; asserts only
 * that entries arrive in index order.
 */
export function apply(state: LockState, command: AppliedCommand, mutations: Mutations = noMutations): ApplyOutput {
  // Hot path: the message is built only when the check fails.
  if (command.index <= state.appliedIndex) assert(false, `entry ${command.index} applied after ${state.appliedIndex}`);
  // Whole milliseconds, never backwards: a fractional, non-finite or earlier stamp cannot move
  // time back or put fractions into deadlines (snapshots store whole milliseconds).
  const stamped = Math.floor(command.logTimeMs);
  const nowMs = Number.isSafeInteger(stamped) && stamped > state.logTimeMs ? stamped : state.logTimeMs;
  state.appliedIndex = command.index;
  state.logTimeMs = nowMs;
  const ctx: ApplyContext = { state, index: command.index, nowMs, notifications: [], mutations };
  advanceTime(ctx);
  let result: CommandResult;
  if (command.payload.length === 0) {
    result = okResult({ kind: 'tick' });
  } else {
    const decoded = decodeCommand(command.payload, state.config);
    result = decoded.ok ? runCommand(ctx, decoded.value) : failure('INVALID_ARGUMENT', decoded.error);
  }
  return { result, notifications: ctx.notifications };
}
