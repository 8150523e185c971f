import type { CreateRaftCore } from '../raft/node-api.js';
import type { PersistentState } from '../raft/types.js';
import { asTerm } from '../raft/casts.js';
import type { Mutation, Mutations } from '../util/mutations.js';
import { noMutations } from '../util/mutations.js';
import type { Profile } from './faults.js';
import type { SimMachineKind } from './simulation.js';

/**
 * The seeded bugs the simulator must catch (docs/simulator.md, mutation tests). Most switch one decision point in
 * the production code (`Mutation`, src/util/mutations.ts); the others need no hook at all and are
 * built here around the production core or in the simulator's driver loop:
 * - `forget-vote`, `forget-term`: the core is handed a persisted state without them on restart;
 * - `skip-fsync`: the storage driver never syncs: completed writes sit in the page cache;
 * - `ack-before-durable`: the driver reports a write done when it hands it to the disk.
 */
export type MutantName = Mutation | 'forget-vote' | 'forget-term' | 'skip-fsync' | 'ack-before-durable';

export interface Mutant {
  readonly name: MutantName;
  /** The rule the bug breaks, as the table in docs/simulator.md says it. */
  readonly breaks: string;
  /** What the nodes run: lock-service bugs need the lock machine and its clients. */
  readonly workload: SimMachineKind;
  /** The fault profile its seeds draw from (see `drawWorld`). */
  readonly profile: Profile;
  /** Cluster size (Figure 8's fault rounds are played by three nodes). */
  readonly nodes: number;
}

/** Every mutant, in the order the runner tries them and the docs list them. */
export const mutants: readonly Mutant[] = [
  {
    name: 'forget-vote',
    breaks: 'votedFor is persistent (Figure 2): a restarted node votes twice in one term',
    workload: 'hash',
    profile: 'elections',
    nodes: 5,
  },
  {
    name: 'forget-term',
    breaks: 'currentTerm is persistent (Figure 2): a restarted node takes its term from its log',
    workload: 'hash',
    profile: 'elections',
    nodes: 5,
  },
  {
    name: 'skip-fsync',
    breaks: 'persist before answering (Figure 2): writes complete without a sync, so a power cut takes them back',
    workload: 'hash',
    profile: 'elections',
    nodes: 5,
  },
  {
    name: 'ack-before-durable',
    breaks: 'the Ready rule: votes, acks and applies go out before their write completes',
    workload: 'hash',
    profile: 'elections',
    nodes: 5,
  },
  {
    name: 'commit-old-term',
    breaks: "Raft §5.4.2 (Figure 8): a leader commits an earlier term's entry by counting replicas",
    workload: 'hash',
    profile: 'figure8',
    nodes: 3,
  },
  {
    name: 'vote-any-log',
    breaks: 'Raft §5.4.1: a vote goes to a candidate with a shorter or older log',
    workload: 'hash',
    profile: 'elections',
    nodes: 5,
  },
  {
    name: 'prevote-as-vote',
    breaks: 'PreVote (§9.6): a candidate counts pre-vote answers as votes',
    workload: 'hash',
    profile: 'elections',
    nodes: 5,
  },
  {
    name: 'apply-before-commit',
    breaks: 'Raft §5.3: a follower applies entries the leader has not committed',
    workload: 'hash',
    profile: 'elections',
    nodes: 5,
  },
  {
    name: 'skip-prev-check',
    breaks: 'Raft §5.3 log matching: a follower appends without checking the entry before',
    workload: 'hash',
    profile: 'elections',
    nodes: 5,
  },
  {
    name: 'leader-keeps-role',
    breaks: 'Raft §5.1: a leader that sees a higher term stays leader',
    workload: 'hash',
    profile: 'partitions',
    nodes: 5,
  },
  {
    name: 'read-without-quorum',
    breaks: 'ReadIndex (§6.4): a leader answers a read without confirming it still leads',
    workload: 'hash',
    profile: 'partitions',
    nodes: 5,
  },
  {
    name: 'apply-local-time',
    breaks: 'log time: a node expires sessions by its own clock, not the leader-stamped log time',
    workload: 'locks',
    profile: 'swarm',
    nodes: 5,
  },
  {
    name: 'reuse-fencing-token',
    breaks: 'fencing: one entry that grants several waiters gives them the same token',
    workload: 'locks',
    profile: 'swarm',
    nodes: 5,
  },
  {
    name: 'lost-dedup',
    breaks: 'exactly once (§6.3): a retried command takes effect again',
    workload: 'locks',
    profile: 'elections',
    nodes: 5,
  },
];

export const mutantNames: readonly MutantName[] = mutants.map((m) => m.name);

export function findMutant(name: string): Mutant | undefined {
  return mutants.find((m) => m.name === name);
}

/**
 * How the simulator's driver loop treats writes: `correct` as the production driver does; the
 * others are seeded bugs: `skip-fsync` drops every write's sync flag, `ack-before-durable` calls
 * `persisted(seq)` as soon as it hands the write to the disk.
 */
export type DriverMode = 'correct' | 'skip-fsync' | 'ack-before-durable';

/** How a simulation runs with a mutant: hooks switched on, a wrapped core, a broken driver. */
export interface MutantSetup {
  readonly mutations: Mutations;
  readonly wrapCore: (create: CreateRaftCore) => CreateRaftCore;
  readonly driver: DriverMode;
}

const same = (create: CreateRaftCore): CreateRaftCore => create;

export const noMutant: MutantSetup = { mutations: noMutations, wrapCore: same, driver: 'correct' };

/** A core that restarts from `persisted` as `forget` rewrites it. */
function forgetting(forget: (persisted: PersistentState) => PersistentState) {
  return (create: CreateRaftCore): CreateRaftCore =>
    (config, persisted, rng) =>
      create(config, forget(persisted), rng);
}

function lastLogTerm(persisted: PersistentState): number {
  const last = persisted.entries[persisted.entries.length - 1];
  return last?.term ?? persisted.snapshot?.meta.term ?? 0;
}

export function mutantSetup(name: MutantName): MutantSetup {
  switch (name) {
    case 'forget-vote':
      return { ...noMutant, wrapCore: forgetting((p) => ({ ...p, hardState: { ...p.hardState, vote: null } })) };
    case 'forget-term':
      // The term is rebuilt from the log (and the vote, which belongs to a term, goes with it).
      return {
        ...noMutant,
        wrapCore: forgetting((p) => ({
          ...p,
          hardState: { ...p.hardState, term: asTerm(lastLogTerm(p)), vote: null },
        })),
      };
    case 'skip-fsync':
    case 'ack-before-durable':
      return { ...noMutant, driver: name };
    default:
      return { ...noMutant, mutations: new Set<Mutation>([name]) };
  }
}
