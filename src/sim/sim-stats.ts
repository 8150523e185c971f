/** What one simulation counted: the run's story in numbers, printed by `raftlock sim` and the soak. */
export interface SimulationStats {
  simulatedMs: number;
  events: number;
  faults: number;
  crashes: number;
  restarts: number;
  writeErrors: number;
  refusedStarts: number;
  replacements: number;
  pauses: number;
  elections: number;
  committed: number;
  snapshotsInstalled: number;
  /** Deferred snapshots: asked for, completed into a compaction, and dropped (stale or crashed). */
  snapshotsRequested: number;
  snapshotsTaken: number;
  snapshotsDropped: number;
  messagesSent: number;
  messagesDelivered: number;
  messagesLost: number;
  diskWrites: number;
  diskSyncs: number;
  requests: number;
  acknowledged: number;
  unknownOutcome: number;
  lost: number;
  /** Lock mode: grants acknowledged to clients, same-seq retries, fenced writes refused, sessions clients gave up. */
  lockGrants: number;
  lockRetries: number;
  staleTokens: number;
  sessionsLost: number;
  /** Lock mode: grants clients believed in, each checked against every other client's belief. */
  beliefsChecked: number;
  /** Lock mode: overlapping beliefs after a clock jump turned the belief check off (not failures). */
  beliefOverlapsOutsideBound: number;
  /**
   * Lock mode's request routing (src/node/request-router.ts): requests followers forwarded to the
   * leader, requests parked for want of a leader, and requests answered UNAVAILABLE at their deadline.
   */
  forwarded: number;
  parked: number;
  requestsExpired: number;
}

export function emptySimulationStats(): SimulationStats {
  return {
    simulatedMs: 0,
    events: 0,
    faults: 0,
    crashes: 0,
    restarts: 0,
    writeErrors: 0,
    refusedStarts: 0,
    replacements: 0,
    pauses: 0,
    elections: 0,
    committed: 0,
    snapshotsInstalled: 0,
    snapshotsRequested: 0,
    snapshotsTaken: 0,
    snapshotsDropped: 0,
    messagesSent: 0,
    messagesDelivered: 0,
    messagesLost: 0,
    diskWrites: 0,
    diskSyncs: 0,
    requests: 0,
    acknowledged: 0,
    unknownOutcome: 0,
    lost: 0,
    lockGrants: 0,
    lockRetries: 0,
    staleTokens: 0,
    sessionsLost: 0,
    beliefsChecked: 0,
    beliefOverlapsOutsideBound: 0,
    forwarded: 0,
    parked: 0,
    requestsExpired: 0,
  };
}
