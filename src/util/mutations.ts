/**
 * Seeded bugs, for mutation-testing the simulator (src/sim/mutants.ts, docs/simulator.md): a
 * simulator that cannot see a classic Raft or lock-service bug gives false comfort, so each of
 * these switches one decision point in src/raft, src/node/host.ts or src/statemachine to the
 * wrong branch on purpose, and the mutant runner checks that the simulator's checkers notice.
 *
 * Production never passes any: every option that takes a set defaults to `noMutations`, and a
 * check is one lookup in an empty set at the decision point it names.
 */
export type Mutation =
  /** Raft §5.4.2, Figure 8: a leader commits an entry of an earlier term by counting its replicas. */
  | 'commit-old-term'
  /** Raft §5.4.1: a vote goes to a candidate whose log is shorter or older than the voter's. */
  | 'vote-any-log'
  /** Pre-vote answers (dissertation §9.6) are counted as votes by a candidate. */
  | 'prevote-as-vote'
  /** A follower applies what it appended, not what the leader says is committed. */
  | 'apply-before-commit'
  /** Raft §5.3: a follower appends without checking that the entry before matches. */
  | 'skip-prev-check'
  /** Raft §5.1: a leader takes a higher term from a message but stays leader. */
  | 'leader-keeps-role'
  /** Dissertation §6.4: a leader answers a ReadIndex without a heartbeat round confirming it leads. */
  | 'read-without-quorum'
  /** The host hands the state machine its own clock instead of the entry's log time. */
  | 'apply-local-time'
  /** The lock machine gives every grant of one entry the entry's index as its fencing token. */
  | 'reuse-fencing-token'
  /** The lock machine forgets (clientId, seq) results: a retry takes effect again. */
  | 'lost-dedup';

export type Mutations = ReadonlySet<Mutation>;

export const noMutations: Mutations = new Set<Mutation>();
