/**
 * A counting semaphore: at most `limit` owners hold a permit at once (one permit per owner). A
 * blocking acquire returns `acquired: true`; a try-acquire may return `acquired: false`, which is
 * only right when every permit is taken. Only a holder releases; a session end releases its permit.
 */
import { assertNever } from '../../../util/assert.js';
import { accept, refuse } from '../model.js';
import type { Model, StepResult } from '../model.js';

export type SemaphoreInput =
  | { readonly type: 'acquire'; readonly sem: string; readonly owner: string; readonly limit: number }
  | { readonly type: 'release'; readonly sem: string; readonly owner: string }
  | { readonly type: 'end'; readonly sem: string; readonly owner: string };

export type SemaphoreOutput =
  | { readonly type: 'acquire'; readonly acquired: boolean }
  | { readonly type: 'release'; readonly released: boolean }
  | { readonly type: 'end' };

/** Holders in sorted order, so that equal sets hash and compare equal. */
export type SemaphoreState = { readonly holders: readonly string[] };

const without = (s: SemaphoreState, owner: string): SemaphoreState => ({
  holders: s.holders.filter((h) => h !== owner),
});
const withOwner = (s: SemaphoreState, owner: string): SemaphoreState => ({ holders: [...s.holders, owner].sort() });

function step(
  s: SemaphoreState,
  input: SemaphoreInput,
  output: SemaphoreOutput | undefined,
): StepResult<SemaphoreState> {
  switch (input.type) {
    case 'acquire': {
      const holds = s.holders.includes(input.owner);
      const full = s.holders.length >= input.limit;
      if (output === undefined) return accept(holds || full ? s : withOwner(s, input.owner));
      if (output.type !== 'acquire') return refuse(`a ${output.type} result for an acquire`);
      // The service hands a session that already holds a permit its existing grant (it never
      // takes a second one), so a holder's acquire succeeds and changes nothing.
      if (output.acquired) {
        if (holds) return accept(s);
        if (full) return refuse(`all ${input.limit} permits are held (${s.holders.join(', ')})`);
        return accept(withOwner(s, input.owner));
      }
      if (holds) return refuse(`${input.owner} holds a permit, so acquire must hand it back`);
      return full
        ? accept(s)
        : refuse(`only ${s.holders.length} of ${input.limit} permits are held, so acquire must succeed`);
    }
    case 'release': {
      const holds = s.holders.includes(input.owner);
      if (output === undefined) return accept(holds ? without(s, input.owner) : s);
      if (output.type !== 'release') return refuse(`a ${output.type} result for a release`);
      if (output.released !== holds) {
        return refuse(
          holds ? `${input.owner} holds a permit, so release must succeed` : `${input.owner} holds no permit`,
        );
      }
      return accept(holds ? without(s, input.owner) : s);
    }
    case 'end':
      if (output !== undefined && output.type !== 'end') return refuse(`a ${output.type} result for a session end`);
      return accept(without(s, input.owner));
    default:
      return assertNever(input, 'semaphore input');
  }
}

export const semaphoreModel: Model<SemaphoreState, SemaphoreInput, SemaphoreOutput> = {
  name: 'semaphore',
  init: () => ({ holders: [] }),
  step,
  hash: (s) => s.holders.join('\u0000'),
  equal: (a, b) => a.holders.length === b.holders.length && a.holders.every((h, i) => h === b.holders[i]),
  partitionKey: (input) => input.sem,
  describeOperation: (input, output) => {
    const out =
      output === undefined
        ? '?'
        : output.type === 'acquire'
          ? String(output.acquired)
          : output.type === 'release'
            ? String(output.released)
            : 'ok';
    switch (input.type) {
      case 'acquire':
        return `${input.owner} acquire(${input.sem}, limit ${input.limit}) -> ${out}`;
      case 'release':
        return `${input.owner} release(${input.sem}) -> ${out}`;
      case 'end':
        return `${input.owner} session ends`;
      default:
        return assertNever(input, 'semaphore input');
    }
  },
  describeState: (s) => (s.holders.length === 0 ? 'no holders' : `held by ${s.holders.join(', ')}`),
};
