import { asIndex, asTerm, type MessageOf } from '../casts.js';
import { assert } from '../../util/assert.js';
import type { ProposeError } from '../errors.js';
import { isMember } from '../confchange.js';
import { Progress } from '../progress.js';
import { committedIndex, hasQuorum } from '../quorum.js';
import { snapshotChunk } from '../snapshot-transfer.js';
import type { RaftState } from '../state.js';
import type { Entry, NodeId } from '../types.js';
import { deliverRead, leaderRead } from './read.js';

/**
 * The leader: heartbeats and CheckQuorum (dissertation §6.2), the commit rule (Raft §5.4.2),
 * per-follower replication in probe / replicate / snapshot state, membership bookkeeping and
 * leadership transfer (§3.10).
 */

export function tickLeader(s: RaftState): void {
  s.heartbeatElapsed++;
  s.electionElapsed++;
  if (s.transferee !== null && ++s.transferElapsed >= s.config.electionTicks) {
    // The transfer did not complete within an election timeout: give up, accept proposals again.
    s.transferee = null;
  }
  if (s.electionElapsed >= s.config.electionTicks) {
    s.electionElapsed = 0;
    if (s.config.checkQuorum && !quorumActive(s)) {
      s.becomeFollower(s.term, null);
      return;
    }
    pruneRemoved(s);
    for (const pr of s.progress.values()) pr.recentActive = false;
  }
  for (const pr of s.progress.values()) {
    if (pr.state !== 'snapshot') continue;
    pr.snapshotIdleTicks++;
    if (pr.snapshotIdleTicks >= s.config.electionTicks) {
      // No answer for an election timeout: fall back to probing, which restarts the transfer.
      pr.becomeProbe();
    } else if (pr.snapshotIdleTicks % (2 * s.config.heartbeatTicks) === 0) {
      // A chunk or its answer may be lost: send the unacknowledged chunk again.
      sendSnapshotChunk(s, pr);
    }
  }
  if (s.heartbeatElapsed >= s.config.heartbeatTicks) {
    s.heartbeatElapsed = 0;
    for (const pr of s.progress.values()) pr.heartbeatResent = false;
    broadcastHeartbeat(s);
  }
}

/** Dissertation §6.2 CheckQuorum: did a quorum of voters (counting ourselves) answer lately? */
export function quorumActive(s: RaftState): boolean {
  const active = new Set<NodeId>([s.id]);
  for (const pr of s.progress.values()) if (pr.recentActive) active.add(pr.id);
  return hasQuorum(s.membership.current().voters, active);
}

export function refuseProposal(s: RaftState): ProposeError | null {
  if (s.role !== 'leader') return { code: 'NOT_LEADER', leader: s.leader };
  if (s.transferee !== null) {
    return { code: 'DROPPED', reason: 'transfer-in-progress', message: `transferring leadership to ${s.transferee}` };
  }
  return null;
}

/** Append on the leader; sending waits for the next Ready so concurrent proposals share one append. */
export function appendLocal(s: RaftState, entry: Entry): void {
  s.log.append(entry);
  s.appendsPending = true;
  if (entry.kind === 'config' && s.membership.appended(entry)) onConfChanged(s);
}

export function onConfChanged(s: RaftState): void {
  if (s.role === 'leader') {
    reconcileProgress(s);
    const conf = s.membership.current();
    if (s.transferee !== null && !conf.voters.includes(s.transferee)) s.transferee = null;
    // Removed members keep their progress (never counted) until they hold their removal: see pruneRemoved.
    maybeCommit(s);
  } else if (s.role !== 'follower' && !s.promotable()) {
    s.becomeFollower(s.term, null);
  }
}

/**
 * Fit the progress map to the configuration in force: every other member gets progress, and a node
 * that is a member now but was not when the map was last fitted (re)joins with fresh progress
 * (match 0, probing after our last entry). A node removed and re-added under the same id may have
 * been wiped in between; what it acknowledged before says nothing about its log now, and trusting
 * it would count a false match toward commit and probe the empty node at the old match forever.
 * Every way a leader's configuration changes goes through here: its own appends (whoever proposed
 * the change) and becoming leader.
 */
export function reconcileProgress(s: RaftState): void {
  const conf = s.membership.current();
  for (const id of [...conf.voters, ...conf.learners]) {
    if (!isMember(s.progressConf, id)) s.progress.delete(id);
    addProgress(s, id);
  }
  s.progressConf = conf;
}

function addProgress(s: RaftState, id: NodeId): void {
  if (id === s.id || s.progress.has(id)) return;
  const pr = new Progress(id, s.log.lastIndex() + 1, s.config.inflightAppendsMax);
  pr.recentActive = true;
  s.progress.set(id, pr);
}

function matchOf(s: RaftState, id: NodeId): number {
  if (id === s.id) return s.log.persisted;
  const pr = s.progress.get(id);
  return pr === undefined ? 0 : pr.match;
}

/** Raft §5.4.2: advance commit to what a quorum holds, but only through an entry of our term. */
export function maybeCommit(s: RaftState): boolean {
  if (s.role !== 'leader') return false;
  const index = committedIndex(s.membership.current().voters, (id) => matchOf(s, id));
  if (index <= s.log.commit) return false;
  if (s.log.termAt(index) !== s.term && !s.mutations.has('commit-old-term')) return false;
  const old = s.log.commit;
  s.log.commitTo(index);
  onLeaderCommit(s, old);
  return true;
}

/**
 * Stop replicating to members removed by a committed change once they hold the removal entry (so
 * they know they are out and never campaign), or once they went silent for a CheckQuorum round.
 * Replicating to them meanwhile costs nothing: they are in no quorum.
 */
function pruneRemoved(s: RaftState): void {
  const changeIndex = s.membership.lastChangeIndex();
  if (changeIndex > s.log.commit) return;
  const conf = s.membership.current();
  for (const pr of [...s.progress.values()]) {
    if (!isMember(conf, pr.id) && (pr.match >= changeIndex || !pr.recentActive)) s.progress.delete(pr.id);
  }
}

export function onLeaderCommit(s: RaftState, old: number): void {
  const commit = s.log.commit;
  for (let i = Math.max(old + 1, s.leaderStartIndex + 1); i <= commit; i++) {
    const entry = s.log.entryAt(i);
    if (entry === undefined) continue;
    s.uncommittedBytes -=
      entry.kind === 'command'
        ? 16 + entry.data.byteLength
        : entry.kind === 'config'
          ? 24 + entry.change.node.length
          : 0;
  }
  if (s.uncommittedBytes < 0) s.uncommittedBytes = 0;
  s.appendsPending = true;
  if (old < s.leaderStartIndex && s.readsAwaitingCommit.length > 0) {
    const waiting = s.readsAwaitingCommit;
    s.readsAwaitingCommit = [];
    for (const context of waiting) leaderRead(s, context, s.id);
  }
  pruneRemoved(s);
  if (!s.promotable() && s.membership.lastChangeIndex() <= commit) {
    // Dissertation §4.2.2: a leader removed from the configuration steps down once the removal commits.
    flushAppends(s);
    s.becomeFollower(s.term, null);
  }
}

export function flushAppends(s: RaftState): void {
  for (const pr of s.progress.values()) sendAppends(s, pr, 'ifCommitMoved');
}

/**
 * When `sendAppends` sends an empty append, having no entries to send: `ifCommitMoved` (it carries
 * a commit index newer than the last one sent to the peer), or `always` (a probe or a retry that
 * wants the peer's answer).
 */
export type EmptyAppend = 'ifCommitMoved' | 'always';

/** Whether one append carries the entries from `pr.next` on, or none (a probe, a commit index). */
export type AppendContent = 'entries' | 'empty';

/**
 * Send what `pr` may receive now: in replicate state, pipelined appends until the window is
 * full; in probe state, one append. With nothing new to send, an empty append is sent as `empty` says.
 */
export function sendAppends(s: RaftState, pr: Progress, empty: EmptyAppend): void {
  if (pr.state === 'snapshot') return;
  const last = s.log.lastIndex();
  let sent = false;
  while (pr.canSend() && pr.next <= last) {
    if (pr.next <= s.log.snapshotIndex) {
      startSnapshot(s, pr);
      return;
    }
    sendAppend(s, pr, 'entries');
    sent = true;
    if (pr.state === 'probe') return;
  }
  if (sent || (empty === 'ifCommitMoved' && pr.sentCommit >= s.log.commit)) return;
  if (pr.state === 'probe' && pr.probeSent) return;
  if (pr.next <= s.log.snapshotIndex) {
    startSnapshot(s, pr);
    return;
  }
  sendAppend(s, pr, 'empty');
}

export function sendAppend(s: RaftState, pr: Progress, content: AppendContent): void {
  const prevIndex = pr.next - 1;
  const prevTerm = s.log.termAt(prevIndex);
  assert(prevTerm !== null, () => `no term for prevIndex ${prevIndex}`);
  const entries: readonly Entry[] =
    content === 'empty'
      ? []
      : s.log.slice(pr.next, s.log.lastIndex() + 1, s.config.appendEntriesMax, s.config.appendBytesMax);
  s.send({
    type: 'AppendEntries',
    from: s.id,
    to: pr.id,
    term: asTerm(s.term),
    prevIndex: asIndex(prevIndex),
    prevTerm: asTerm(prevTerm),
    entries,
    commit: asIndex(s.log.commit),
  });
  pr.sentCommit = s.log.commit;
  if (pr.state === 'probe') {
    pr.probeSent = true;
  } else if (entries.length > 0) {
    const lastSent = prevIndex + entries.length;
    pr.next = lastSent + 1;
    pr.inflight.add(lastSent);
  }
}

export function onAppendResponse(s: RaftState, pr: Progress, m: MessageOf<'AppendEntriesResponse'>): void {
  if (!m.accepted) {
    if (pr.state === 'snapshot') return;
    const hint = s.log.findConflictByTerm(m.hintIndex, m.hintTerm).index;
    // A stale answer is dropped, never answered with a resend: resending on stale answers is what
    // turns a follower that lost acknowledged entries into an endless reject/resend loop.
    if (pr.onRejected(m.index, hint) !== 'stale') sendAppends(s, pr, 'always');
    return;
  }
  const updated = pr.maybeUpdate(m.index);
  pr.inflight.freeTo(m.index);
  if (pr.state === 'probe' || (pr.state === 'snapshot' && pr.match >= pr.snapshotIndex)) pr.becomeReplicate();
  if (updated) maybeCommit(s);
  if (pr.id === s.transferee && pr.match === s.log.lastIndex()) sendTimeoutNow(s, pr.id);
  if (s.role !== 'leader') return;
  sendAppends(s, pr, 'ifCommitMoved');
  if (!isMember(s.membership.current(), pr.id)) pruneRemoved(s);
}

export function onHeartbeatResponse(s: RaftState, pr: Progress, m: MessageOf<'HeartbeatResponse'>): void {
  // The follower is alive, yet an append or its answer may be lost: retry, once per heartbeat
  // interval however many heartbeat rounds it answers.
  if (pr.match < s.log.lastIndex() && !pr.heartbeatResent) {
    pr.heartbeatResent = true;
    if (pr.state === 'probe') pr.probeSent = false;
    if (pr.state === 'replicate' && pr.inflight.full()) pr.inflight.freeFirst();
    sendAppends(s, pr, 'always');
  }
  if (m.context === null) return;
  const acks = s.reads.ack(m.context, pr.id);
  if (acks === null || !hasQuorum(s.membership.current().voters, acks)) return;
  for (const read of s.reads.releaseThrough(m.context)) deliverRead(s, read.from, read.context, read.index);
}

export function startSnapshot(s: RaftState, pr: Progress): void {
  assert(s.log.snapshot !== null, 'snapshot needed but none kept');
  pr.becomeSnapshot(s.log.snapshotIndex);
  sendSnapshotChunk(s, pr);
}

export function sendSnapshotChunk(s: RaftState, pr: Progress): void {
  const snapshot = s.log.snapshot;
  assert(snapshot !== null, 'snapshot transfer without a snapshot');
  if (pr.snapshotIndex !== snapshot.meta.index) {
    pr.snapshotIndex = snapshot.meta.index;
    pr.snapshotOffset = 0;
  }
  const chunk = snapshotChunk(snapshot, pr.snapshotOffset, s.config.snapshotChunkBytes);
  s.send({
    type: 'InstallSnapshot',
    from: s.id,
    to: pr.id,
    term: asTerm(s.term),
    meta: snapshot.meta,
    offset: pr.snapshotOffset,
    data: chunk.data,
    totalBytes: snapshot.data.byteLength,
    done: chunk.done,
  });
}

export function onSnapshotResponse(s: RaftState, pr: Progress, m: MessageOf<'InstallSnapshotResponse'>): void {
  if (pr.state !== 'snapshot' || m.snapshotIndex !== pr.snapshotIndex) return;
  pr.snapshotIdleTicks = 0;
  if (m.done) {
    const updated = pr.maybeUpdate(m.snapshotIndex);
    pr.becomeReplicate();
    if (updated) maybeCommit(s);
    if (s.role === 'leader') sendAppends(s, pr, 'ifCommitMoved');
    return;
  }
  pr.snapshotOffset = m.nextOffset;
  sendSnapshotChunk(s, pr);
}

export function sendTimeoutNow(s: RaftState, to: NodeId): void {
  s.send({ type: 'TimeoutNow', from: s.id, to, term: asTerm(s.term) });
}

export function broadcastHeartbeat(s: RaftState): void {
  const context = s.reads.newestContext();
  for (const pr of s.progress.values()) {
    s.send({
      type: 'Heartbeat',
      from: s.id,
      to: pr.id,
      term: asTerm(s.term),
      commit: asIndex(Math.min(pr.match, s.log.commit)),
      context,
    });
  }
}
