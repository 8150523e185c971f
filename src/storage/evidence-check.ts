import { join } from 'node:path';
import { LostWritesError, recoverySteps, StorageError } from './errors.js';
import type { EvidenceFound } from './evidence.js';
import { evidenceFileNames } from './evidence.js';
import type { LogMark } from '../node/log-mark.js';
import { compareWithEvidence, describeMark } from '../node/log-mark.js';
import type { HardState } from '../raft/types.js';
import type { Recovered } from './recovery.js';
import type { StoredLayout } from './write-plan.js';

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
      const what = found.copies
        .map((copy) => `${copy.name} ${copy.state === 'damaged' ? copy.why : 'is missing'}`)
        .join('; ');
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
  const lastTerm = last?.term ?? state.snapshot?.meta.term ?? 0;
  return markAt(generation, { hardState: state.hardState, lastTerm }, layout);
}

/** The mark of a log after batch `generation`: its hard state, and `layout` ending at `lastTerm`. */
export function markAt(
  generation: number,
  state: { readonly hardState: HardState; readonly lastTerm: number },
  layout: StoredLayout,
): LogMark {
  return {
    generation,
    term: state.hardState.term,
    vote: state.hardState.vote,
    commit: state.hardState.commit,
    lastIndex: layout.lastStored,
    lastTerm: state.lastTerm,
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
