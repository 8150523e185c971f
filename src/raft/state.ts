import { AssertionError, assert } from '../util/assert.js';
import type { Mutations } from '../util/mutations.js';
import { noMutations } from '../util/mutations.js';
import type { Rng } from '../util/rng.js';
import type { RaftConfig } from './config.js';
import type { RaftLog } from './log.js';
import type { Membership } from './membership.js';
import type { Message, ReadContext } from './messages.js';
import type { Progress } from './progress.js';
import { ReadIndexQueue } from './read-index.js';
import type { ReadState, Ready, SoftState } from './ready.js';
import { SnapshotReceiver } from './snapshot-transfer.js';
import type { ConfState, HardState, NodeId, Role } from './types.js';

const noMembers: ConfState = { voters: [], learners: [] };

/**
 * Everything one Raft node knows, shared by the role handlers in `roles/` and the public face in
 * `node.ts`. Internal to src/raft: nothing outside the folder sees it. The few methods here are
 * the transitions every role uses; role-specific logic lives in the role files as functions of
 * this state.
 */
export class RaftState {
  readonly id: NodeId;
  readonly config: RaftConfig;
  readonly rng: Rng;
  readonly log: RaftLog;
  readonly membership: Membership;
  /** Seeded bugs (simulator mutation tests only): empty in production. */
  readonly mutations: Mutations;

  term: number;
  vote: NodeId | null;
  role: Role = 'follower';
  leader: NodeId | null = null;

  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTicks = 0;

  /** Leader only: every other member's replication progress, in configuration order. */
  readonly progress = new Map<NodeId, Progress>();
  /** Leader only: the configuration `progress` was last fitted to (see reconcileProgress). */
  progressConf: ConfState = noMembers;
  readonly votes = new Map<NodeId, boolean>();
  transferee: NodeId | null = null;
  transferElapsed = 0;
  /** Bytes of this leader's proposals not yet committed (the no-op is free). */
  uncommittedBytes = 0;
  /** Index of this leader's no-op: entries after it count toward `uncommittedBytes`. */
  leaderStartIndex = 0;
  readonly reads = new ReadIndexQueue();
  /** Local ReadIndex requests that arrived before this leader committed an entry of its term. */
  readsAwaitingCommit: ReadContext[] = [];
  readonly snapshotReceiver = new SnapshotReceiver();

  /** Leader: new entries or a new commit index to send, gathered until the next Ready (batching). */
  appendsPending = false;
  readHeartbeatPending = false;

  /**
   * Follower: the last accepted append answer, in which term and to whom (null: none to rely on).
   * It only ever lets this node skip an answer that would repeat it (isCommitNotice in
   * roles/follower.ts). Three fields rather than an object: it is set on every accepted append.
   */
  ackedTerm = 0;
  ackedLeader: NodeId | null = null;
  ackedIndex = 0;

  earlyMessages: Message[] = [];
  messages: Message[] = [];
  readStates: ReadState[] = [];
  /** What the last Ready reported (or what was persisted, before the first one). */
  prevSoft: SoftState = { role: 'follower', leader: null };
  prevHard: HardState;
  outstanding: Ready | null = null;

  constructor(config: RaftConfig, rng: Rng, log: RaftLog, membership: Membership, hardState: HardState, term: number) {
    this.id = config.id;
    this.config = config;
    this.rng = rng;
    this.log = log;
    this.membership = membership;
    this.mutations = config.mutations ?? noMutations;
    this.term = term;
    this.vote = hardState.vote;
    this.prevHard = hardState;
    this.resetElectionTimer();
  }

  /**
   * What holds between any two calls into the node; RaftNode checks it after every one, as a
   * replica that runs its invariants on every tick. Each check is O(1) (no walk over the log or
   * the peers), so it costs little on the hot path:
   * - the log's marks are in order (RaftLog.checkInvariants);
   * - term and commit never fall behind what a Ready last reported;
   * - no entry is from a term beyond the current one;
   * - only a leader names itself leader, keeps peer progress or a transfer target;
   * - a candidate voted for itself; the uncommitted byte count never goes negative.
   */
  checkInvariants(): void {
    this.log.checkInvariants();
    if (this.term < this.prevHard.term) this.broken(`term ${this.term} behind the reported ${this.prevHard.term}`);
    if (this.log.commit < this.prevHard.commit) {
      this.broken(`commit ${this.log.commit} behind the reported ${this.prevHard.commit}`);
    }
    if (this.log.lastTerm() > this.term) this.broken(`last entry's term ${this.log.lastTerm()} beyond the term`);
    const leading = this.role === 'leader';
    if (leading !== (this.leader === this.id)) this.broken(`role ${this.role} with leader ${String(this.leader)}`);
    if (!leading && (this.progress.size > 0 || this.transferee !== null)) {
      const kept = `${this.progress.size} peers, transferee ${String(this.transferee)}`;
      this.broken(`${this.role} keeps leader state (${kept})`);
    }
    if (this.role === 'candidate' && this.vote !== this.id) this.broken(`candidate voted for ${String(this.vote)}`);
    if (this.uncommittedBytes < 0) this.broken(`uncommitted bytes ${this.uncommittedBytes}`);
  }

  private broken(what: string): never {
    throw new AssertionError(`node ${this.id}, term ${this.term}: ${what}`);
  }

  /** ReadIndex needs it (§6.4): the commit index is at an entry of this leader's term. */
  committedInTerm(): boolean {
    return this.log.termAt(this.log.commit) === this.term;
  }

  voters(): readonly NodeId[] {
    return this.membership.current().voters;
  }

  promotable(): boolean {
    return this.membership.current().voters.includes(this.id);
  }

  /** Heard from a live leader within the election timeout (or we are that leader). */
  inLease(): boolean {
    return (
      (this.config.checkQuorum || this.config.preVote) &&
      this.leader !== null &&
      this.electionElapsed < this.config.electionTicks
    );
  }

  resetElectionTimer(): void {
    this.electionElapsed = 0;
    this.randomizedElectionTicks = this.rng.int(this.config.electionTicks, 2 * this.config.electionTicks - 1);
  }

  becomeFollower(term: number, leader: NodeId | null): void {
    assert(term >= this.term, () => `term would decrease from ${this.term} to ${term}`);
    if (term > this.term) {
      this.term = term;
      this.vote = null;
    }
    this.role = 'follower';
    this.leader = leader;
    this.resetElectionTimer();
    this.resetLeaderState();
  }

  resetLeaderState(): void {
    this.progress.clear();
    this.progressConf = noMembers;
    this.votes.clear();
    this.transferee = null;
    this.reads.clear();
    this.readsAwaitingCommit = [];
    this.appendsPending = false;
    this.readHeartbeatPending = false;
    this.uncommittedBytes = 0;
  }

  /**
   * A leader's appends and heartbeats may leave before this Ready's write, provided the term and
   * vote they carry were already handed out in an earlier Ready (which the host persisted before
   * calling advance). Everything else waits for the write.
   */
  send(m: Message): void {
    if (
      (m.type === 'AppendEntries' || m.type === 'Heartbeat') &&
      this.role === 'leader' &&
      this.term === this.prevHard.term &&
      this.vote === this.prevHard.vote
    ) {
      this.earlyMessages.push(m);
    } else {
      this.messages.push(m);
    }
  }
}
