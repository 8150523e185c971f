import type { Entry } from '../raft/types.js';
import { assert } from '../util/assert.js';
import type { PersistRequest } from '../node/durable-log.js';

/**
 * Whether `request` may join a batch that already holds other requests. A snapshot decides what
 * it keeps from the log by the term stored at its index (Raft §7), so it must see the log exactly
 * as the requests before it left it: a request carrying a snapshot only ever starts a batch.
 */
export function canJoinBatch(request: PersistRequest): boolean {
  return request.snapshot === null;
}

/**
 * One request with the same effect as writing `requests` one after the other, so a group commit
 * can write them in one batch. Only the first may carry a snapshot (see `canJoinBatch`). A request
 * applies in the order snapshot → entries → hard state, so:
 * - entries replace the earlier ones from their first index on (Raft §5.3 truncation);
 * - the last hard state wins;
 * - the result is synced if any request had to be, and carries the last `seq`.
 * Linear in the number of entries. A gap between entry runs is a caller bug and fails an
 * assertion, as it would in storage.
 */
export function mergeAllRequests(requests: readonly PersistRequest[]): PersistRequest {
  const head = requests[0];
  assert(head !== undefined, 'nothing to merge');
  if (requests.length === 1) return head;
  let hardState = head.hardState;
  let sync = false;
  let entries: Entry[] = [];
  for (const [position, request] of requests.entries()) {
    assert(
      position === 0 || canJoinBatch(request),
      () => `request ${request.seq} carries a snapshot and cannot join a batch`,
    );
    const next = request.entries[0];
    const first = entries[0];
    if (next !== undefined && first !== undefined) {
      const keep = next.index - first.index;
      assert(
        keep <= entries.length,
        () => `entries ${next.index}.. leave a gap after ${first.index + entries.length - 1} (request ${request.seq})`,
      );
      if (keep < 0) entries = [];
      else entries.length = keep;
    }
    for (const entry of request.entries) entries.push(entry);
    hardState = request.hardState ?? hardState;
    sync ||= request.sync;
  }
  const last = requests[requests.length - 1] ?? head;
  return { seq: last.seq, hardState, entries, snapshot: head.snapshot, sync };
}

/** `mergeAllRequests` of two. */
export function mergeRequests(first: PersistRequest, second: PersistRequest): PersistRequest {
  return mergeAllRequests([first, second]);
}
