import { asIndex, asTerm, type MessageOf } from '../casts.js';
import type { RaftState } from '../state.js';
import type { Entry, NodeId } from '../types.js';
import { onConfChanged } from './leader.js';

/** The follower's side of replication: AppendEntries (Raft §5.3), heartbeats and InstallSnapshot. */

export function onAppendEntries(s: RaftState, m: MessageOf<'AppendEntries'>): void {
  const entries = m.entries;
  let prevIndex: number = m.prevIndex;
  let prevTerm: number = m.prevTerm;
  let from = 0;
  if (prevIndex < s.log.commit) {
    // Everything through our commit index already matches the leader (Raft §5.4 Leader Completeness).
    const skip = s.log.commit - prevIndex;
    if (skip >= entries.length) {
      acceptAppend(s, m.from, s.log.commit);
      return;
    }
    const lastSkipped = entries[skip - 1] as Entry;
    prevIndex = lastSkipped.index;
    prevTerm = lastSkipped.term;
    from = skip;
  }
  const skipCheck = s.mutations.has('skip-prev-check') && prevIndex <= s.log.lastIndex();
  if (!s.log.matchTerm(prevIndex, prevTerm) && !skipCheck) {
    const hint = s.log.findConflictByTerm(prevIndex, prevTerm);
    rejectAppend(s, m.from, m.prevIndex, hint);
    return;
  }
  const merged = s.log.mergeFrom(entries, from);
  let confChanged = false;
  if (merged.truncatedFrom !== Infinity) confChanged = s.membership.truncatedFrom(merged.truncatedFrom);
  if (merged.appendedFrom !== Infinity) {
    const first = (entries[0] as Entry).index;
    for (let i = merged.appendedFrom - first; i < entries.length; i++) {
      const entry = entries[i] as Entry;
      if (entry.kind === 'config' && s.membership.appended(entry)) confChanged = true;
    }
  }
  if (confChanged) onConfChanged(s);
  const lastNew = m.prevIndex + entries.length;
  const commitBefore = s.log.commit;
  s.log.commitTo(s.mutations.has('apply-before-commit') ? lastNew : Math.min(m.commit, lastNew));
  if (isCommitNotice(s, m, commitBefore)) return;
  acceptAppend(s, m.from, lastNew);
}

/**
 * An empty append that only moved our commit index, right after the index we last told this
 * leader in this term we match through: the answer would repeat that index, so none is sent. The
 * leader sends one such notice per follower per commit so that followers apply at once
 * (docs/raft.md, "Commit notices"); answering each cost a socket write here and a wake-up there.
 * If our earlier answer was lost, the leader's next heartbeat answer makes it retry with an
 * append that moves no commit index, and that one is answered.
 */
function isCommitNotice(s: RaftState, m: MessageOf<'AppendEntries'>, commitBefore: number): boolean {
  return (
    m.entries.length === 0 &&
    s.log.commit > commitBefore &&
    s.ackedLeader === m.from &&
    s.ackedTerm === s.term &&
    s.ackedIndex === m.prevIndex
  );
}

/** The follower's log matches the leader's through `index`. */
function acceptAppend(s: RaftState, to: NodeId, index: number): void {
  s.ackedTerm = s.term;
  s.ackedLeader = to;
  s.ackedIndex = index;
  s.send({
    type: 'AppendEntriesResponse',
    from: s.id,
    to,
    term: asTerm(s.term),
    accepted: true,
    index: asIndex(index),
    hintIndex: asIndex(0),
    hintTerm: asTerm(0),
  });
}

/** No match at `prevIndex`; `hint` is where the leader should look next (see findConflictByTerm). */
function rejectAppend(s: RaftState, to: NodeId, prevIndex: number, hint: { index: number; term: number }): void {
  s.ackedLeader = null;
  s.send({
    type: 'AppendEntriesResponse',
    from: s.id,
    to,
    term: asTerm(s.term),
    accepted: false,
    index: asIndex(prevIndex),
    hintIndex: asIndex(hint.index),
    hintTerm: asTerm(hint.term),
  });
}

export function onHeartbeat(s: RaftState, m: MessageOf<'Heartbeat'>): void {
  // The leader sends min(match, commit), so the entries it commits here match the leader's.
  s.log.commitTo(Math.min(m.commit, s.log.lastIndex()));
  s.send({ type: 'HeartbeatResponse', from: s.id, to: m.from, term: asTerm(s.term), context: m.context });
}

export function onInstallSnapshot(s: RaftState, m: MessageOf<'InstallSnapshot'>): void {
  const respond = (transfer: { nextOffset: number; done: boolean }): void =>
    s.send({
      type: 'InstallSnapshotResponse',
      from: s.id,
      to: m.from,
      term: asTerm(s.term),
      snapshotIndex: m.meta.index,
      ...transfer,
    });
  const complete = { nextOffset: m.totalBytes, done: true };
  s.ackedLeader = null;
  if (m.meta.index <= s.log.commit) {
    // We already hold (committed) everything it covers.
    s.snapshotReceiver.reset();
    respond(complete);
    return;
  }
  const outcome = s.snapshotReceiver.accept(m);
  if (outcome.kind === 'ack') {
    respond({ nextOffset: outcome.nextOffset, done: false });
    return;
  }
  const { meta } = outcome.snapshot;
  if (s.log.matchTerm(meta.index, meta.term)) {
    s.log.commitTo(meta.index);
  } else {
    s.log.restore(outcome.snapshot);
    s.membership.reset(meta.conf, meta.index);
    onConfChanged(s);
  }
  respond(complete);
}
