/**
 * The configuration of a cluster run inside one process on 127.0.0.1 (`startCluster`, and the
 * node-server tests' cluster in test/server/fixtures/secure-cluster.ts): every port 0 so the OS
 * picks it, each node's data in a directory named after it, 20 ms ticks, and the cluster.yml
 * defaults for the rest. One place, so a new setting gets one default for both.
 */
import { join } from 'node:path';
import type { NodeId } from '../raft/types.js';
import type { ClusterConfig, HostPort, NodeConfig, SnapshotModeSetting } from '../config/cluster-config.js';
import { clusterDefaults } from '../config/cluster-config.js';

/** Port 0: the OS picks a free port when the node binds. */
const loopbackAddress: HostPort = { host: '127.0.0.1', port: 0 };

export interface LoopbackClusterSpec {
  /** Holds cluster.yml's path, the PKI directory and each node's data directory. */
  readonly root: string;
  /** The cluster's name and id. */
  readonly clusterId: string;
  readonly ids: readonly NodeId[];
  readonly insecure: boolean;
  /** Every node also serves the HTTP/JSON API. */
  readonly http?: boolean;
  // Absent or undefined: the default (startCluster passes its own options through).
  readonly tickMs?: number | undefined;
  readonly electionTicks?: number | undefined;
  readonly snapshotEntries?: number | undefined;
  readonly snapshotMode?: SnapshotModeSetting | undefined;
}

/** One node on 127.0.0.1 with its data under `root`; `joining`: a node that waits to be added. */
export function loopbackNode(root: string, id: NodeId, joining: boolean, http = false): NodeConfig {
  return {
    id,
    peer: loopbackAddress,
    client: loopbackAddress,
    dataDir: join(root, id),
    join: joining,
    ...(http ? { http: loopbackAddress } : {}),
  };
}

export function loopbackClusterConfig(spec: LoopbackClusterSpec): ClusterConfig {
  const { root, clusterId } = spec;
  return {
    file: join(root, 'cluster.yml'),
    cluster: { name: clusterId, id: clusterId },
    nodes: spec.ids.map((id) => loopbackNode(root, id, false, spec.http)),
    timing: {
      tickMs: spec.tickMs ?? 20,
      heartbeatTicks: 1,
      electionTicks: spec.electionTicks ?? 10,
    },
    snapshot: {
      entries: spec.snapshotEntries ?? clusterDefaults.snapshotEntries,
      bytes: clusterDefaults.snapshotBytes,
      mode: spec.snapshotMode ?? clusterDefaults.snapshotMode,
    },
    limits: clusterDefaults.limits,
    sessions: {
      ttlMs: clusterDefaults.ttlMs,
      keepaliveIntervalMs: 100,
      ttlMinMs: clusterDefaults.ttlMinMs,
      ttlMaxMs: clusterDefaults.ttlMaxMs,
    },
    security: {
      pkiDir: join(root, 'pki'),
      insecure: spec.insecure,
      insecureNonLoopback: false,
      logTimeJumpMaxMs: clusterDefaults.logTimeJumpMaxMs,
    },
    warnings: [],
  };
}
