/**
 * Nodes of an in-process cluster bind port 0, so none knows the others' addresses until all have
 * bound: this tells every node every node's addresses (its own included), peer, client and HTTP
 * when served. Called once the nodes are up and again after a joiner starts (`startCluster`, and
 * the node-server tests' cluster in test/server/fixtures/secure-cluster.ts).
 */
import type { NodeServer } from '../server/node-server.js';

export function introduceNodes(servers: readonly NodeServer[]): void {
  for (const a of servers) {
    for (const b of servers) {
      const http = b.httpAddress;
      a.setMember({ id: b.nodeId, peer: b.peerAddress, client: b.clientAddress, ...(http === null ? {} : { http }) });
    }
  }
}
