import { defaultLockMachineConfig } from '../statemachine/config.js';
import { assertNever } from '../util/assert.js';
import type { Rng } from '../util/rng.js';
import type { LockSafetyChecker } from './checkers/lock-safety.js';
import type { WorldKnobs } from './faults.js';
import { HashMachine } from './hash-machine.js';
import { LockMode } from './lock-mode.js';
import { LockWorkload, defaultLockWorkload } from './lock-workload.js';
import type { HostSettings, SimContext, SimMode } from './node-driver.js';
import { RaftMode } from './raft-mode.js';
import type { SimulationOptions } from './simulation-options.js';
import { Workload } from './workload.js';

/** What a Simulation knows when it picks its mode. */
export interface ModeSetup {
  readonly options: SimulationOptions;
  readonly host: HostSettings;
  /** The run's root stream: the clients fork theirs from it. */
  readonly root: Rng;
  readonly names: readonly string[];
  readonly world: WorldKnobs;
  readonly lockChecker: LockSafetyChecker;
  /** Whether random clients send requests (scripts that drive every request turn them off). */
  readonly clients: boolean;
}

/** The mode `options.machineKind` names (default `hash`), with its clients. */
export function createSimMode(ctx: SimContext, setup: ModeSetup): SimMode {
  const { options, root, names, clients } = setup;
  const kind = options.machineKind ?? 'hash';
  switch (kind) {
    case 'hash':
      return new RaftMode(ctx, {
        host: setup.host,
        createMachine: options.createMachine ?? (() => new HashMachine()),
        workload: clients
          ? new Workload(root.fork('workload'), names, setup.world.requestMeanGapMs, options.payload)
          : null,
      });
    case 'locks': {
      const workload = options.lockWorkload ?? defaultLockWorkload;
      return new LockMode(ctx, {
        host: setup.host,
        // A short watch history keeps each replica's snapshot (hashed after every drain) small.
        machine: options.lockMachine ?? { ...defaultLockMachineConfig, eventHistoryMax: 256 },
        keepaliveIntervalMs: options.keepaliveIntervalMs ?? 50,
        checker: setup.lockChecker,
        workload: clients ? new LockWorkload(root.fork('locks'), names, setup.lockChecker, workload) : null,
        onApplied: options.onLockApplied ?? null,
        onNotifications: options.onNotifications ?? null,
        routingRng: root.fork('routing'),
      });
    }
    default:
      return assertNever(kind, 'machine kind');
  }
}
