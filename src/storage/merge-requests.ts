import type { Entry, Snapshot } from '../raft/types.js';
import { assert } from '../util/assert.js';
import type { PersistRequest } from './durable-log.js';

/**
 * One request with the same effect as writing `requests` one after the other, so a group commit
 * can write them in one batch. A request applies in the order snapshot → entries → hard state →
 * compaction, so:
 * - the last snapshot and the last hard state win;
 * - a snapshot drops the earlier requests' entries it covers;
 * - entries replace the earlier ones from their first index on (Raft §5.3 truncation);
 * - compaction goes to the highest mark (it only ever touches entries a snapshot covers);
 * - the result is synced if any request had to be, and carries the last `seq`.
 * Linear in the number of entries. A gap between entry runs is a caller bug and fails an
 * assertion, as it would in storage.
 */
export function mergeAllRequests(requests: readonly PersistRequest[]): PersistRequest {
  const only = requests[0];
  assert(only !== undefined, 'nothing to merge');
  if (requests.length === 1) return only;
  let snapshot: Snapshot | null = null;
  let hardState = only.hardState;
  let compactThrough = only.compactThrough;
  let sync = false;
  let entries: Entry[] = [];
  for (const request of requests) {
    if (request.snapshot !== null) {
      const covered = request.snapshot.meta.index;
      assert(snapshot === null || covered >= snapshot.meta.index, () => `snapshot ${covered} is older than ${snapshot?.meta.index}`);
      snapshot = request.snapshot;
      const first = entries[0];
      if (first !== undefined) entries = entries.slice(Math.max(0, Math.min(entries.length, covered - first.index + 1)));
    }
    const head = request.entries[0];
    const first = entries[0];
    if (head !== undefined && first !== undefined) {
      const keep = head.index - first.index;
      assert(keep <= entries.length, () => `entries ${head.index}.. leave a gap after ${first.index + entries.length - 1} (request ${request.seq})`);
      if (keep < 0) entries = [];
      else entries.length = keep;
    }
    for (const entry of request.entries) entries.push(entry);
    hardState = request.hardState ?? hardState;
    if (request.compactThrough !== null && (compactThrough === null || request.compactThrough > compactThrough)) {
      compactThrough = request.compactThrough;
    }
    sync ||= request.sync;
  }
  const last = requests[requests.length - 1] ?? only;
  return { seq: last.seq, hardState, entries, snapshot, compactThrough, sync };
}

/** `mergeAllRequests` of two. */
export function mergeRequests(first: PersistRequest, second: PersistRequest): PersistRequest {
  return mergeAllRequests([first, second]);
}
