import type { Entry } from '../../raft/types.js';
import { Violation } from './violation.js';
import { entryHash } from './raft-safety.js';

/**
 * State machine safety (Raft §5.4.3): no two nodes apply different entries at the same index.
 * The first node to apply an index fixes the canonical committed log; every later apply must
 * match it, and so must the state machine's hash after it (replicas' states are equal at equal
 * indexes). Log time never decreases along the log, and every acknowledged write is in the
 * canonical log at the index it was acknowledged with (durability across crashes and restarts).
 */
export class StateMachineSafetyChecker {
  private readonly terms: number[] = [0];
  private readonly hashes: number[] = [0];
  /** null: not known at that index (a drain that applied several entries hashes the last only). */
  private readonly stateHashes: (number | null)[] = [0];
  private readonly cursor = new Map<string, { applied: number; logTimeMs: number }>();
  appliedEntries = 0;

  get maxIndex(): number {
    return this.terms.length - 1;
  }

  termAt(index: number): number | undefined {
    return index >= 1 ? this.terms[index] : undefined;
  }

  /** The node's state machine now stands at `index` (a restored snapshot, or a fresh start). */
  onRestored(node: string, index: number, logTimeMs: number, stateHash: number | null): void {
    this.cursor.set(node, { applied: index, logTimeMs });
    if (stateHash !== null && index >= 1 && index <= this.maxIndex) {
      const expected = this.stateHashes[index];
      if (expected !== undefined && expected !== null && expected !== -1 && expected !== stateHash) {
        throw new Violation(
          'snapshot-state',
          `${node} restored a snapshot at ${index} whose state differs from the replicas'`,
        );
      }
    }
  }

  onApplied(node: string, entry: Entry, logTimeMs: number | null, stateHash: number | null): void {
    this.appliedEntries += 1;
    let c = this.cursor.get(node);
    if (c === undefined) {
      c = { applied: entry.index - 1, logTimeMs: 0 };
      this.cursor.set(node, c);
    }
    if (entry.index !== c.applied + 1)
      throw new Violation('apply-order', `${node} applied ${entry.index} after ${c.applied}`);
    c.applied = entry.index;
    if (logTimeMs !== null) {
      if (logTimeMs < c.logTimeMs) {
        throw new Violation(
          'log-time',
          `${node} applied entry ${entry.index} with log time ${logTimeMs} after ${c.logTimeMs}`,
        );
      }
      c.logTimeMs = logTimeMs;
    }
    const hash = entryHash(entry);
    if (entry.index <= this.maxIndex && this.terms[entry.index] === -1) {
      this.terms[entry.index] = entry.term;
      this.hashes[entry.index] = hash;
      this.stateHashes[entry.index] = stateHash;
      return;
    }
    if (entry.index <= this.maxIndex) {
      if (this.terms[entry.index] !== entry.term || this.hashes[entry.index] !== hash) {
        throw new Violation(
          'state-machine-safety',
          `${node} applied ${entry.index}/${entry.term} but ${entry.index}/${this.terms[entry.index]} was applied elsewhere`,
        );
      }
      const known = this.stateHashes[entry.index];
      if (known === null || known === undefined) this.stateHashes[entry.index] = stateHash;
      else if (stateHash !== null && known !== stateHash) {
        throw new Violation('replica-state', `${node}'s state after ${entry.index} differs from the other replicas'`);
      }
      return;
    }
    if (entry.index !== this.maxIndex + 1) {
      // A node that caught up through a snapshot may run ahead of the canonical log's first writer.
      while (this.terms.length < entry.index) {
        this.terms.push(-1);
        this.hashes.push(-1);
        this.stateHashes.push(-1);
      }
    }
    this.terms.push(entry.term);
    this.hashes.push(hash);
    this.stateHashes.push(stateHash);
  }
}
