import type { ReplicatedStateMachine } from '../raft/state-machine.js';

/**
 * A state machine the simulator can check: besides the replication contract it exposes a cheap
 * hash of its whole state (equal states, equal hashes: compared across replicas at every index)
 * and, optionally, its own invariants, checked after every applied entry on every replica (a lock
 * machine reports, say, two exclusive holders of one lock).
 */
export interface SimStateMachine<R> extends ReplicatedStateMachine<R> {
  readonly stateHash: number;
  invariants?(): readonly string[];
}
