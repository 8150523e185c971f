import { join } from 'node:path';
import type { LostWrites } from './errors.js';
import { LostWritesError, recoverySteps, StorageError } from './errors.js';
import type { EvidenceFound, LogMark } from './evidence.js';
import { evidenceFileNames } from './evidence.js';
import type { Recovered } from './recovery.js';

/**
 * Refuses a recovered log that is older than its evidence says (LOST_WRITES), or whose evidence
 * is unreadable or gone although the log was written with it (CORRUPT_DATA); every message says
 * what was lost, where, and how to recover. A directory with neither a generation nor evidence
 * was written before both existed: nothing to compare, and it gets both.
 */
export function refuseLostWrites(dir: string, nodeId: string, found: EvidenceFound, recovered: Recovered): void {
  const mark = markOf(recovered);
  const newest = found.newest;
  const steps = recoverySteps(dir, nodeId);
  if (newest === null) {
    if (found.copies.some((copy) => copy.state === 'damaged')) {
      const what = found.copies.map((copy) => `${copy.name} ${copy.state === 'damaged' ? copy.why : 'is missing'}`).join('; ');
      throw new StorageError(
        { code: 'CORRUPT_DATA', dir },
        `data directory ${dir}: no copy of its evidence file is readable (${what}), so the node cannot tell what it acknowledged. ${steps}`,
      );
    }
    if (mark.generation > 0) {
      throw new StorageError(
        { code: 'CORRUPT_DATA', dir },
        `data directory ${dir}: its evidence files ${evidenceFileNames.join(' and ')} are missing, although the log ` +
          `was written with them (generation ${mark.generation}), so the node cannot tell what it acknowledged. ${steps}`,
      );
    }
    return;
  }
  const lost = compareWithEvidence(mark, newest.mark, newest.name, (index) => termAt(recovered, index));
  if (lost === null) return;
  throw new LostWritesError(
    dir,
    lost,
    `data directory ${dir} lost writes it had made durable and acknowledged: ${lost.lost.join('; ')}. ` +
      `The evidence file ${join(dir, newest.name)} records ${describeMark(newest.mark)} at generation ` +
      `${newest.mark.generation}; the log holds ${describeMark(mark)} at generation ${mark.generation}. A node that ` +
      `forgot them could vote twice in one term or deny a committed entry, so it must not start as a voter. ${steps}`,
  );
}

/** The state a recovered log is in, as the evidence records it. */
export function markOf(recovered: Recovered): LogMark {
  const { state, layout, generation } = recovered;
  const last = state.entries[state.entries.length - 1];
  return {
    generation,
    term: state.hardState.term,
    vote: state.hardState.vote,
    commit: state.hardState.commit,
    lastIndex: layout.lastStored,
    lastTerm: last?.term ?? state.snapshot?.meta.term ?? 0,
    snapshotIndex: layout.snapshotIndex,
  };
}

/** The term a recovered log holds at `index`: an entry's, or the snapshot's at its own index. */
function termAt(recovered: Recovered, index: number): number | null {
  const { state, layout } = recovered;
  if (index === layout.snapshotIndex) return state.snapshot?.meta.term ?? (index === 0 ? 0 : null);
  if (index < layout.snapshotIndex || index > layout.lastStored) return null;
  return state.entries[index - layout.snapshotIndex - 1]?.term ?? null;
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
  const voteLost = recorded.vote !== null && (found.term < recorded.term || (found.term === recorded.term && found.vote !== recorded.vote));
  if (found.term < recorded.term) lost.push(`term ${recorded.term} (the log is back at term ${found.term})`);
  if (voteLost) lost.push(`the vote for ${recorded.vote ?? ''} in term ${recorded.term}${describeVote(found, recorded)}`);
  if (found.generation > recorded.generation) return lost.length === 0 ? null : { file, recorded, found, entries, lost };

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
  if (found.snapshotIndex < recorded.snapshotIndex) lost.push(`the snapshot at ${recorded.snapshotIndex} (the log holds one at ${found.snapshotIndex})`);
  if (found.generation < recorded.generation) {
    const batches = recorded.generation - found.generation;
    lost.push(`${batches} synced batch${batches === 1 ? '' : 'es'} (generation${batches === 1 ? '' : 's'} ${span(found.generation + 1, recorded.generation)})`);
    return { file, recorded, found, entries, lost };
  }
  if (lost.length === 0 && !sameState(found, recorded)) {
    lost.push(`the state of generation ${recorded.generation} (rewritten behind the log's back: ${describeMark(recorded)} became ${describeMark(found)})`);
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
