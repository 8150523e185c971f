import type { Message } from '../raft/messages.js';
import type { NodeId } from '../raft/types.js';
import type { DrainedOutput, DrivenNode } from './driven-node.js';
import type { UnreachableCause } from './transport.js';

/** What a driver hands a node from its peers and its disk: messages, unreachable peers, finished writes. */
export type PeerInputs = Pick<DrivenNode<DrainedOutput>, 'receive' | 'reportUnreachable' | 'persisted'>;

/**
 * A wrapper that has nothing to add to its peer inputs and passes them on unchanged to the node it
 * wraps (ServerCore to its NodeHost, the simulator's node drivers to their host or core), so that
 * pass-through is written once.
 */
export abstract class PeerInputsForwarder implements PeerInputs {
  /** The wrapped node that takes the inputs. */
  protected abstract readonly peerInputs: PeerInputs;

  receive(message: Message): void {
    this.peerInputs.receive(message);
  }

  reportUnreachable(peer: NodeId, cause: UnreachableCause): void {
    this.peerInputs.reportUnreachable(peer, cause);
  }

  persisted(seq: number): void {
    this.peerInputs.persisted(seq);
  }
}
