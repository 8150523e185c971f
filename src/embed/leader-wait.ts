/**
 * Finding the leader of an in-process cluster (`startCluster`, and the node-server tests' cluster
 * in test/server/fixtures/secure-cluster.ts), and waiting until every running voter agrees on it:
 * a node may still follow an old term's leader for a moment after a new one is elected.
 */
import type { NodeServer } from '../server/node-server.js';

/** The running node that considers itself leader, or null while none does. */
export function runningLeader(servers: readonly NodeServer[]): NodeServer | null {
  return servers.find((s) => !s.isStopped && s.leader === s.nodeId) ?? null;
}

/** Resolves with the leader once every running voter knows it (or rejects after `timeoutMs`). */
export async function waitForAgreedLeader(servers: readonly NodeServer[], timeoutMs: number): Promise<NodeServer> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = runningLeader(servers);
    const voters = found?.statusView().voters ?? [];
    const agrees = (s: NodeServer): boolean => s.isStopped || !voters.includes(s.nodeId) || s.leader === found?.nodeId;
    if (found !== null && servers.every(agrees)) return found;
    if (Date.now() > deadline) throw new Error(`no leader within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
