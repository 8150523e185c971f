/**
 * A mutex with fencing tokens: at most one holder; each grant returns a token strictly greater than
 * every token granted before it (raftlock's token is the granting entry's log index); only the holder
 * releases, naming its token; a holder's session ending releases the lock (the chaos client records
 * that as a `end` operation spanning the window in which the session must have ended).
 */
import { assertNever } from '../../../util/assert.js';
import { accept, refuse } from '../model.js';
import type { Model, Operation, StepResult } from '../model.js';

export type MutexInput =
  | { readonly type: 'acquire'; readonly lock: string; readonly owner: string }
  | { readonly type: 'release'; readonly lock: string; readonly owner: string; readonly token: number }
  | { readonly type: 'end'; readonly lock: string; readonly owner: string };

export type MutexOutput =
  | { readonly type: 'acquire'; readonly token: number }
  | { readonly type: 'release'; readonly released: boolean }
  | { readonly type: 'end' };

export type MutexState = {
  readonly holder: string | null;
  /** The holder's token; null when the lock is free or the grant's outcome was unknown. */
  readonly token: number | null;
  /** Every later grant must return a token strictly greater than this. */
  readonly floor: number;
};

const free = (floor: number): MutexState => ({ holder: null, token: null, floor });

function step(s: MutexState, input: MutexInput, output: MutexOutput | undefined): StepResult<MutexState> {
  switch (input.type) {
    case 'acquire': {
      if (s.holder !== null) return refuse(`the lock is held by ${s.holder}`);
      if (output === undefined) {
        // An unknown grant took some token u > floor, so every later token exceeds floor + 1.
        return accept({ holder: input.owner, token: null, floor: s.floor + 1 });
      }
      if (output.type !== 'acquire') return refuse(`a ${output.type} result for an acquire`);
      if (!(output.token > s.floor)) return refuse(`token ${output.token} is not above ${s.floor}, granted before`);
      return accept({ holder: input.owner, token: output.token, floor: output.token });
    }
    case 'release': {
      const matches = s.holder === input.owner && (s.token === null || s.token === input.token);
      const mismatches = s.holder !== input.owner || s.token === null || s.token !== input.token;
      if (output === undefined) return accept(matches ? free(s.floor) : s);
      if (output.type !== 'release') return refuse(`a ${output.type} result for a release`);
      if (output.released) {
        if (!matches) {
          return refuse(
            s.holder === null ? 'the lock is free' : `the lock is held by ${s.holder} with token ${s.token ?? '?'}`,
          );
        }
        return accept(free(s.floor));
      }
      return mismatches
        ? accept(s)
        : refuse(`${input.owner} holds the lock with token ${input.token}, so release must succeed`);
    }
    case 'end':
      if (output !== undefined && output.type !== 'end') return refuse(`a ${output.type} result for a session end`);
      return accept(s.holder === input.owner ? free(s.floor) : s);
    default:
      return assertNever(input, 'mutex input');
  }
}

/**
 * Drops every acquire of unknown outcome after whose call its owner has no acknowledged
 * successful release. Such a grant, if it took effect, only held the lock until its owner's
 * session ended or an unknown release freed it (or forever): nothing in between could have
 * needed the lock held by that owner (other grants need it free, other releases and ends change
 * nothing, the owner's refused releases need it not to hold), and it only raised the token bound.
 * So any linearization with it stays one without it, and the verdict is the same.
 */
function reduce(ops: readonly Operation<MutexInput, MutexOutput>[]): Operation<MutexInput, MutexOutput>[] {
  const lastRelease = new Map<string, number>();
  for (const op of ops) {
    if (op.input.type === 'release' && op.output?.type === 'release' && op.output.released) {
      lastRelease.set(op.input.owner, Math.max(op.returnUs, lastRelease.get(op.input.owner) ?? -Infinity));
    }
  }
  return ops.filter(
    (op) =>
      !(
        op.input.type === 'acquire' &&
        op.output === undefined &&
        !((lastRelease.get(op.input.owner) ?? -Infinity) >= op.callUs)
      ),
  );
}

export const mutexModel: Model<MutexState, MutexInput, MutexOutput> = {
  name: 'mutex',
  init: () => free(0),
  step,
  hash: (s) => `${s.holder ?? ''}|${s.token ?? '?'}|${s.floor}`,
  equal: (a, b) => a.holder === b.holder && a.token === b.token && a.floor === b.floor,
  // The token bound only ever refuses: a lower bound accepts everything a higher one does.
  coarseHash: (s) => `${s.holder ?? ''}|${s.token ?? '?'}`,
  dominates: (a, b) => a.holder === b.holder && a.token === b.token && a.floor <= b.floor,
  partitionKey: (input) => input.lock,
  // Owners are sessions: nothing an owner does takes effect after its session ended.
  session: (input) => ({ id: input.owner, ends: input.type === 'end' }),
  // A release or end only changes a lock its owner holds, and only the owner's own acquire makes
  // it the holder. (Dominance keeps the holder, so a dominated state agrees.)
  inert: (s, input) => input.type !== 'acquire' && s.holder !== input.owner,
  reduce,
  describeOperation: (input, output) => {
    const out =
      output === undefined
        ? '?'
        : output.type === 'acquire'
          ? `token ${output.token}`
          : output.type === 'release'
            ? String(output.released)
            : 'ok';
    switch (input.type) {
      case 'acquire':
        return `${input.owner} acquire(${input.lock}) -> ${out}`;
      case 'release':
        return `${input.owner} release(${input.lock}, token ${input.token}) -> ${out}`;
      case 'end':
        return `${input.owner} session ends`;
      default:
        return assertNever(input, 'mutex input');
    }
  },
  describeState: (s) =>
    s.holder === null
      ? `free (tokens > ${s.floor})`
      : `held by ${s.holder} with token ${s.token ?? '?'} (tokens > ${s.floor})`,
};
