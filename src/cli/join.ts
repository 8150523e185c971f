/**
 * `raftlock start --join ENDPOINTS --node n4 --peer HOST:PORT --client HOST:PORT --data DIR`: a
 * node that is not in cluster.yml joins a running cluster. The cluster file still gives the
 * cluster id, the PKI directory and the settings; the members and their addresses come from the
 * cluster itself (`members list`, asked with the node's own certificate, which the cluster accepts
 * once `members add n4 --peer --client` made n4 a member).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { RaftlockClient } from '../client/client.js';
import { nodeId as toNodeId } from '../raft/types.js';
import type { NodeId } from '../raft/types.js';
import { pkiLayout } from '../security/pki-files.js';
import type { ClusterConfig, NodeConfig } from '../config/cluster-config.js';
import { parseHostPort } from '../config/cluster-config.js';
import type { Result } from '../util/result.js';
import { err, ok } from '../util/result.js';

export interface JoinOptions {
  readonly join: string;
  readonly node: NodeId;
  readonly peer?: string;
  readonly client?: string;
  readonly data?: string;
  readonly insecure?: boolean;
}

/** The addresses the new node listens on: from the options, else from its entry in the file. */
function selfConfig(config: ClusterConfig, options: JoinOptions): Result<NodeConfig, string> {
  const listed = config.nodes.find((n) => n.id === options.node);
  const peer = options.peer === undefined ? listed?.peer : parseHostPort(options.peer);
  const client = options.client === undefined ? listed?.client : parseHostPort(options.client);
  const dataDir = options.data === undefined ? listed?.dataDir : resolve(options.data);
  if (peer === undefined || peer === null)
    return err(`--join needs --peer HOST:PORT for ${options.node} (where the other nodes reach it)`);
  if (client === undefined || client === null) return err(`--join needs --client HOST:PORT for ${options.node}`);
  if (dataDir === undefined) return err(`--join needs --data DIR for ${options.node}`);
  return ok({ id: options.node, peer, client, dataDir, join: true });
}

/**
 * `config` with this node (joining) and the members the cluster reports, in place of the file's
 * own node list.
 */
export async function joinedConfig(
  config: ClusterConfig,
  options: JoinOptions,
): Promise<Result<ClusterConfig, string>> {
  const self = selfConfig(config, options);
  if (!self.ok) return self;
  const endpoints = options.join
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  if (endpoints.length === 0) return err('--join needs the client addresses of running members, host:port,…');
  const insecure = options.insecure === true || config.security.insecure;
  let tls: { ca: Buffer; cert: Buffer; key: Buffer } | false = false;
  if (!insecure) {
    const files = pkiLayout.node(config.security.pkiDir, options.node);
    try {
      tls = { ca: readFileSync(files.ca), cert: readFileSync(files.cert), key: readFileSync(files.key) };
    } catch (error) {
      return err(
        `the node's certificate for ${options.node} cannot be read (${error instanceof Error ? error.message : String(error)}); sign one with the cluster's CA: raftlock certs create-node`,
      );
    }
  }
  const client = new RaftlockClient({
    endpoints,
    clusterId: config.cluster.id,
    tls,
    requestTimeoutMs: 15_000,
    connectTimeoutMs: 5_000,
  });
  try {
    const members = await client.members('list');
    if (!members.some((m) => m.id === options.node)) {
      return err(
        `${options.node} is not a member of ${config.cluster.id} yet: run raftlock members add ${options.node} --peer … --client … first`,
      );
    }
    const others: NodeConfig[] = [];
    for (const member of members) {
      if (member.id === options.node) continue;
      const peer = parseHostPort(member.peer);
      const clientAddress = parseHostPort(member.client);
      if (peer === null || clientAddress === null)
        return err(`the cluster reports unusable addresses for ${member.id}: ${member.peer}, ${member.client}`);
      others.push({ id: toNodeId(member.id), peer, client: clientAddress, dataDir: '', join: false });
    }
    return ok({ ...config, nodes: [...others, self.value] });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return err(
      `cannot learn the members from ${endpoints.join(',')}: ${message} (is ${options.node} added with raftlock members add?)`,
    );
  } finally {
    client.abandon();
  }
}
