import { asIndex, asTerm, type MessageOf } from '../casts.js';
import type { Message } from '../messages.js';
import { voteResult } from '../quorum.js';
import type { RaftState } from '../state.js';
import type { NodeId } from '../types.js';
import { appendLocal, reconcileProgress } from './leader.js';

/**
 * Elections (Raft §5.2) with PreVote (dissertation §9.6): becoming a (pre)candidate, asking for
 * votes, answering vote requests, counting answers, and becoming leader.
 */

/**
 * Why a node campaigns: an ordinary `election` (its timer ran out, or an operator asked), which
 * starts with PreVote when configured; or a leadership `transfer` (TimeoutNow, §3.10), which skips
 * PreVote and asks voters to ignore their leader lease.
 */
export type Campaign = 'election' | 'transfer';

/** What a RequestVote asks, and for which term. */
export interface VoteRequest {
  readonly preVote: boolean;
  readonly transfer: boolean;
  readonly term: number;
}

/** The answer to one (pre-)vote request. */
export interface VoteAnswer {
  readonly to: NodeId;
  readonly preVote: boolean;
  readonly granted: boolean;
  readonly term: number;
}

export function campaignNow(s: RaftState, campaign: Campaign): void {
  if (s.config.preVote && campaign === 'election') becomePreCandidate(s);
  else becomeCandidate(s, campaign);
}

/**
 * Enters a (pre)candidacy: no known leader, a fresh election timer and tally, and the node's own
 * vote counted. True when that vote alone wins (the node is the only voter).
 */
function standForElection(s: RaftState, role: 'preCandidate' | 'candidate'): boolean {
  s.role = role;
  s.leader = null;
  s.resetElectionTimer();
  s.resetLeaderState();
  s.votes.set(s.id, true);
  return voteResult(s.membership.current().voters, s.votes) === 'won';
}

export function becomePreCandidate(s: RaftState): void {
  if (standForElection(s, 'preCandidate')) becomeCandidate(s, 'election');
  else requestVotes(s, { preVote: true, transfer: false, term: s.term + 1 });
}

export function becomeCandidate(s: RaftState, campaign: Campaign): void {
  s.term += 1;
  s.vote = s.id;
  if (standForElection(s, 'candidate')) becomeLeader(s);
  else requestVotes(s, { preVote: false, transfer: campaign === 'transfer', term: s.term });
}

export function requestVotes(s: RaftState, request: VoteRequest): void {
  const { preVote, transfer, term } = request;
  for (const voter of s.membership.current().voters) {
    if (voter === s.id) continue;
    s.send({
      type: 'RequestVote',
      from: s.id,
      to: voter,
      term: asTerm(term),
      preVote,
      lastIndex: asIndex(s.log.lastIndex()),
      lastTerm: asTerm(s.log.lastTerm()),
      transfer,
    });
  }
}

export function becomeLeader(s: RaftState): void {
  s.role = 'leader';
  s.leader = s.id;
  s.resetLeaderState();
  s.electionElapsed = 0;
  s.heartbeatElapsed = 0;
  reconcileProgress(s);
  s.leaderStartIndex = s.log.lastIndex() + 1;
  // Raft §8: a no-op of the new term lets the leader learn (and commit) what is committed.
  appendLocal(s, { index: asIndex(s.log.lastIndex() + 1), term: asTerm(s.term), kind: 'noop' });
}

export function onRequestVote(s: RaftState, m: MessageOf<'RequestVote'>): void {
  const canVote = s.vote === m.from || (s.vote === null && s.leader === null) || (m.preVote && m.term > s.term);
  const upToDate = s.log.isUpToDate(m.lastIndex, m.lastTerm) || s.mutations.has('vote-any-log');
  if (canVote && upToDate) {
    s.send(voteResponse(s, { to: m.from, preVote: m.preVote, granted: true, term: m.preVote ? m.term : s.term }));
    if (!m.preVote) {
      s.vote = m.from;
      s.electionElapsed = 0;
    }
  } else {
    s.send(voteResponse(s, { to: m.from, preVote: m.preVote, granted: false, term: s.term }));
  }
}

export function voteResponse(s: RaftState, answer: VoteAnswer): Message {
  const { to, preVote, granted, term } = answer;
  return { type: 'RequestVoteResponse', from: s.id, to, term: asTerm(term), preVote, granted };
}

export function onVoteResponse(s: RaftState, m: MessageOf<'RequestVoteResponse'>): void {
  const expected =
    (s.role === 'preCandidate' && m.preVote) ||
    (s.role === 'candidate' && (!m.preVote || s.mutations.has('prevote-as-vote')));
  if (!expected) return;
  const voters = s.membership.current().voters;
  if (!voters.includes(m.from)) return;
  s.votes.set(m.from, m.granted);
  switch (voteResult(voters, s.votes)) {
    case 'won':
      if (s.role === 'preCandidate') becomeCandidate(s, 'election');
      else becomeLeader(s);
      return;
    case 'lost':
      s.becomeFollower(s.term, null);
      return;
    case 'pending':
      return;
  }
}
