import type { Command } from 'commander';
import type { RaftlockClient } from '../client/client.js';
import type { NodeStatus } from '../client/types.js';
import type { ClusterOptions } from './client-common.js';
import { action, clusterOptions, exitCodes, print, sessionlessClient, table, toJson } from './client-common.js';

interface NodeReport {
  readonly endpoint: string;
  readonly status: NodeStatus | null;
  readonly error: string | null;
}

function reportsOf(client: RaftlockClient, endpoints: readonly string[]): Promise<NodeReport[]> {
  return Promise.all(
    endpoints.map(async (endpoint) => {
      try {
        return { endpoint, status: await client.statusOf(endpoint), error: null };
      } catch (error: unknown) {
        const message = error instanceof Error ? error.message : String(error);
        return { endpoint, status: null, error: message };
      }
    }),
  );
}

/**
 * The client addresses of members that the reachable nodes name but no endpoint asked answered
 * for: members added at runtime with their addresses (`members add N --peer --client`), which the
 * cluster file does not list (a member whose address no node knows is listed without one, '').
 * Asked of the cluster only when there are such members.
 */
async function unlistedMembers(client: RaftlockClient, reports: readonly NodeReport[]): Promise<string[]> {
  const views = reports.flatMap((r) => (r.status === null ? [] : [r.status]));
  const answered = new Set<string>(views.map((v) => v.nodeId));
  const members = new Set<string>(views.flatMap((v) => [...v.voters, ...v.learners]));
  if ([...members].every((id) => answered.has(id))) return [];
  const asked = new Set(reports.map((r) => r.endpoint));
  const listed = await client.members('list').catch(() => []);
  return listed.flatMap((m) =>
    members.has(m.id) && !answered.has(m.id) && m.client !== '' && !asked.has(m.client) ? [m.client] : [],
  );
}

/**
 * `raftlock status`: asks every node of the cluster file (or of --endpoints), and every member
 * added at runtime, for its own view (role, term, commit and applied index, leader, members,
 * counts) and the leader for each member's lag. Exit 0 when every reachable node agrees on one
 * leader, 3 when none is reachable or there is no leader.
 */
async function runStatus(options: ClusterOptions): Promise<number> {
  const { client, endpoints } = await sessionlessClient(options);
  const reports = await reportsOf(client, endpoints);
  try {
    reports.push(...(await reportsOf(client, await unlistedMembers(client, reports))));
  } finally {
    client.abandon();
  }
  const leaderReport = reports.find((r) => r.status?.role === 'leader');
  const lagOf = (id: string): string => {
    const behind = leaderReport?.status?.lag.find((l) => l.id === id)?.behind;
    return behind === undefined ? '-' : String(behind);
  };
  const leaders = new Set(reports.flatMap((r) => (r.status?.leader ? [r.status.leader] : [])));
  const healthy = reports.some((r) => r.status !== null) && leaders.size === 1;
  if (options.json === true) {
    print(toJson({ leader: leaders.size === 1 ? [...leaders][0] : null, nodes: reports }));
    return healthy ? exitCodes.ok : exitCodes.unavailable;
  }
  const header = ['NODE', 'ENDPOINT', 'ROLE', 'TERM', 'COMMIT', 'APPLIED', 'LAG', 'LEADER'];
  const rows: string[][] = [[...header, 'MEMBERS', 'SESSIONS', 'LOCKS', 'WAITERS']];
  for (const { endpoint, status, error } of reports) {
    if (status === null) {
      rows.push(['?', endpoint, 'unreachable']);
      process.stderr.write(`raftlock: ${endpoint}: ${error ?? 'no answer'}\n`);
      continue;
    }
    const members = [...status.voters, ...status.learners.map((id) => `${id}(learner)`)].join(',');
    rows.push([
      status.nodeId,
      endpoint,
      status.role,
      String(status.term),
      String(status.commit),
      String(status.applied),
      lagOf(status.nodeId),
      status.leader ?? '-',
      members,
      String(status.sessions),
      String(status.locks),
      String(status.waiters),
    ]);
  }
  print(table(rows));
  if (!healthy) {
    const problem = leaders.size > 1 ? 'nodes disagree on the leader' : 'no leader';
    process.stderr.write(`raftlock: ${problem}\n`);
  }
  return healthy ? exitCodes.ok : exitCodes.unavailable;
}

export function registerStatusCommand(program: Command): void {
  clusterOptions(
    program.command('status').description('each node: role, term, commit/applied, lag, leader, members and counts'),
    true,
  ).action(action(runStatus));
}
