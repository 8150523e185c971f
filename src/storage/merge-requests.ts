import type { Entry } from '../raft/types.js';
import { assert } from '../util/assert.js';
import type { PersistRequest } from './durable-log.js';

/**
 * One request with the same effect as writing `first` and then `second`, so a group commit can
 * write several in one batch. A request applies in the order snapshot → entries → hard state →
 * compaction, so:
 * - the later snapshot and the later hard state win;
 * - `second`'s snapshot drops the entries of `first` it covers;
 * - `second`'s entries replace `first`'s from `second.entries[0].index` on (Raft §5.3 truncation);
 * - compaction goes to the higher mark (it only ever touches entries a snapshot covers);
 * - the merged request is synced if either one had to be.
 * A gap between the two entry runs is a caller bug and fails an assertion, as it would in storage.
 */
export function mergeRequests(first: PersistRequest, second: PersistRequest): PersistRequest {
  const snapshot = second.snapshot ?? first.snapshot;
  if (first.snapshot !== null && second.snapshot !== null) {
    assert(
      second.snapshot.meta.index >= first.snapshot.meta.index,
      () => `snapshot ${second.snapshot?.meta.index} is older than ${first.snapshot?.meta.index}`,
    );
  }
  let entries: readonly Entry[] = first.entries;
  if (second.snapshot !== null) {
    const covered = second.snapshot.meta.index;
    entries = entries.filter((entry) => entry.index > covered);
  }
  const next = second.entries[0];
  if (next !== undefined) {
    const kept = entries.filter((entry) => entry.index < next.index);
    const last = kept[kept.length - 1];
    assert(
      last === undefined || last.index + 1 === next.index,
      () => `entries ${next.index}.. do not follow entry ${last?.index}: a gap in request ${second.seq}`,
    );
    entries = kept.length === 0 ? second.entries : [...kept, ...second.entries];
  }
  const marks = [first.compactThrough, second.compactThrough].filter((mark) => mark !== null);
  return {
    seq: second.seq,
    hardState: second.hardState ?? first.hardState,
    entries,
    snapshot,
    compactThrough: marks.length === 0 ? null : marks.reduce((a, b) => (a >= b ? a : b)),
    sync: first.sync || second.sync,
  };
}
