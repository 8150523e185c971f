import type { ConfChange, ConfState, NodeId } from '../raft/types.js';
import { assertNever } from '../util/assert.js';

/**
 * The membership after one applied change. The host tracks the configuration in force at its
 * applied index so that the snapshots it takes record it (the core owns the live configuration).
 */
export function applyConfChange(conf: ConfState, change: ConfChange): ConfState {
  const without = (ids: readonly NodeId[]): NodeId[] => ids.filter((id) => id !== change.node);
  switch (change.type) {
    case 'addLearner':
      if (conf.voters.includes(change.node) || conf.learners.includes(change.node)) return conf;
      return { voters: conf.voters, learners: [...conf.learners, change.node] };
    case 'promoteLearner':
      if (conf.voters.includes(change.node)) return conf;
      return { voters: [...conf.voters, change.node], learners: without(conf.learners) };
    case 'removeNode':
      return { voters: without(conf.voters), learners: without(conf.learners) };
    default:
      return assertNever(change, 'conf change');
  }
}
