import type { NodeId } from '../raft/types.js';

/**
 * The state of a node's log after one batch, as its evidence files record it (evidence.ts), and
 * the comparison that tells a log that lost synced writes from one that is merely old. Pure: the
 * simulator's disk (src/sim/disk.ts) keeps the same evidence and makes the same comparison.
 */

/** What the log held after one batch: the fields the evidence compares. */
export interface LogMark {
  /** The batch's number: the log's `generation` key after it. */
  readonly generation: number;
  readonly term: number;
  readonly vote: NodeId | null;
  readonly commit: number;
  /** The last index the log holds (the snapshot's when it holds no entry after it). */
  readonly lastIndex: number;
  /** The term at `lastIndex`. */
  readonly lastTerm: number;
  readonly snapshotIndex: number;
}

/** What a LOST_WRITES refusal found missing; `lost` names each loss in words. */
export interface LostWrites {
  /** The evidence copy the log was compared with (a file in the data directory). */
  readonly file: string;
  /** What the evidence records: the log's state after its last synced batch. */
  readonly recorded: LogMark;
  /** What the log holds now. */
  readonly found: LogMark;
  /** Acknowledged log entries the log no longer holds (inclusive), when the tail went back. */
  readonly entries: { readonly from: number; readonly to: number } | null;
  readonly lost: readonly string[];
}

/**
 * Compares the log as loaded (`found`) with the evidence of its last synced batch (`recorded`,
 * from the copy `file`). Null when the log is at least as new as the evidence; otherwise what it
 * lost. `termAt` is the term the loaded log holds at an index: an entry's, or the snapshot's at
 * its own index; null where it holds neither (below the snapshot, past the end).
 *
 * Every batch rewrites the log's generation and the evidence is written only after its batch is
 * synced, so after any crash the log's generation is at least the evidence's. Hence:
 * - a lower generation: synced batches are gone (a write-ahead log cut short or torn);
 * - the same generation: the log must be exactly the recorded state, field by field (a key
 *   rewritten or rolled back behind the log's back, a table file of older data);
 * - a higher one: the log wrote on after the evidence, and entries may legitimately have been
 *   replaced (Raft §5.3) or compacted, but the term never goes back, and the vote of a term
 *   never changes (Raft §5.1, §5.2).
 */
export function compareWithEvidence(
  found: LogMark,
  recorded: LogMark,
  file: string,
  termAt: (index: number) => number | null,
): LostWrites | null {
  const lost: string[] = [];
  let entries: LostWrites['entries'] = null;
  const voteLost =
    recorded.vote !== null &&
    (found.term < recorded.term || (found.term === recorded.term && found.vote !== recorded.vote));
  if (found.term < recorded.term) lost.push(`term ${recorded.term} (the log is back at term ${found.term})`);
  if (voteLost)
    lost.push(`the vote for ${recorded.vote ?? ''} in term ${recorded.term}${describeVote(found, recorded)}`);
  if (found.generation > recorded.generation)
    return lost.length === 0 ? null : { file, recorded, found, entries, lost };

  if (found.lastIndex < recorded.lastIndex) {
    entries = { from: found.lastIndex + 1, to: recorded.lastIndex };
    lost.push(`log entries ${span(entries.from, entries.to)} (through term ${recorded.lastTerm})`);
  } else {
    const term = termAt(recorded.lastIndex);
    if (term !== null && term !== recorded.lastTerm) {
      entries = { from: recorded.lastIndex, to: recorded.lastIndex };
      lost.push(`log entry ${recorded.lastIndex} of term ${recorded.lastTerm} (the log holds term ${term} there)`);
    }
  }
  if (found.commit < recorded.commit) lost.push(`commit index ${recorded.commit} (the log is back at ${found.commit})`);
  if (found.snapshotIndex < recorded.snapshotIndex)
    lost.push(`the snapshot at ${recorded.snapshotIndex} (the log holds one at ${found.snapshotIndex})`);
  if (found.generation < recorded.generation) {
    const batches = recorded.generation - found.generation;
    lost.push(
      `${batches} synced batch${batches === 1 ? '' : 'es'} (generation${batches === 1 ? '' : 's'} ${span(found.generation + 1, recorded.generation)})`,
    );
    return { file, recorded, found, entries, lost };
  }
  if (lost.length === 0 && !sameState(found, recorded)) {
    lost.push(
      `the state of generation ${recorded.generation} (rewritten behind the log's back: ${describeMark(recorded)} became ${describeMark(found)})`,
    );
  }
  return lost.length === 0 ? null : { file, recorded, found, entries, lost };
}

function sameState(a: LogMark, b: LogMark): boolean {
  return (
    a.term === b.term &&
    a.vote === b.vote &&
    a.commit === b.commit &&
    a.lastIndex === b.lastIndex &&
    a.lastTerm === b.lastTerm &&
    a.snapshotIndex === b.snapshotIndex
  );
}

function describeVote(found: LogMark, recorded: LogMark): string {
  if (found.term !== recorded.term) return '';
  return found.vote === null ? ' (the log holds no vote)' : ` (the log holds a vote for ${found.vote})`;
}

function span(from: number, to: number): string {
  return from === to ? `${from}` : `${from}..${to}`;
}

/** One line for a mark, as the refusal prints it. */
export function describeMark(mark: LogMark): string {
  const vote = mark.vote === null ? 'no vote' : `vote ${mark.vote}`;
  return `term ${mark.term}, ${vote}, log through ${mark.lastIndex} (term ${mark.lastTerm}), commit ${mark.commit}, snapshot at ${mark.snapshotIndex}`;
}
