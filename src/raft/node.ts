import { assert, assertNever } from '../util/assert.js';
import type { Result } from '../util/result.js';
import { err, ok } from '../util/result.js';
import type { Rng } from '../util/rng.js';
import { asIndex, asTerm } from './casts.js';
import type { RaftConfig } from './config.js';
import { validateConfChange } from './confchange.js';
import type { ProposeError, ReadIndexError, StepError, TransferError } from './errors.js';
import { RaftLog } from './log.js';
import { Membership } from './membership.js';
import type { Message, ReadContext } from './messages.js';
import type { CreateRaftCore, RaftCore } from './node-api.js';
import type { Ready, SoftState } from './ready.js';
import { campaignNow, onRequestVote, onVoteResponse, voteResponse } from './roles/election.js';
import { onAppendEntries, onHeartbeat, onInstallSnapshot } from './roles/follower.js';
import {
  appendLocal,
  broadcastHeartbeat,
  flushAppends,
  maybeCommit,
  onAppendResponse,
  onHeartbeatResponse,
  onSnapshotResponse,
  refuseProposal,
  sendAppends,
  sendTimeoutNow,
  tickLeader,
} from './roles/leader.js';
import { leaderRead, onReadIndexRequest } from './roles/read.js';
import { RaftState } from './state.js';
import type { PeerProgress, RaftStatus } from './status.js';
import type {
  ConfChange,
  ConfState,
  Entry,
  EntryId,
  HardState,
  LogIndex,
  NodeId,
  PersistentState,
  Snapshot,
} from './types.js';

/**
 * Entries a brand-new cluster starts with: every initial voter added and promoted, committed at
 * term 1 on every initial node alike. They put the initial membership in the log itself, so a
 * node that joins later (with no initial voters of its own) learns the whole configuration from
 * the entries it is sent, exactly as it learns later changes.
 */
function bootstrapEntries(voters: readonly NodeId[]): Entry[] {
  const ids = [...new Set(voters)].sort();
  const out: Entry[] = [];
  for (const node of ids) {
    out.push({ index: asIndex(out.length + 1), term: asTerm(1), kind: 'config', change: { type: 'addLearner', node } });
    out.push({
      index: asIndex(out.length + 1),
      term: asTerm(1),
      kind: 'config',
      change: { type: 'promoteLearner', node },
    });
  }
  return out;
}

/**
 * A sans-IO Raft node: the public face. See node-api.ts for the contract, ready.ts for the Ready
 * rule and docs/raft.md for the design. `step` applies the term rules common to every role (Raft
 * §5.1, PreVote §9.6) and dispatches to the role handlers in `roles/`.
 */
export class RaftNode implements RaftCore {
  readonly id: NodeId;
  private readonly s: RaftState;

  constructor(config: RaftConfig, persisted: PersistentState, rng: Rng) {
    assert(config.electionTicks > config.heartbeatTicks, 'electionTicks must exceed heartbeatTicks');
    assert(config.heartbeatTicks >= 1, 'heartbeatTicks must be at least 1');
    assert(config.inflightAppendsMax >= 1, 'inflightAppendsMax must be at least 1');
    assert(config.appendEntriesMax >= 1, 'appendEntriesMax must be at least 1');
    this.id = config.id;
    const hs = persisted.hardState;
    let entries = persisted.entries;
    let term: number = hs.term;
    let commit: number = hs.commit;
    let base: ConfState;
    if (persisted.snapshot !== null) {
      base = persisted.snapshot.meta.conf;
    } else if (entries.length === 0 && hs.term === 0 && config.initialVoters.length > 0) {
      entries = bootstrapEntries(config.initialVoters);
      term = 1;
      commit = entries.length;
      base = { voters: [], learners: [] };
    } else {
      base = { voters: [...config.initialVoters], learners: [] };
    }
    // The bootstrap entries are not on disk yet: they go out in the first Ready.
    const origin = entries === persisted.entries ? 'loaded' : 'bootstrap';
    const log = new RaftLog(persisted.snapshot, entries, commit, origin);
    const membership = new Membership(base, log.snapshotIndex);
    for (let i = log.firstIndex(); i <= log.lastIndex(); i++) membership.appended(log.entryAt(i) as Entry);
    this.s = new RaftState(config, rng, log, membership, hs, term);
    this.s.checkInvariants();
  }

  // ─── Public API ──────────────────────────────────────────────────────────────────────────────
  // Every call that changes the node runs through `checked`, which ends it with
  // `this.s.checkInvariants()` (see RaftState).

  tick(): void {
    this.checked(() => {
      if (this.s.role === 'leader') {
        tickLeader(this.s);
      } else {
        this.s.electionElapsed++;
        if (this.s.electionElapsed >= this.s.randomizedElectionTicks) {
          this.s.electionElapsed = 0;
          if (this.s.promotable()) campaignNow(this.s, 'election');
        }
      }
    });
  }

  step(m: Message): Result<void, StepError> {
    return this.checked(() => this.dispatch(m));
  }

  propose(data: Uint8Array): Result<EntryId, ProposeError> {
    return this.checked(() => this.appendCommand(data));
  }

  proposeConfChange(change: ConfChange): Result<EntryId, ProposeError> {
    return this.checked(() => this.appendConfChange(change));
  }

  campaign(): void {
    this.checked(() => {
      if (this.s.role !== 'leader' && this.s.promotable()) campaignNow(this.s, 'election');
    });
  }

  readIndex(context: ReadContext): Result<void, ReadIndexError> {
    return this.checked(() => this.startRead(context));
  }

  transferLeadership(to: NodeId): Result<void, TransferError> {
    return this.checked(() => this.startTransfer(to));
  }

  compact(index: LogIndex, data: Uint8Array): void {
    this.checked(() => {
      if (index > this.s.log.snapshotIndex) this.compactThrough(index, data);
    });
  }

  reportUnreachable(peer: NodeId): void {
    this.checked(() => this.probeAgain(peer));
  }

  reportPeerDown(peer: NodeId): void {
    this.checked(() => {
      if (this.s.role === 'leader') this.probeAgain(peer);
      else this.forgetDeadLeader(peer);
    });
  }

  /** Runs one entry point's body, then asserts the invariants on the state it left. */
  private checked<T>(body: () => T): T {
    const result = body();
    this.s.checkInvariants();
    return result;
  }

  // ─── Entry points' bodies: each public call above runs one, then checks the invariants ─────

  private dispatch(m: Message): Result<void, StepError> {
    if (m.to !== this.id) return err({ code: 'WRONG_RECIPIENT', to: m.to });
    // ReadIndex traffic is term-agnostic: any current leader's answer is a valid read point.
    if (m.type === 'ReadIndex') {
      onReadIndexRequest(this.s, m);
      return ok(undefined);
    }
    if (m.type === 'ReadIndexResponse') {
      if (m.index !== null) this.s.readStates.push({ index: m.index, context: m.context });
      return ok(undefined);
    }
    if (m.term > this.s.term) {
      if (m.type === 'RequestVote') {
        // §9.6 / §6.2: while we hear from a leader, a vote request is a disruption, not an election.
        if (!m.transfer && this.s.inLease()) return ok(undefined);
        if (!m.preVote) this.s.becomeFollower(m.term, null);
      } else if (m.type === 'RequestVoteResponse' && m.preVote && m.granted) {
        // A granted pre-vote carries the term it was asked for; ours is unchanged.
      } else if (this.s.role === 'leader' && this.s.mutations.has('leader-keeps-role')) {
        // Seeded bug (simulator mutation tests only): the newer term is taken, the leadership kept.
        this.s.term = m.term;
        this.s.vote = null;
      } else {
        const fromLeader = m.type === 'AppendEntries' || m.type === 'Heartbeat' || m.type === 'InstallSnapshot';
        this.s.becomeFollower(m.term, fromLeader ? m.from : null);
      }
    } else if (m.term < this.s.term) {
      if (m.type === 'AppendEntries' || m.type === 'Heartbeat' || m.type === 'InstallSnapshot') {
        // A deposed leader learns the newer term from this answer and steps down.
        this.s.send({
          type: 'AppendEntriesResponse',
          from: this.id,
          to: m.from,
          term: asTerm(this.s.term),
          accepted: false,
          index: asIndex(0),
          hintIndex: asIndex(0),
          hintTerm: asTerm(0),
        });
      } else if (m.type === 'RequestVote' && m.preVote) {
        this.s.send(voteResponse(this.s, { to: m.from, preVote: true, granted: false, term: this.s.term }));
      }
      return ok(undefined);
    }
    switch (m.type) {
      case 'RequestVote':
        onRequestVote(this.s, m);
        return ok(undefined);
      case 'RequestVoteResponse':
        onVoteResponse(this.s, m);
        return ok(undefined);
      case 'AppendEntries':
      case 'Heartbeat':
      case 'InstallSnapshot':
        if (this.s.role === 'leader') return ok(undefined);
        if (this.s.role !== 'follower' || this.s.leader !== m.from) this.s.becomeFollower(this.s.term, m.from);
        this.s.electionElapsed = 0;
        if (m.type === 'AppendEntries') onAppendEntries(this.s, m);
        else if (m.type === 'Heartbeat') onHeartbeat(this.s, m);
        else onInstallSnapshot(this.s, m);
        return ok(undefined);
      case 'AppendEntriesResponse':
      case 'HeartbeatResponse':
      case 'InstallSnapshotResponse': {
        if (this.s.role !== 'leader') return ok(undefined);
        const pr = this.s.progress.get(m.from);
        if (pr === undefined) return err({ code: 'UNKNOWN_PEER', peer: m.from });
        pr.recentActive = true;
        if (m.type === 'AppendEntriesResponse') onAppendResponse(this.s, pr, m);
        else if (m.type === 'HeartbeatResponse') onHeartbeatResponse(this.s, pr, m);
        else onSnapshotResponse(this.s, pr, m);
        return ok(undefined);
      }
      case 'TimeoutNow':
        // §3.10: the leader chose us; campaign at once, skipping PreVote and the leader lease.
        if (this.s.role !== 'leader' && this.s.promotable()) campaignNow(this.s, 'transfer');
        return ok(undefined);
      default:
        return assertNever(m, 'message');
    }
  }

  private appendCommand(data: Uint8Array): Result<EntryId, ProposeError> {
    const refused = refuseProposal(this.s);
    if (refused !== null) return err(refused);
    const bytes = 16 + data.byteLength;
    if (this.s.uncommittedBytes > 0 && this.s.uncommittedBytes + bytes > this.s.config.uncommittedBytesMax) {
      return err({
        code: 'DROPPED',
        reason: 'uncommitted-limit',
        message: `${this.s.uncommittedBytes} uncommitted bytes; limit ${this.s.config.uncommittedBytesMax}`,
      });
    }
    return ok(this.appendOwn({ kind: 'command', data }, bytes));
  }

  private appendConfChange(change: ConfChange): Result<EntryId, ProposeError> {
    const refused = refuseProposal(this.s);
    if (refused !== null) return err(refused);
    if (this.s.membership.lastChangeIndex() > this.s.log.commit) {
      return err({
        code: 'DROPPED',
        reason: 'config-change-pending',
        message: `config change at ${this.s.membership.lastChangeIndex()} is not committed yet`,
      });
    }
    if (!this.s.committedInTerm()) {
      // The single-server change rule needs this (Ongaro, raft-dev 2015, "bug in single-server
      // membership changes"): a configuration from an older term may still be overwritten, so a new
      // leader must commit an entry of its own term before it appends a change of its own.
      return err({
        code: 'DROPPED',
        reason: 'config-change-pending',
        message: 'the leader has not committed an entry of its term yet',
      });
    }
    const next = validateConfChange(this.s.membership.current(), change);
    if (!next.ok) return err({ code: 'DROPPED', reason: 'invalid-config-change', message: next.error });
    return ok(this.appendOwn({ kind: 'config', change }, 24 + change.node.length));
  }

  /**
   * Appends a proposal at the end of the leader's log in its term; `bytes` (the entry's size, roughly)
   * counts against the uncommitted-bytes limit until it commits.
   */
  private appendOwn(
    body:
      | { readonly kind: 'command'; readonly data: Uint8Array }
      | { readonly kind: 'config'; readonly change: ConfChange },
    bytes: number,
  ): EntryId {
    const index = asIndex(this.s.log.lastIndex() + 1);
    const term = asTerm(this.s.term);
    // Written out, not `{ index, term, ...body }`: that spread cost the core a quarter of its rate
    // (bench/raft.ts, docs/raft.md "Performance").
    const entry: Entry =
      body.kind === 'command'
        ? { index, term, kind: 'command', data: body.data }
        : { index, term, kind: 'config', change: body.change };
    appendLocal(this.s, entry);
    this.s.uncommittedBytes += bytes;
    return { term: entry.term, index: entry.index };
  }

  private startRead(context: ReadContext): Result<void, ReadIndexError> {
    if (this.s.role === 'leader') {
      if (!this.s.committedInTerm()) this.s.readsAwaitingCommit.push(context);
      else leaderRead(this.s, context, this.id);
      return ok(undefined);
    }
    if (this.s.leader === null) return err({ code: 'NOT_LEADER', leader: null });
    this.s.send({ type: 'ReadIndex', from: this.id, to: this.s.leader, term: asTerm(this.s.term), context });
    return ok(undefined);
  }

  private startTransfer(to: NodeId): Result<void, TransferError> {
    if (this.s.role !== 'leader') return err({ code: 'NOT_LEADER', leader: this.s.leader });
    if (to === this.id) return err({ code: 'INVALID_TARGET', message: `${to} is already the leader` });
    const pr = this.s.progress.get(to);
    if (pr === undefined || !this.s.membership.current().voters.includes(to)) {
      return err({ code: 'INVALID_TARGET', message: `${to} is not a voter` });
    }
    if (this.s.transferee === to) return ok(undefined);
    this.s.transferee = to;
    this.s.transferElapsed = 0;
    if (pr.match === this.s.log.lastIndex()) sendTimeoutNow(this.s, to);
    else sendAppends(this.s, pr, 'always');
    return ok(undefined);
  }

  private compactThrough(index: LogIndex, data: Uint8Array): void {
    assert(index <= this.s.log.applied, () => `compact(${index}) beyond applied ${this.s.log.applied}`);
    const term = this.s.log.termAt(index);
    assert(term !== null, () => `compact(${index}): no entry`);
    const snapshot: Snapshot = { meta: { index, term: asTerm(term), conf: this.s.membership.confAt(index) }, data };
    this.s.log.compact(snapshot);
    this.s.membership.compactedTo(index);
  }

  private probeAgain(peer: NodeId): void {
    if (this.s.role !== 'leader') return;
    const pr = this.s.progress.get(peer);
    if (pr !== undefined && pr.state !== 'probe') pr.becomeProbe();
  }

  private forgetDeadLeader(peer: NodeId): void {
    if (this.s.role !== 'follower' || this.s.leader !== peer) return;
    this.s.leader = null;
    // Every follower of a dead leader learns this at about the same moment; a random delay of up
    // to one election timeout keeps most of them from splitting the vote (a split costs a normal
    // randomized timeout, as without the report).
    const delayTicks = this.s.rng.int(1, this.s.config.electionTicks);
    this.s.electionElapsed = Math.max(this.s.electionElapsed, this.s.randomizedElectionTicks - delayTicks);
  }

  // ─── The Ready cycle and views ───────────────────────────────────────────────────────────────

  hasReady(): boolean {
    if (this.s.role === 'leader' && (this.s.appendsPending || this.s.readHeartbeatPending)) return true;
    return (
      this.s.earlyMessages.length > 0 ||
      this.s.messages.length > 0 ||
      this.s.readStates.length > 0 ||
      this.s.log.hasUnstable() ||
      this.s.log.hasCommittedToApply() ||
      this.s.role !== this.s.prevSoft.role ||
      this.s.leader !== this.s.prevSoft.leader ||
      this.s.term !== this.s.prevHard.term ||
      this.s.vote !== this.s.prevHard.vote ||
      this.s.log.commit !== this.s.prevHard.commit
    );
  }

  ready(): Ready {
    assert(this.s.outstanding === null, 'ready() called again before advance()');
    if (this.s.role === 'leader') {
      if (this.s.appendsPending) flushAppends(this.s);
      if (this.s.readHeartbeatPending) broadcastHeartbeat(this.s);
    }
    this.s.appendsPending = false;
    this.s.readHeartbeatPending = false;

    let softState: SoftState | null = null;
    if (this.s.role !== this.s.prevSoft.role || this.s.leader !== this.s.prevSoft.leader) {
      softState = { role: this.s.role, leader: this.s.leader };
      this.s.prevSoft = softState;
    }
    assert(this.s.term >= this.s.prevHard.term, () => `term went back from ${this.s.prevHard.term} to ${this.s.term}`);
    assert(this.s.log.commit >= this.s.prevHard.commit, () => `commit went back from ${this.s.prevHard.commit}`);
    const termOrVoteChanged = this.s.term !== this.s.prevHard.term || this.s.vote !== this.s.prevHard.vote;
    let hardState: HardState | null = null;
    if (termOrVoteChanged || this.s.log.commit !== this.s.prevHard.commit) {
      hardState = { term: asTerm(this.s.term), vote: this.s.vote, commit: asIndex(this.s.log.commit) };
      this.s.prevHard = hardState;
    }
    const snapshot = this.s.log.takePendingSnapshot();
    const entries = this.s.log.takeUnstable();
    const committed = this.s.log.takeCommitted();
    const rd: Ready = {
      softState,
      hardState,
      entries,
      snapshot,
      committed,
      earlyMessages: this.s.earlyMessages,
      messages: this.s.messages,
      readStates: this.s.readStates,
      mustSync: termOrVoteChanged || entries.length > 0 || snapshot !== null,
    };
    this.s.earlyMessages = [];
    this.s.messages = [];
    this.s.readStates = [];
    this.s.outstanding = rd;
    this.s.checkInvariants();
    return rd;
  }

  advance(rd: Ready): void {
    assert(this.s.outstanding === rd, 'advance() without the Ready from the last ready()');
    this.s.outstanding = null;
    if (rd.snapshot !== null) this.s.log.snapshotApplied(rd.snapshot.meta.index);
    const lastEntry = rd.entries[rd.entries.length - 1];
    if (lastEntry !== undefined) this.s.log.stableTo(lastEntry.index, lastEntry.term);
    const lastCommitted = rd.committed[rd.committed.length - 1];
    if (lastCommitted !== undefined) this.s.log.appliedTo(lastCommitted.index);
    // Dissertation §10.2.1: the leader's own copy counts toward the quorum once it is durable.
    if (this.s.role === 'leader' && lastEntry !== undefined) maybeCommit(this.s);
    this.s.checkInvariants();
  }

  status(): RaftStatus {
    const progress: PeerProgress[] = [];
    for (const pr of this.s.progress.values()) {
      progress.push({
        id: pr.id,
        match: asIndex(pr.match),
        next: asIndex(pr.next),
        state: pr.state,
        inflight: pr.inflight.count,
        recentActive: pr.recentActive,
      });
    }
    const lastChange = this.s.membership.lastChangeIndex();
    return {
      id: this.id,
      role: this.s.role,
      term: asTerm(this.s.term),
      vote: this.s.vote,
      leader: this.s.leader,
      commit: asIndex(this.s.log.commit),
      applied: asIndex(this.s.log.applied),
      firstIndex: asIndex(this.s.log.firstIndex()),
      lastIndex: asIndex(this.s.log.lastIndex()),
      snapshotIndex: asIndex(this.s.log.snapshotIndex),
      conf: this.s.membership.current(),
      pendingConfIndex: asIndex(lastChange > this.s.log.commit ? lastChange : 0),
      transferringTo: this.s.transferee,
      progress,
    };
  }
}

/** Build a Raft node from its static config, what it persisted, and its random stream. */
export const createRaftNode: CreateRaftCore = (config, persisted, rng) => new RaftNode(config, persisted, rng);
