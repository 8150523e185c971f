import type { Result } from '../util/result.js';
import { err, ok } from '../util/result.js';
import { assertNever } from '../util/assert.js';
import type { AddressedMember, ConfChange, ConfState, NodeId } from './types.js';

/**
 * One-server-at-a-time membership changes (dissertation §4.1), pure: the next configuration or
 * the reason the change is invalid. Validation happens once, at the leader, when proposed; every
 * node then applies the logged change with `applyConfChange`, which is total.
 */
export function validateConfChange(conf: ConfState, change: ConfChange): Result<ConfState, string> {
  const isVoter = conf.voters.includes(change.node);
  const isLearner = conf.learners.includes(change.node);
  switch (change.type) {
    case 'addLearner':
    case 'addMember':
      if (isVoter || isLearner) return err(`${change.node} is already a member`);
      break;
    case 'promoteLearner':
      if (!isLearner) return err(`${change.node} is not a learner`);
      break;
    case 'removeNode':
      if (!isVoter && !isLearner) return err(`${change.node} is not a member`);
      if (isVoter && conf.voters.length === 1) return err('cannot remove the last voter');
      break;
    default:
      return assertNever(change, 'conf change');
  }
  return ok(applyConfChange(conf, change));
}

/** Apply a logged change. Idempotent on members already in the target state, so replay is safe. */
export function applyConfChange(conf: ConfState, change: ConfChange): ConfState {
  const without = (list: readonly NodeId[]): NodeId[] => list.filter((id) => id !== change.node);
  switch (change.type) {
    case 'addLearner':
      if (isMember(conf, change.node)) return conf;
      return { ...conf, learners: [...conf.learners, change.node] };
    case 'addMember': {
      if (isMember(conf, change.node)) return conf;
      const address: AddressedMember = { node: change.node, peer: change.peer, client: change.client };
      return { ...conf, learners: [...conf.learners, change.node], addresses: [...(conf.addresses ?? []), address] };
    }
    case 'promoteLearner':
      if (conf.voters.includes(change.node)) return conf;
      return { ...conf, voters: [...conf.voters, change.node], learners: without(conf.learners) };
    case 'removeNode': {
      const addresses = (conf.addresses ?? []).filter((a) => a.node !== change.node);
      const rest = { voters: without(conf.voters), learners: without(conf.learners) };
      return addresses.length === 0 ? rest : { ...rest, addresses };
    }
    default:
      return assertNever(change, 'conf change');
  }
}

export function isMember(conf: ConfState, id: NodeId): boolean {
  return conf.voters.includes(id) || conf.learners.includes(id);
}
