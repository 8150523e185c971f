import type { RaftStatus } from '../raft/status.js';
import type { ConfChange, NodeId } from '../raft/types.js';
import { assertNever } from '../util/assert.js';

/** What the operator can see and do in a cluster. */
export interface OperatorCluster {
  nowMs(): number;
  /** The current leader's status, or null when there is none. */
  leaderStatus(): RaftStatus | null;
  /** Propose a membership change through the leader; returns its request id. */
  proposeConfChange(change: ConfChange): string | null;
  /** Whether the request was answered (any answer: the operator re-checks the membership). */
  answered(requestId: string): boolean;
  idOf(name: string): NodeId;
  /** Wipe the node's disk and start it empty, as a joining member under a new Raft id. */
  rejoinEmpty(name: string): void;
  trace(text: string): void;
}

interface Replacement {
  readonly name: string;
  stage: 'remove' | 'add' | 'promote';
  requestId: string | null;
  sentAtMs: number;
}

/** A membership request the operator waits this long for before asking again. */
const retryMs = 2000;

/**
 * The operator's answer to a node whose data directory is corrupt: remove it from the cluster,
 * wipe it, start it empty under a new Raft id (a new member, as etcd gives a re-added member a new
 * id), add it as a learner, and promote it once it has caught up. Rejoining with an empty disk
 * under its old membership would be unsafe: it could vote twice in a term and forget entries it
 * helped commit; under its old id, the leader's memory of its progress would not fit its log.
 * Each step waits until no membership change is pending, and retries when a request is lost.
 */
export class Operator {
  private readonly replacements: Replacement[] = [];

  replace(name: string): void {
    if (!this.replacements.some((r) => r.name === name))
      this.replacements.push({ name, stage: 'remove', requestId: null, sentAtMs: 0 });
  }

  /** Replacements still under way, as `n2 (add)`. */
  get pending(): readonly string[] {
    return this.replacements.map((r) => `${r.name} (${r.stage})`);
  }

  step(cluster: OperatorCluster): void {
    if (this.replacements.length === 0) return;
    const status = cluster.leaderStatus();
    if (status === null || status.pendingConfIndex !== 0) return;
    for (const r of [...this.replacements]) {
      if (r.requestId !== null && !cluster.answered(r.requestId) && cluster.nowMs() - r.sentAtMs < retryMs) continue;
      const id = cluster.idOf(r.name);
      const member = status.conf.voters.includes(id) || status.conf.learners.includes(id);
      switch (r.stage) {
        case 'remove':
          if (member) this.propose(cluster, r, { type: 'removeNode', node: id });
          else {
            cluster.rejoinEmpty(r.name);
            r.stage = 'add';
            r.requestId = null;
          }
          break;
        case 'add':
          if (member) {
            r.stage = 'promote';
            r.requestId = null;
          } else this.propose(cluster, r, { type: 'addLearner', node: id });
          break;
        case 'promote': {
          if (status.conf.voters.includes(id)) {
            cluster.trace(`operator: ${r.name} is a voter again`);
            this.replacements.splice(this.replacements.indexOf(r), 1);
            break;
          }
          const progress = status.progress.find((p) => p.id === id);
          if (progress !== undefined && progress.match >= status.commit)
            this.propose(cluster, r, { type: 'promoteLearner', node: id });
          break;
        }
        default:
          assertNever(r.stage, 'replacement stage');
      }
    }
  }

  private propose(cluster: OperatorCluster, r: Replacement, change: ConfChange): void {
    r.requestId = cluster.proposeConfChange(change);
    r.sentAtMs = cluster.nowMs();
  }
}
