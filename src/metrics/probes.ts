/**
 * The answers to Kubernetes-style probes: `/healthz` (liveness: restart me if not) and `/readyz`
 * (readiness: send me traffic). Pure functions of what the node reports; docs/metrics.md gives the
 * rules.
 */

/** What readiness looks at: the node's status view (`NodeStatusView`) has all of it. */
export interface ReadinessStatus {
  readonly nodeId: string;
  readonly leader: string | null;
  readonly commit: number;
  readonly applied: number;
  readonly voters: readonly string[];
  readonly learners: readonly string[];
  /** The node stopped (shutting down, or after a fatal error). */
  readonly stopped?: boolean;
}

export interface Readiness {
  readonly ready: boolean;
  /** Why, in a sentence an operator can act on. */
  readonly reason: string;
}

/** By default a node more than this many entries from applying what is committed is not ready. */
export const defaultAppliedLagMax = 1000;

/**
 * Ready when the node runs, is a member (voter or learner), knows a leader, and has applied all but
 * at most `appliedLagMax` of the committed entries: its answers (reads, pushes, watches) are then
 * current to within that bound, and its requests reach a leader.
 */
export function readiness(status: ReadinessStatus, appliedLagMax: number = defaultAppliedLagMax): Readiness {
  if (status.stopped === true) return { ready: false, reason: `node ${status.nodeId} has stopped` };
  const voter = status.voters.includes(status.nodeId);
  if (!voter && !status.learners.includes(status.nodeId)) {
    const members = [...status.voters, ...status.learners.map((l) => `${l} (learner)`)];
    const known = members.length === 0 ? 'no members known yet' : `members: ${members.join(', ')}`;
    return { ready: false, reason: `node ${status.nodeId} is not a member of the cluster (${known})` };
  }
  if (status.leader === null) return { ready: false, reason: `node ${status.nodeId} knows no leader` };
  const behind = status.commit - status.applied;
  if (behind > appliedLagMax) {
    return {
      ready: false,
      reason: `node ${status.nodeId} has applied ${status.applied} of ${status.commit} committed entries: ${behind} behind, more than ${appliedLagMax}`,
    };
  }
  const role = voter ? 'voter' : 'learner';
  return {
    ready: true,
    reason: `node ${status.nodeId} is a ${role}, leader ${status.leader}, ${Math.max(0, behind)} committed entries to apply`,
  };
}

export interface HealthStatus {
  readonly nodeId: string;
  /** The error that stopped the node; null while it runs (or after a clean shutdown). */
  readonly fatal: unknown;
}

export interface Health {
  readonly healthy: boolean;
  readonly reason: string;
}

/**
 * Healthy while the process serves: answering at all shows its event loop turns. Unhealthy once
 * the node stopped on a fatal error (a failed write, a broken invariant): it will not recover by
 * itself, and restarting it recovers from what is durable.
 */
export function health(status: HealthStatus): Health {
  if (status.fatal === null || status.fatal === undefined)
    return { healthy: true, reason: `node ${status.nodeId} is serving` };
  const why = status.fatal instanceof Error ? status.fatal.message : String(status.fatal);
  return { healthy: false, reason: `node ${status.nodeId} stopped after a fatal error: ${why}` };
}
