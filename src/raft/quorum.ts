import type { NodeId } from './types.js';

/**
 * Majority-quorum arithmetic over a voter set, pure. A leader that is not itself a voter (it is
 * being removed, dissertation §4.2.2) simply is not in `voters` and so is not counted.
 */

/** The highest index replicated on a majority of `voters`, given each voter's match index. */
export function committedIndex(voters: readonly NodeId[], matchOf: (id: NodeId) => number): number {
  const n = voters.length;
  if (n === 0) return 0;
  if (n === 1) return matchOf(voters[0] as NodeId);
  const matches = new Array<number>(n);
  for (let i = 0; i < n; i++) matches[i] = matchOf(voters[i] as NodeId);
  matches.sort((a, b) => b - a);
  return matches[n >> 1] as number;
}

export type VoteResult = 'won' | 'lost' | 'pending';

/** Raft §5.2: won with a majority of grants, lost once a majority can no longer be reached. */
export function voteResult(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  const n = voters.length;
  if (n === 0) return 'lost';
  const majority = (n >> 1) + 1;
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const vote = votes.get(id);
    if (vote === true) granted++;
    else if (vote === false) rejected++;
  }
  if (granted >= majority) return 'won';
  if (n - rejected < majority) return 'lost';
  return 'pending';
}

/** True when the members of `acks` that are voters form a majority. */
export function hasQuorum(voters: readonly NodeId[], acks: ReadonlySet<NodeId>): boolean {
  let count = 0;
  for (const id of voters) if (acks.has(id)) count++;
  return voters.length > 0 && count >= (voters.length >> 1) + 1;
}
