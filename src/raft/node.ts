import { assert } from '../util/assert.js';
import type { Result } from '../util/result.js';
import { err, ok } from '../util/result.js';
import type { Rng } from '../util/rng.js';
import type { RaftConfig } from './config.js';
import { isMember, validateConfChange } from './confchange.js';
import type { ProposeError, ReadIndexError, StepError, TransferError } from './errors.js';
import { RaftLog } from './log.js';
import { Membership } from './membership.js';
import type { Message, ReadContext } from './messages.js';
import type { CreateRaftCore, RaftCore } from './node-api.js';
import { Progress } from './progress.js';
import { committedIndex, hasQuorum, voteResult } from './quorum.js';
import { ReadIndexQueue } from './read-index.js';
import type { ReadState, Ready, SoftState } from './ready.js';
import { SnapshotReceiver, snapshotChunk } from './snapshot-transfer.js';
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
  Role,
  Snapshot,
  Term,
} from './types.js';

type MessageOf<T extends Message['type']> = Extract<Message, { type: T }>;

const asTerm = (n: number): Term => n as Term;
const asIndex = (n: number): LogIndex => n as LogIndex;

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
    out.push({ index: asIndex(out.length + 1), term: asTerm(1), kind: 'config', change: { type: 'promoteLearner', node } });
  }
  return out;
}

/**
 * A sans-IO Raft node. See node-api.ts for the contract and ready.ts for the Ready rule; the
 * design is described in docs/raft.md. Role logic lives here as small handlers per message type.
 */
export class RaftNode implements RaftCore {
  readonly id: NodeId;
  private readonly config: RaftConfig;
  private readonly rng: Rng;
  private readonly log: RaftLog;
  private readonly membership: Membership;

  private term: number;
  private vote: NodeId | null;
  private role: Role = 'follower';
  private leader: NodeId | null = null;

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTicks = 0;

  /** Leader only: every other member's replication progress, in configuration order. */
  private readonly progress = new Map<NodeId, Progress>();
  private readonly votes = new Map<NodeId, boolean>();
  private transferee: NodeId | null = null;
  private transferElapsed = 0;
  /** Bytes of this leader's proposals not yet committed (the no-op is free). */
  private uncommittedBytes = 0;
  private leaderStartIndex = 0;
  private readonly reads = new ReadIndexQueue();
  /** Local ReadIndex requests that arrived before this leader committed an entry of its term. */
  private readsAwaitingCommit: ReadContext[] = [];
  private readonly snapshotReceiver = new SnapshotReceiver();

  /** Leader: new entries or a new commit index to send, gathered until the next Ready (batching). */
  private appendsPending = false;
  private readHeartbeatPending = false;

  private earlyMessages: Message[] = [];
  private messages: Message[] = [];
  private readStates: ReadState[] = [];
  private prevSoft: SoftState;
  private prevHard: HardState;
  private outstanding: Ready | null = null;

  constructor(config: RaftConfig, persisted: PersistentState, rng: Rng) {
    assert(config.electionTicks > config.heartbeatTicks, 'electionTicks must exceed heartbeatTicks');
    assert(config.heartbeatTicks >= 1, 'heartbeatTicks must be at least 1');
    assert(config.inflightAppendsMax >= 1, 'inflightAppendsMax must be at least 1');
    assert(config.appendEntriesMax >= 1, 'appendEntriesMax must be at least 1');
    this.id = config.id;
    this.config = config;
    this.rng = rng;
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
    this.log = new RaftLog(persisted.snapshot, entries, commit);
    if (entries !== persisted.entries) {
      // The bootstrap entries are not on disk yet: they go out in the first Ready.
      this.log.persisted = 0;
      this.log.unstableFrom = 1;
    }
    this.membership = new Membership(base, this.log.snapshotIndex);
    for (let i = this.log.firstIndex(); i <= this.log.lastIndex(); i++) {
      this.membership.appended(this.log.entryAt(i) as Entry);
    }
    this.term = term;
    this.vote = hs.vote;
    this.prevHard = hs;
    this.prevSoft = { role: 'follower', leader: null };
    this.resetElectionTimer();
  }

  // ─── Public API ──────────────────────────────────────────────────────────────────────────────

  tick(): void {
    if (this.role === 'leader') {
      this.tickLeader();
      return;
    }
    this.electionElapsed++;
    if (this.electionElapsed >= this.randomizedElectionTicks) {
      this.electionElapsed = 0;
      if (this.promotable()) this.campaignNow(false);
    }
  }

  step(m: Message): Result<void, StepError> {
    if (m.to !== this.id) return err({ code: 'WRONG_RECIPIENT', to: m.to });
    // ReadIndex traffic is term-agnostic: any current leader's answer is a valid read point.
    if (m.type === 'ReadIndex') {
      this.onReadIndexRequest(m);
      return ok(undefined);
    }
    if (m.type === 'ReadIndexResponse') {
      if (m.index !== null) this.readStates.push({ index: m.index, context: m.context });
      return ok(undefined);
    }
    if (m.term > this.term) {
      if (m.type === 'RequestVote') {
        // §9.6 / §6.2: while we hear from a leader, a vote request is a disruption, not an election.
        if (!m.transfer && this.inLease()) return ok(undefined);
        if (!m.preVote) this.becomeFollower(m.term, null);
      } else if (m.type === 'RequestVoteResponse' && m.preVote && m.granted) {
        // A granted pre-vote carries the term it was asked for; ours is unchanged.
      } else {
        const fromLeader = m.type === 'AppendEntries' || m.type === 'Heartbeat' || m.type === 'InstallSnapshot';
        this.becomeFollower(m.term, fromLeader ? m.from : null);
      }
    } else if (m.term < this.term) {
      if (m.type === 'AppendEntries' || m.type === 'Heartbeat' || m.type === 'InstallSnapshot') {
        // A deposed leader learns the newer term from this answer and steps down.
        this.send({
          type: 'AppendEntriesResponse',
          from: this.id,
          to: m.from,
          term: asTerm(this.term),
          accepted: false,
          index: asIndex(0),
          hintIndex: asIndex(0),
          hintTerm: asTerm(0),
        });
      } else if (m.type === 'RequestVote' && m.preVote) {
        this.send(this.voteResponse(m.from, true, false, this.term));
      }
      return ok(undefined);
    }
    switch (m.type) {
      case 'RequestVote':
        this.onRequestVote(m);
        return ok(undefined);
      case 'RequestVoteResponse':
        this.onVoteResponse(m);
        return ok(undefined);
      case 'AppendEntries':
      case 'Heartbeat':
      case 'InstallSnapshot':
        if (this.role === 'leader') return ok(undefined);
        if (this.role !== 'follower' || this.leader !== m.from) this.becomeFollower(this.term, m.from);
        this.electionElapsed = 0;
        if (m.type === 'AppendEntries') this.onAppendEntries(m);
        else if (m.type === 'Heartbeat') this.onHeartbeat(m);
        else this.onInstallSnapshot(m);
        return ok(undefined);
      case 'AppendEntriesResponse':
      case 'HeartbeatResponse':
      case 'InstallSnapshotResponse': {
        if (this.role !== 'leader') return ok(undefined);
        const pr = this.progress.get(m.from);
        if (pr === undefined) return err({ code: 'UNKNOWN_PEER', peer: m.from });
        pr.recentActive = true;
        if (m.type === 'AppendEntriesResponse') this.onAppendResponse(pr, m);
        else if (m.type === 'HeartbeatResponse') this.onHeartbeatResponse(pr, m);
        else this.onSnapshotResponse(pr, m);
        return ok(undefined);
      }
      case 'TimeoutNow':
        // §3.10: the leader chose us; campaign at once, skipping PreVote and the leader lease.
        if (this.role !== 'leader' && this.promotable()) this.campaignNow(true);
        return ok(undefined);
    }
  }

  propose(data: Uint8Array): Result<EntryId, ProposeError> {
    const refused = this.refuseProposal();
    if (refused !== null) return err(refused);
    const bytes = 16 + data.byteLength;
    if (this.uncommittedBytes > 0 && this.uncommittedBytes + bytes > this.config.uncommittedBytesMax) {
      return err({
        code: 'DROPPED',
        reason: 'uncommitted-limit',
        message: `${this.uncommittedBytes} uncommitted bytes; limit ${this.config.uncommittedBytesMax}`,
      });
    }
    const entry: Entry = { index: asIndex(this.log.lastIndex() + 1), term: asTerm(this.term), kind: 'command', data };
    this.appendLocal(entry);
    this.uncommittedBytes += bytes;
    return ok({ term: entry.term, index: entry.index });
  }

  proposeConfChange(change: ConfChange): Result<EntryId, ProposeError> {
    const refused = this.refuseProposal();
    if (refused !== null) return err(refused);
    if (this.membership.lastChangeIndex() > this.log.commit) {
      return err({
        code: 'DROPPED',
        reason: 'config-change-pending',
        message: `config change at ${this.membership.lastChangeIndex()} is not committed yet`,
      });
    }
    const next = validateConfChange(this.membership.current(), change);
    if (!next.ok) return err({ code: 'DROPPED', reason: 'invalid-config-change', message: next.error });
    const entry: Entry = { index: asIndex(this.log.lastIndex() + 1), term: asTerm(this.term), kind: 'config', change };
    this.appendLocal(entry);
    this.uncommittedBytes += 24 + change.node.length;
    return ok({ term: entry.term, index: entry.index });
  }

  campaign(): void {
    if (this.role === 'leader' || !this.promotable()) return;
    this.campaignNow(false);
  }

  readIndex(context: ReadContext): Result<void, ReadIndexError> {
    if (this.role === 'leader') {
      if (!this.committedInTerm()) this.readsAwaitingCommit.push(context);
      else this.leaderRead(context, this.id);
      return ok(undefined);
    }
    if (this.leader === null) return err({ code: 'NOT_LEADER', leader: null });
    this.send({ type: 'ReadIndex', from: this.id, to: this.leader, term: asTerm(this.term), context });
    return ok(undefined);
  }

  transferLeadership(to: NodeId): Result<void, TransferError> {
    if (this.role !== 'leader') return err({ code: 'NOT_LEADER', leader: this.leader });
    if (to === this.id) return err({ code: 'INVALID_TARGET', message: `${to} is already the leader` });
    const pr = this.progress.get(to);
    if (pr === undefined || !this.membership.current().voters.includes(to)) {
      return err({ code: 'INVALID_TARGET', message: `${to} is not a voter` });
    }
    if (this.transferee === to) return ok(undefined);
    this.transferee = to;
    this.transferElapsed = 0;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(to);
    else this.sendAppends(pr, true);
    return ok(undefined);
  }

  compact(index: LogIndex, data: Uint8Array): void {
    if (index <= this.log.snapshotIndex) return;
    assert(index <= this.log.applied, () => `compact(${index}) beyond applied ${this.log.applied}`);
    const term = this.log.termAt(index);
    assert(term !== null, () => `compact(${index}): no entry`);
    const snapshot: Snapshot = { meta: { index, term: asTerm(term), conf: this.membership.confAt(index) }, data };
    this.log.compact(snapshot);
    this.membership.compactedTo(index);
  }

  reportUnreachable(peer: NodeId): void {
    if (this.role !== 'leader') return;
    const pr = this.progress.get(peer);
    if (pr !== undefined && pr.state !== 'probe') pr.becomeProbe();
  }

  hasReady(): boolean {
    if (this.role === 'leader' && (this.appendsPending || this.readHeartbeatPending)) return true;
    return (
      this.earlyMessages.length > 0 ||
      this.messages.length > 0 ||
      this.readStates.length > 0 ||
      this.log.hasUnstable() ||
      this.log.hasCommittedToApply() ||
      this.role !== this.prevSoft.role ||
      this.leader !== this.prevSoft.leader ||
      this.term !== this.prevHard.term ||
      this.vote !== this.prevHard.vote ||
      this.log.commit !== this.prevHard.commit
    );
  }

  ready(): Ready {
    assert(this.outstanding === null, 'ready() called again before advance()');
    if (this.role === 'leader') {
      if (this.appendsPending) this.flushAppends();
      if (this.readHeartbeatPending) this.broadcastHeartbeat();
    }
    this.appendsPending = false;
    this.readHeartbeatPending = false;

    let softState: SoftState | null = null;
    if (this.role !== this.prevSoft.role || this.leader !== this.prevSoft.leader) {
      softState = { role: this.role, leader: this.leader };
      this.prevSoft = softState;
    }
    const termOrVoteChanged = this.term !== this.prevHard.term || this.vote !== this.prevHard.vote;
    let hardState: HardState | null = null;
    if (termOrVoteChanged || this.log.commit !== this.prevHard.commit) {
      hardState = { term: asTerm(this.term), vote: this.vote, commit: asIndex(this.log.commit) };
      this.prevHard = hardState;
    }
    const snapshot = this.log.pendingSnapshot;
    this.log.pendingSnapshot = null;
    const entries = this.log.takeUnstable();
    const committed = this.log.takeCommitted();
    const rd: Ready = {
      softState,
      hardState,
      entries,
      snapshot,
      committed,
      earlyMessages: this.earlyMessages,
      messages: this.messages,
      readStates: this.readStates,
      mustSync: termOrVoteChanged || entries.length > 0 || snapshot !== null,
    };
    this.earlyMessages = [];
    this.messages = [];
    this.readStates = [];
    this.outstanding = rd;
    return rd;
  }

  advance(rd: Ready): void {
    assert(this.outstanding === rd, 'advance() without the Ready from the last ready()');
    this.outstanding = null;
    if (rd.snapshot !== null) {
      this.log.persisted = Math.max(this.log.persisted, rd.snapshot.meta.index);
      this.log.applied = Math.max(this.log.applied, rd.snapshot.meta.index);
    }
    const lastEntry = rd.entries[rd.entries.length - 1];
    if (lastEntry !== undefined) this.log.stableTo(lastEntry.index, lastEntry.term);
    const lastCommitted = rd.committed[rd.committed.length - 1];
    if (lastCommitted !== undefined) this.log.applied = Math.max(this.log.applied, lastCommitted.index);
    // Dissertation §10.2.1: the leader's own copy counts toward the quorum once it is durable.
    if (this.role === 'leader' && lastEntry !== undefined) this.maybeCommit();
  }

  status(): RaftStatus {
    const progress: PeerProgress[] = [];
    for (const pr of this.progress.values()) {
      progress.push({
        id: pr.id,
        match: asIndex(pr.match),
        next: asIndex(pr.next),
        state: pr.state,
        inflight: pr.inflight.count,
        recentActive: pr.recentActive,
      });
    }
    const lastChange = this.membership.lastChangeIndex();
    return {
      id: this.id,
      role: this.role,
      term: asTerm(this.term),
      vote: this.vote,
      leader: this.leader,
      commit: asIndex(this.log.commit),
      applied: asIndex(this.log.applied),
      firstIndex: asIndex(this.log.firstIndex()),
      lastIndex: asIndex(this.log.lastIndex()),
      snapshotIndex: asIndex(this.log.snapshotIndex),
      conf: this.membership.current(),
      pendingConfIndex: asIndex(lastChange > this.log.commit ? lastChange : 0),
      transferringTo: this.transferee,
      progress,
    };
  }

  // ─── Roles ───────────────────────────────────────────────────────────────────────────────────

  private promotable(): boolean {
    return this.membership.current().voters.includes(this.id);
  }

  /** Heard from a live leader within the election timeout (or we are that leader). */
  private inLease(): boolean {
    return (
      (this.config.checkQuorum || this.config.preVote) &&
      this.leader !== null &&
      this.electionElapsed < this.config.electionTicks
    );
  }

  private resetElectionTimer(): void {
    this.electionElapsed = 0;
    this.randomizedElectionTicks = this.rng.int(this.config.electionTicks, 2 * this.config.electionTicks - 1);
  }

  private becomeFollower(term: number, leader: NodeId | null): void {
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

  private resetLeaderState(): void {
    this.progress.clear();
    this.votes.clear();
    this.transferee = null;
    this.reads.clear();
    this.readsAwaitingCommit = [];
    this.appendsPending = false;
    this.readHeartbeatPending = false;
    this.uncommittedBytes = 0;
  }

  private campaignNow(transfer: boolean): void {
    if (this.config.preVote && !transfer) this.becomePreCandidate();
    else this.becomeCandidate(transfer);
  }

  private becomePreCandidate(): void {
    this.role = 'preCandidate';
    this.leader = null;
    this.resetElectionTimer();
    this.resetLeaderState();
    this.votes.set(this.id, true);
    if (voteResult(this.membership.current().voters, this.votes) === 'won') {
      this.becomeCandidate(false);
      return;
    }
    this.requestVotes(true, false, this.term + 1);
  }

  private becomeCandidate(transfer: boolean): void {
    this.term += 1;
    this.vote = this.id;
    this.role = 'candidate';
    this.leader = null;
    this.resetElectionTimer();
    this.resetLeaderState();
    this.votes.set(this.id, true);
    if (voteResult(this.membership.current().voters, this.votes) === 'won') {
      this.becomeLeader();
      return;
    }
    this.requestVotes(false, transfer, this.term);
  }

  private requestVotes(preVote: boolean, transfer: boolean, term: number): void {
    for (const voter of this.membership.current().voters) {
      if (voter === this.id) continue;
      this.send({
        type: 'RequestVote',
        from: this.id,
        to: voter,
        term: asTerm(term),
        preVote,
        lastIndex: asIndex(this.log.lastIndex()),
        lastTerm: asTerm(this.log.lastTerm()),
        transfer,
      });
    }
  }

  private becomeLeader(): void {
    this.role = 'leader';
    this.leader = this.id;
    this.resetLeaderState();
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    const conf = this.membership.current();
    for (const id of [...conf.voters, ...conf.learners]) this.addProgress(id);
    this.leaderStartIndex = this.log.lastIndex() + 1;
    // Raft §8: a no-op of the new term lets the leader learn (and commit) what is committed.
    this.appendLocal({ index: asIndex(this.log.lastIndex() + 1), term: asTerm(this.term), kind: 'noop' });
  }

  private addProgress(id: NodeId): void {
    if (id === this.id || this.progress.has(id)) return;
    const pr = new Progress(id, this.log.lastIndex() + 1, this.config.inflightAppendsMax);
    pr.recentActive = true;
    this.progress.set(id, pr);
  }

  private onRequestVote(m: MessageOf<'RequestVote'>): void {
    const canVote =
      this.vote === m.from ||
      (this.vote === null && this.leader === null) ||
      (m.preVote && m.term > this.term);
    if (canVote && this.log.isUpToDate(m.lastIndex, m.lastTerm)) {
      this.send(this.voteResponse(m.from, m.preVote, true, m.preVote ? m.term : this.term));
      if (!m.preVote) {
        this.vote = m.from;
        this.electionElapsed = 0;
      }
    } else {
      this.send(this.voteResponse(m.from, m.preVote, false, this.term));
    }
  }

  private voteResponse(to: NodeId, preVote: boolean, granted: boolean, term: number): Message {
    return { type: 'RequestVoteResponse', from: this.id, to, term: asTerm(term), preVote, granted };
  }

  private onVoteResponse(m: MessageOf<'RequestVoteResponse'>): void {
    const expected = (this.role === 'preCandidate' && m.preVote) || (this.role === 'candidate' && !m.preVote);
    if (!expected) return;
    const voters = this.membership.current().voters;
    if (!voters.includes(m.from)) return;
    this.votes.set(m.from, m.granted);
    switch (voteResult(voters, this.votes)) {
      case 'won':
        if (this.role === 'preCandidate') this.becomeCandidate(false);
        else this.becomeLeader();
        return;
      case 'lost':
        this.becomeFollower(this.term, null);
        return;
      case 'pending':
        return;
    }
  }

  // ─── Follower ────────────────────────────────────────────────────────────────────────────────

  private onAppendEntries(m: MessageOf<'AppendEntries'>): void {
    const entries = m.entries;
    let prevIndex: number = m.prevIndex;
    let prevTerm: number = m.prevTerm;
    let from = 0;
    if (prevIndex < this.log.commit) {
      // Everything through our commit index already matches the leader (Raft §5.4 Leader Completeness).
      const skip = this.log.commit - prevIndex;
      if (skip >= entries.length) {
        this.sendAppendResponse(m.from, true, this.log.commit, 0, 0);
        return;
      }
      const lastSkipped = entries[skip - 1] as Entry;
      prevIndex = lastSkipped.index;
      prevTerm = lastSkipped.term;
      from = skip;
    }
    if (!this.log.matchTerm(prevIndex, prevTerm)) {
      const hint = this.log.findConflictByTerm(prevIndex, prevTerm);
      this.sendAppendResponse(m.from, false, m.prevIndex, hint.index, hint.term);
      return;
    }
    const merged = this.log.mergeFrom(entries, from);
    let confChanged = false;
    if (merged.truncatedFrom !== Infinity) confChanged = this.membership.truncatedFrom(merged.truncatedFrom);
    if (merged.appendedFrom !== Infinity) {
      const first = (entries[0] as Entry).index;
      for (let i = merged.appendedFrom - first; i < entries.length; i++) {
        const entry = entries[i] as Entry;
        if (entry.kind === 'config' && this.membership.appended(entry)) confChanged = true;
      }
    }
    if (confChanged) this.onConfChanged();
    const lastNew = m.prevIndex + entries.length;
    this.log.commitTo(Math.min(m.commit, lastNew));
    this.sendAppendResponse(m.from, true, lastNew, 0, 0);
  }

  private sendAppendResponse(to: NodeId, accepted: boolean, index: number, hintIndex: number, hintTerm: number): void {
    this.send({
      type: 'AppendEntriesResponse',
      from: this.id,
      to,
      term: asTerm(this.term),
      accepted,
      index: asIndex(index),
      hintIndex: asIndex(hintIndex),
      hintTerm: asTerm(hintTerm),
    });
  }

  private onHeartbeat(m: MessageOf<'Heartbeat'>): void {
    // The leader sends min(match, commit), so the entries it commits here match the leader's.
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    this.send({ type: 'HeartbeatResponse', from: this.id, to: m.from, term: asTerm(this.term), context: m.context });
  }

  private onInstallSnapshot(m: MessageOf<'InstallSnapshot'>): void {
    const respond = (nextOffset: number, done: boolean): void =>
      this.send({
        type: 'InstallSnapshotResponse',
        from: this.id,
        to: m.from,
        term: asTerm(this.term),
        snapshotIndex: m.meta.index,
        nextOffset,
        done,
      });
    if (m.meta.index <= this.log.commit) {
      // We already hold (committed) everything it covers.
      this.snapshotReceiver.reset();
      respond(m.totalBytes, true);
      return;
    }
    const outcome = this.snapshotReceiver.accept(m);
    if (outcome.kind === 'ack') {
      respond(outcome.nextOffset, false);
      return;
    }
    const { meta } = outcome.snapshot;
    if (this.log.matchTerm(meta.index, meta.term)) {
      this.log.commitTo(meta.index);
    } else {
      this.log.restore(outcome.snapshot);
      this.membership.reset(meta.conf, meta.index);
      this.onConfChanged();
    }
    respond(m.totalBytes, true);
  }

  // ─── Leader ──────────────────────────────────────────────────────────────────────────────────

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.transferee !== null && ++this.transferElapsed >= this.config.electionTicks) {
      // The transfer did not complete within an election timeout: give up, accept proposals again.
      this.transferee = null;
    }
    if (this.electionElapsed >= this.config.electionTicks) {
      this.electionElapsed = 0;
      if (this.config.checkQuorum) {
        if (!this.quorumActive()) {
          this.becomeFollower(this.term, null);
          return;
        }
        for (const pr of this.progress.values()) pr.recentActive = false;
      }
    }
    for (const pr of this.progress.values()) {
      if (pr.state === 'snapshot' && ++pr.snapshotIdleTicks >= this.config.electionTicks) pr.becomeProbe();
    }
    if (this.heartbeatElapsed >= this.config.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.broadcastHeartbeat();
    }
  }

  /** Dissertation §6.2 CheckQuorum: did a quorum of voters (counting ourselves) answer lately? */
  private quorumActive(): boolean {
    const active = new Set<NodeId>([this.id]);
    for (const pr of this.progress.values()) if (pr.recentActive) active.add(pr.id);
    return hasQuorum(this.membership.current().voters, active);
  }

  private refuseProposal(): ProposeError | null {
    if (this.role !== 'leader') return { code: 'NOT_LEADER', leader: this.leader };
    if (this.transferee !== null) {
      return { code: 'DROPPED', reason: 'transfer-in-progress', message: `transferring leadership to ${this.transferee}` };
    }
    return null;
  }

  /** Append on the leader; sending waits for the next Ready so concurrent proposals share one append. */
  private appendLocal(entry: Entry): void {
    this.log.append(entry);
    this.appendsPending = true;
    if (entry.kind === 'config' && this.membership.appended(entry)) this.onConfChanged();
  }

  private onConfChanged(): void {
    if (this.role === 'leader') {
      const conf = this.membership.current();
      for (const id of [...conf.voters, ...conf.learners]) this.addProgress(id);
      for (const id of [...this.progress.keys()]) {
        if (!isMember(conf, id)) {
          this.progress.delete(id);
          if (this.transferee === id) this.transferee = null;
        }
      }
      this.maybeCommit();
    } else if (this.role !== 'follower' && !this.promotable()) {
      this.becomeFollower(this.term, null);
    }
  }

  private matchOf = (id: NodeId): number => {
    if (id === this.id) return this.log.persisted;
    const pr = this.progress.get(id);
    return pr === undefined ? 0 : pr.match;
  };

  /** Raft §5.4.2: advance commit to what a quorum holds, but only through an entry of our term. */
  private maybeCommit(): boolean {
    if (this.role !== 'leader') return false;
    const index = committedIndex(this.membership.current().voters, this.matchOf);
    if (index <= this.log.commit || this.log.termAt(index) !== this.term) return false;
    const old = this.log.commit;
    this.log.commitTo(index);
    this.onLeaderCommit(old);
    return true;
  }

  private onLeaderCommit(old: number): void {
    const commit = this.log.commit;
    for (let i = Math.max(old + 1, this.leaderStartIndex + 1); i <= commit; i++) {
      const entry = this.log.entryAt(i);
      if (entry === undefined) continue;
      this.uncommittedBytes -= entry.kind === 'command' ? 16 + entry.data.byteLength : entry.kind === 'config' ? 24 + entry.change.node.length : 0;
    }
    if (this.uncommittedBytes < 0) this.uncommittedBytes = 0;
    this.appendsPending = true;
    if (old < this.leaderStartIndex && this.readsAwaitingCommit.length > 0) {
      const waiting = this.readsAwaitingCommit;
      this.readsAwaitingCommit = [];
      for (const context of waiting) this.leaderRead(context, this.id);
    }
    if (!this.promotable() && this.membership.lastChangeIndex() <= commit) {
      // Dissertation §4.2.2: a leader removed from the configuration steps down once the removal commits.
      this.flushAppends();
      this.becomeFollower(this.term, null);
    }
  }

  private committedInTerm(): boolean {
    return this.log.termAt(this.log.commit) === this.term;
  }

  private flushAppends(): void {
    for (const pr of this.progress.values()) this.sendAppends(pr, false);
  }

  /**
   * Send what `pr` may receive now: in replicate state, pipelined appends until the window is
   * full; in probe state, one append. With nothing new to send, an empty append still carries a
   * newer commit index (or answers `force`).
   */
  private sendAppends(pr: Progress, force: boolean): void {
    if (pr.state === 'snapshot') return;
    const last = this.log.lastIndex();
    let sent = false;
    while (pr.canSend() && pr.next <= last) {
      if (pr.next <= this.log.snapshotIndex) {
        this.startSnapshot(pr);
        return;
      }
      this.sendAppend(pr);
      sent = true;
      if (pr.state === 'probe') return;
    }
    if (sent || (!force && pr.sentCommit >= this.log.commit)) return;
    if (pr.state === 'probe' && pr.probeSent) return;
    if (pr.next <= this.log.snapshotIndex) {
      this.startSnapshot(pr);
      return;
    }
    this.sendAppend(pr, true);
  }

  private sendAppend(pr: Progress, empty = false): void {
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.termAt(prevIndex);
    assert(prevTerm !== null, () => `no term for prevIndex ${prevIndex}`);
    const entries: readonly Entry[] = empty
      ? []
      : this.log.slice(pr.next, this.log.lastIndex() + 1, this.config.appendEntriesMax, this.config.appendBytesMax);
    this.send({
      type: 'AppendEntries',
      from: this.id,
      to: pr.id,
      term: asTerm(this.term),
      prevIndex: asIndex(prevIndex),
      prevTerm: asTerm(prevTerm),
      entries,
      commit: asIndex(this.log.commit),
    });
    pr.sentCommit = this.log.commit;
    if (pr.state === 'probe') {
      pr.probeSent = true;
    } else if (entries.length > 0) {
      const lastSent = prevIndex + entries.length;
      pr.next = lastSent + 1;
      pr.inflight.add(lastSent);
    }
  }

  private onAppendResponse(pr: Progress, m: MessageOf<'AppendEntriesResponse'>): void {
    if (!m.accepted) {
      if (pr.state === 'snapshot') return;
      const hint = this.log.findConflictByTerm(m.hintIndex, m.hintTerm).index;
      if (pr.maybeDecrease(m.index, hint)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppends(pr, true);
      }
      return;
    }
    const updated = pr.maybeUpdate(m.index);
    pr.inflight.freeTo(m.index);
    if (pr.state === 'probe' || (pr.state === 'snapshot' && pr.match >= pr.snapshotIndex)) pr.becomeReplicate();
    if (updated) this.maybeCommit();
    if (pr.id === this.transferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(pr.id);
    if (this.role === 'leader') this.sendAppends(pr, false);
  }

  private onHeartbeatResponse(pr: Progress, m: MessageOf<'HeartbeatResponse'>): void {
    if (pr.state === 'probe') pr.probeSent = false;
    if (pr.state === 'replicate' && pr.inflight.full()) pr.inflight.freeTo(pr.next);
    if (pr.match < this.log.lastIndex()) this.sendAppends(pr, true);
    if (m.context === null) return;
    const acks = this.reads.ack(m.context, pr.id);
    if (acks === null || !hasQuorum(this.membership.current().voters, acks)) return;
    for (const read of this.reads.releaseThrough(m.context)) this.deliverRead(read.from, read.context, read.index);
  }

  private startSnapshot(pr: Progress): void {
    assert(this.log.snapshot !== null, 'snapshot needed but none kept');
    pr.becomeSnapshot(this.log.snapshotIndex);
    this.sendSnapshotChunk(pr);
  }

  private sendSnapshotChunk(pr: Progress): void {
    const snapshot = this.log.snapshot;
    assert(snapshot !== null, 'snapshot transfer without a snapshot');
    if (pr.snapshotIndex !== snapshot.meta.index) {
      pr.snapshotIndex = snapshot.meta.index;
      pr.snapshotOffset = 0;
    }
    const chunk = snapshotChunk(snapshot, pr.snapshotOffset, this.config.snapshotChunkBytes);
    this.send({
      type: 'InstallSnapshot',
      from: this.id,
      to: pr.id,
      term: asTerm(this.term),
      meta: snapshot.meta,
      offset: pr.snapshotOffset,
      data: chunk.data,
      totalBytes: snapshot.data.byteLength,
      done: chunk.done,
    });
  }

  private onSnapshotResponse(pr: Progress, m: MessageOf<'InstallSnapshotResponse'>): void {
    if (pr.state !== 'snapshot' || m.snapshotIndex !== pr.snapshotIndex) return;
    pr.snapshotIdleTicks = 0;
    if (m.done) {
      const updated = pr.maybeUpdate(m.snapshotIndex);
      pr.becomeReplicate();
      if (updated) this.maybeCommit();
      if (this.role === 'leader') this.sendAppends(pr, false);
      return;
    }
    pr.snapshotOffset = m.nextOffset;
    this.sendSnapshotChunk(pr);
  }

  private sendTimeoutNow(to: NodeId): void {
    this.send({ type: 'TimeoutNow', from: this.id, to, term: asTerm(this.term) });
  }

  private broadcastHeartbeat(): void {
    const context = this.reads.newestContext();
    for (const pr of this.progress.values()) {
      this.send({
        type: 'Heartbeat',
        from: this.id,
        to: pr.id,
        term: asTerm(this.term),
        commit: asIndex(Math.min(pr.match, this.log.commit)),
        context,
      });
    }
  }

  // ─── ReadIndex (§6.4) ────────────────────────────────────────────────────────────────────────

  private leaderRead(context: ReadContext, from: NodeId): void {
    if (this.reads.has(context)) return;
    this.reads.add(context, this.log.commit, from, this.id);
    const acks = this.reads.ack(context, this.id);
    if (acks !== null && hasQuorum(this.membership.current().voters, acks)) {
      for (const read of this.reads.releaseThrough(context)) this.deliverRead(read.from, read.context, read.index);
      return;
    }
    this.readHeartbeatPending = true;
  }

  private onReadIndexRequest(m: MessageOf<'ReadIndex'>): void {
    if (this.role === 'leader' && this.committedInTerm()) {
      this.leaderRead(m.context, m.from);
      return;
    }
    this.send({
      type: 'ReadIndexResponse',
      from: this.id,
      to: m.from,
      term: asTerm(this.term),
      context: m.context,
      index: null,
    });
  }

  private deliverRead(from: NodeId, context: ReadContext, index: number): void {
    if (from === this.id) {
      this.readStates.push({ index: asIndex(index), context });
      return;
    }
    this.send({
      type: 'ReadIndexResponse',
      from: this.id,
      to: from,
      term: asTerm(this.term),
      context,
      index: asIndex(index),
    });
  }

  // ─── Output ──────────────────────────────────────────────────────────────────────────────────

  /**
   * A leader's appends and heartbeats may leave before this Ready's write, provided the term and
   * vote they carry were already handed out in an earlier Ready (which the host persisted before
   * calling advance). Everything else waits for the write.
   */
  private send(m: Message): void {
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

/** Build a Raft node from its static config, what it persisted, and its random stream. */
export const createRaftNode: CreateRaftCore = (config, persisted, rng) => new RaftNode(config, persisted, rng);
