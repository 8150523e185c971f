import { asIndex, asTerm, type MessageOf } from '../casts.js';
import type { ReadContext } from '../messages.js';
import { hasQuorum } from '../quorum.js';
import type { RaftState } from '../state.js';
import type { NodeId } from '../types.js';

/** ReadIndex (dissertation §6.4): the leader's read points, confirmed by a quorum heartbeat round. */

export function leaderRead(s: RaftState, context: ReadContext, from: NodeId): void {
  if (s.reads.has(context)) return;
  s.reads.add(context, s.log.commit, from, s.id);
  const acks = s.reads.ack(context, s.id);
  if ((acks !== null && hasQuorum(s.membership.current().voters, acks)) || s.mutations.has('read-without-quorum')) {
    for (const read of s.reads.releaseThrough(context)) deliverRead(s, read.from, read.context, read.index);
    return;
  }
  s.readHeartbeatPending = true;
}

export function onReadIndexRequest(s: RaftState, m: MessageOf<'ReadIndex'>): void {
  if (s.role === 'leader' && s.committedInTerm()) {
    leaderRead(s, m.context, m.from);
    return;
  }
  s.send({
    type: 'ReadIndexResponse',
    from: s.id,
    to: m.from,
    term: asTerm(s.term),
    context: m.context,
    index: null,
  });
}

export function deliverRead(s: RaftState, from: NodeId, context: ReadContext, index: number): void {
  if (from === s.id) {
    s.readStates.push({ index: asIndex(index), context });
    return;
  }
  s.send({
    type: 'ReadIndexResponse',
    from: s.id,
    to: from,
    term: asTerm(s.term),
    context,
    index: asIndex(index),
  });
}
