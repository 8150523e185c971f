// The ordering rule of Curator's InterProcessMutex recipe, apart from any client so that it can be
// checked on its own: every contender is an ephemeral sequential child of the lock's node, named
// `_c_<guid>-lock-<sequence>` (the guid lets a client find its own node after a lost connection),
// the children are ordered by the sequence ZooKeeper appended, the first one holds the lock, and
// every other contender watches only the one just before it (so a release wakes one waiter, not all).

/** The part of every contender's name before ZooKeeper's sequence number. */
export const lockNodeMarker = 'lock-';

/** The name a contender creates under the lock's node: its guid, then the marker ZooKeeper appends to. */
export function protectedLockNodeName(guid: string): string {
  return `_c_${guid}-${lockNodeMarker}`;
}

/** The sequence of a contender's node name (what follows the marker), by which contenders are ordered. */
export function sequenceOf(child: string): string {
  const at = child.lastIndexOf(lockNodeMarker);
  return at < 0 ? child : child.slice(at + lockNodeMarker.length);
}

/** Where a contender stands: it holds the lock, or it waits for `predecessor` to go. */
export type LockTurn = { readonly kind: 'holds' } | { readonly kind: 'waits'; readonly predecessor: string };

/**
 * The turn of `ours` among the lock node's `children`. A contender whose node is gone (its session
 * ended, or someone deleted it) is an error: it can never be granted.
 */
export function lockTurn(children: readonly string[], ours: string): LockTurn {
  const sorted = [...children].sort((a, b) => {
    const x = sequenceOf(a);
    const y = sequenceOf(b);
    return x < y ? -1 : x > y ? 1 : 0;
  });
  const index = sorted.indexOf(ours);
  if (index < 0)
    throw new Error(
      `lock node ${ours} is no longer among the contenders (${children.length} of them): its session may have expired`,
    );
  return index === 0 ? { kind: 'holds' } : { kind: 'waits', predecessor: sorted[index - 1] as string };
}

/** The contender created with `guid`, if it is among `children` (after a create whose reply was lost). */
export function findProtected(children: readonly string[], guid: string): string | undefined {
  const prefix = `_c_${guid}-`;
  return children.find((c) => c.startsWith(prefix));
}
