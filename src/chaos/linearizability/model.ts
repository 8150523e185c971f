/**
 * The sequential specification a history is checked against (Herlihy & Wing's linearizability, the
 * search of Wing & Gong with Lowe's memoization, as in Porcupine). A model is a pure, deterministic
 * state machine: the checker calls `step` many times on the same state, so `step` must not mutate it.
 */
export interface Model<State, Input, Output> {
  /** A short name for messages ("mutex", "kv"). */
  readonly name: string;
  readonly init: () => State;
  /**
   * Could `input` take effect on `state` and return `output`? `output` is undefined when the
   * outcome is unknown: then the step must accept whatever the operation could have returned and
   * give the weakest next state that stays sound (never a false alarm). A refusal says why, for
   * the violation report.
   */
  readonly step: (state: State, input: Input, output: Output | undefined) => StepResult<State>;
  /** A string that is equal for equal states (the memoization key together with `equal`). */
  readonly hash: (state: State) => string;
  readonly equal: (a: State, b: State) => boolean;
  /**
   * Optional state dominance for the memo: `dominates(a, b)` promises that every sequence of
   * steps the model accepts from `b` it also accepts from `a`, ending in states where the one
   * from `a` again dominates (a mutex whose token bound is lower, all else equal). Dominance is
   * only tested between states with equal `coarseHash`. Absent: only equal states dominate.
   */
  readonly coarseHash?: (state: State) => string;
  readonly dominates?: (a: State, b: State) => boolean;
  /**
   * Objects that are independent in this model (locks by name, keys): linearizability is local
   * (Herlihy & Wing, Theorem 1), so each partition is checked on its own, which keeps the search
   * small. Absent: one partition.
   */
  readonly partitionKey?: (input: Input) => string;
  /**
   * The session an operation belongs to, and whether it ends that session. No operation of a
   * session changes the state after one that ended it: raftlock names a session by the log index
   * that opened it, never reuses one, and refuses every later request on it (SESSION_EXPIRED).
   * Such an operation may still be linearized where it changes nothing (a refusal). Absent:
   * operations have no sessions.
   */
  readonly session?: (input: Input) => { readonly id: string; readonly ends: boolean } | undefined;
  /**
   * Optional, for long histories (segments.ts): is the operation `input` of unknown outcome inert
   * in `state`, that is, would it change nothing here, and could only operations of its own
   * session ever make it change something? A segmented check stops carrying such an operation
   * across a quiescent cut once its session has nothing left that could (no operation after the
   * cut, none pending that is not inert): it could never take effect any more. Needs `session`.
   * An operation inert in a state must be inert in every state that one dominates (`dominates`),
   * so that dominance between configurations carries over to what they keep. Absent: operations
   * are carried until they take effect or their session ends.
   */
  readonly inert?: (state: State, input: Input) => boolean;
  /**
   * Optional: the operations of one partition without those that provably cannot change the
   * verdict (the result has a linearization exactly when the input has one). The checker
   * searches the result. Absent: every operation is searched.
   */
  readonly reduce?: (ops: readonly Operation<Input, Output>[]) => Operation<Input, Output>[];
  /**
   * A hint on search order that never changes a verdict: at each choice point, try operations of
   * unknown outcome before the known ones (better when reads depend on unknown writes). Absent:
   * known ones first.
   */
  readonly unknownFirst?: boolean;
  readonly describeOperation: (input: Input, output: Output | undefined) => string;
  readonly describeState: (state: State) => string;
}

export type StepResult<State> =
  { readonly ok: true; readonly state: State } | { readonly ok: false; readonly why: string };

/**
 * One completed (or unknown) operation. `returnUs` is +∞ and `output` undefined when the outcome is
 * unknown: the operation may then take effect at any point after `callUs`, or never.
 */
export type Operation<Input, Output> = {
  readonly id: string;
  readonly process: string;
  readonly input: Input;
  readonly output: Output | undefined;
  readonly callUs: number;
  readonly returnUs: number;
};

export function accept<State>(state: State): StepResult<State> {
  return { ok: true, state };
}

export function refuse<State>(why: string): StepResult<State> {
  return { ok: false, why };
}
