/**
 * Cancelling the watches a reader may no longer keep, once the applied users or roles changed:
 * on the client port (client-auth.ts) and on the HTTP gateway's channels (node-gateway.ts) alike,
 * each cancelled watch is told to its reader (`watchCancelled`, PERMISSION_DENIED) and logged with
 * who and why.
 */
import type { RequestChannel } from '../node/request-channel.js';
import type { Logger } from '../util/logger.js';

/**
 * Cancels every watch of `channel` whose prefix `refusal` refuses (null: still allowed) for
 * `principal`. Returns whether any was cancelled (the caller then updates the push routes).
 */
export function cancelRefusedWatches(
  channel: RequestChannel,
  principal: string,
  refusal: (prefix: string) => string | null,
  log: Logger,
): boolean {
  let cancelled = false;
  for (const watch of [...channel.watches.values()]) {
    const reason = refusal(watch.prefix);
    if (reason === null) continue;
    channel.watches.delete(watch.id);
    channel.push({ kind: 'watchCancelled', watchId: watch.id, code: 'PERMISSION_DENIED', message: reason });
    log.warn('watch cancelled', { remote: channel.remote, user: principal, prefix: watch.prefix, reason });
    cancelled = true;
  }
  return cancelled;
}
