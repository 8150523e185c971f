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
        return { endpoint, status: null, error: error instanceof Error ? error.message : String(error) };
      }
    }),
  );
  client.abandon();
  const leaderReport = reports.find((r) => r.status?.role === 'leader');
  const lagOf = (id: string): string => {
    const behind = leaderReport?.status?.lag.find((l) => l.id === id)?.behind;
    return behind === undefined ? '-' : String(behind);
  };
  const leaders = new Set(reports.flatMap((r) => (r.status === null || r.status.leader === null ? [] : [r.status.leader])));
  const healthy = reports.some((r) => r.status !== null) && leaders.size === 1;
  if (options.json === true) {
    print(toJson({ leader: leaders.size === 1 ? [...leaders][0] : null, nodes: reports }));
    return healthy ? exitCodes.ok : exitCodes.unavailable;
  }
  const rows: string[][] = [['NODE', 'ENDPOINT', 'ROLE', 'TERM', 'COMMIT', 'APPLIED', 'LAG', 'LEADER', 'MEMBERS', 'SESSIONS', 'LOCKS', 'WAITERS']];
  for (const { endpoint, status, error } of reports) {
    if (status === null) {
      rows.push(['?', endpoint, `unreachable (${error ?? ''})`]);
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
  if (!healthy) process.stderr.write(leaders.size > 1 ? 'raftlock: nodes disagree on the leader\n' : 'raftlock: no leader\n');
  return healthy ? exitCodes.ok : exitCodes.unavailable;
}

export function registerStatusCommand(program: Command): void {
  clusterOptions(
    program.command('status').description("every node's role, term, commit/applied index, lag, leader, members, sessions, locks and waiters"),
    true,
  ).action(action(runStatus));
}
