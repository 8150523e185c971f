import type { Command } from 'commander';
import type { NodeStatus } from '../client/types.js';
import type { ClusterOptions } from './client-common.js';
import { action, clusterOptions, exitCodes, print, sessionlessClient, table, toJson } from './client-common.js';

interface NodeReport {
  readonly endpoint: string;
  readonly status: NodeStatus | null;
  readonly error: string | null;
}

/**
 * `raftlock status`: asks every member for its own view (role, term, commit and applied index,
 * leader, members, counts) and the leader for each member's lag. Exit 0 when every reachable node
 * agrees on one leader, 3 when none is reachable or there is no leader.
 */
async function runStatus(options: ClusterOptions): Promise<number> {
  const { client, endpoints } = await sessionlessClient(options);
  const reports: NodeReport[] = await Promise.all(
    endpoints.map(async (endpoint) => {
      try {
        return { endpoint, status: await client.statusOf(endpoint), error: null };
      } catch (error: unknown) {
        const message = error instanceof Error ? error.message : String(error);
        return { endpoint, status: null, error: message };
      }
    }),
  );
  client.abandon();
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
