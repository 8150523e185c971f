import type { AppliedCommand, ReplicatedStateMachine } from '../raft/state-machine.js';
import { assert } from '../util/assert.js';
import type { Mutations } from '../util/mutations.js';
import { noMutations } from '../util/mutations.js';
import type { Result } from '../util/result.js';
import { err, ok } from '../util/result.js';
import { apply } from './apply.js';
import type { LockMachineConfig } from './config.js';
import { defaultLockMachineConfig, validateLockMachineConfig } from './config.js';
import type { ApplyOutput } from './results.js';
import { decodeSnapshot, encodeSnapshot } from './snapshot.js';
import type { LockState } from './state.js';
import { createLockState } from './state.js';

/**
 * The lock service's replicated state machine, as the node host drives it: `apply` each committed
 * entry in order, `snapshot`/`restore` for log compaction and catch-up. Queries (queries.ts) read
 * `state` after ReadIndex and never mutate it.
 */
export class LockStateMachine implements ReplicatedStateMachine<ApplyOutput> {
  private current: LockState;

  constructor(
    readonly config: LockMachineConfig = defaultLockMachineConfig,
    /** Seeded bugs for the simulator's mutation tests (src/util/mutations.ts); production passes none. */
    private readonly mutations: Mutations = noMutations,
  ) {
    const problems = validateLockMachineConfig(config);
    assert(problems.length === 0, () => `invalid lock machine config: ${problems.join('; ')}`);
    this.current = createLockState(config);
  }

  /** The state for read-only queries. Do not mutate it. */
  get state(): LockState {
    return this.current;
  }

  apply(command: AppliedCommand): ApplyOutput {
    return apply(this.current, command, this.mutations);
  }

  snapshot(): Uint8Array {
    return encodeSnapshot(this.current);
  }

  /** Replaces all state with the snapshot's; on error the current state is kept untouched. */
  restore(snapshot: Uint8Array): Result<void, string> {
    const decoded = decodeSnapshot(snapshot, this.config);
    if (!decoded.ok) return err(decoded.error);
    this.current = decoded.value;
    return ok(undefined);
  }
}
