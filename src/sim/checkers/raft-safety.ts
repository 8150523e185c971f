import type { Message } from '../../raft/messages.js';
import type { RaftStatus } from '../../raft/status.js';
import type { Entry, HardState, Snapshot } from '../../raft/types.js';
import type { PersistRequest } from '../../node/durable-log.js';
import { assertNever } from '../../util/assert.js';
import { Violation, hashBytes } from './violation.js';

/** A checker's picture of one node's log, built from the writes it asks for, in order. */
class LogMirror {
  base = 0;
  baseTerm = 0;
  terms: number[] = [];

  last(): number {
    return this.base + this.terms.length;
  }

  termAt(index: number): number | undefined {
    if (index === this.base) return this.baseTerm;
    if (index < this.base) return undefined;
    return this.terms[index - this.base - 1];
  }

  installSnapshot(snapshot: Snapshot): void {
    const index = snapshot.meta.index;
    if (index <= this.base) return;
    const keep = this.termAt(index) === snapshot.meta.term ? this.terms.slice(index - this.base) : [];
    this.base = index;
    this.baseTerm = snapshot.meta.term;
    this.terms = keep;
  }
}

export function entryHash(entry: Entry): number {
  switch (entry.kind) {
    case 'noop':
      return 1;
    case 'command':
      return hashBytes(entry.data, 2);
    case 'config':
      return hashBytes(new TextEncoder().encode(`${entry.change.type}:${entry.change.node}`), 3);
    default:
      return assertNever(entry, 'entry');
  }
}

/**
 * Raft's safety properties (Raft §5.2–§5.4, Figure 3), checked incrementally after every event:
 * - election safety: at most one leader per term;
 * - terms never decrease on a running node, and no node's durable vote changes within a term
 *   (across restarts too: that is what persisting the vote is for): a restarted node runs with at
 *   least the term, and in that term the vote, its completed writes hold (Figure 2's persistent
 *   state); a vote is granted only once the write carrying it completed (persist before
 *   responding), and never to two candidates in one term, whatever the disk says;
 * - log matching: the same (index, term) means the same entry and the same preceding term
 *   everywhere (by induction, the same prefix);
 * - leader append-only: a leader never removes an entry of its own term from its log;
 * - leader completeness: when a leader appends the first entry of its term, every entry any node
 *   has applied lies in its log, with the same term.
 * Entries committed anywhere form the canonical log (see state-machine-safety.ts).
 */
export class RaftSafetyChecker {
  private readonly leaderOfTerm = new Map<number, string>();
  private readonly liveTerm = new Map<string, { term: number; vote: string | null }>();
  private readonly durable = new Map<string, { term: number; votes: Map<number, string> }>();
  private readonly mirrors = new Map<string, LogMirror>();
  /** (index, term) → entry hash and the term before it. */
  private readonly entries = new Map<string, { hash: number; prevTerm: number }>();
  private readonly firstOfTermChecked = new Set<string>();
  /** `voter/term` → the candidate its granted vote went to (keyed by Raft id: a replaced node is a new voter). */
  private readonly grants = new Map<string, string>();

  constructor(private readonly canonical: { termAt(index: number): number | undefined; readonly maxIndex: number }) {}

  onStatus(node: string, status: RaftStatus): void {
    if (status.role === 'leader') {
      const other = this.leaderOfTerm.get(status.term);
      if (other === undefined) this.leaderOfTerm.set(status.term, node);
      else if (other !== node)
        throw new Violation('election-safety', `${other} and ${node} are both leaders of term ${status.term}`);
    }
    const before = this.liveTerm.get(node);
    if (before !== undefined) {
      if (status.term < before.term)
        throw new Violation('term-monotonic', `${node} went from term ${before.term} back to ${status.term}`);
    } else {
      this.checkRestored(node, status);
    }
    this.liveTerm.set(node, { term: status.term, vote: status.vote });
  }

  /**
   * A node that (re)started runs with what its completed writes hold: a lower term, or another
   * vote in the same term, means it forgot persistent state it had acted on.
   */
  private checkRestored(node: string, status: RaftStatus): void {
    const d = this.durable.get(node);
    if (d === undefined) return;
    if (status.term < d.term)
      throw new Violation(
        'term-monotonic',
        `${node} restarted in term ${status.term} after a write of term ${d.term} completed`,
      );
    const vote = d.votes.get(status.term);
    if (vote !== undefined && status.vote !== vote) {
      throw new Violation(
        'vote-once',
        `${node} restarted in term ${status.term} with vote ${status.vote ?? 'none'}, after a write of its vote for ${vote} completed`,
      );
    }
  }

  /**
   * `node` sends `m`: a granted vote must be durable already (or a later term, in which the node
   * can no longer vote in this one), and it is a promise for its whole term.
   */
  onMessage(node: string, m: Message): void {
    if (m.type !== 'RequestVoteResponse' || !m.granted || m.preVote) return;
    const d = this.durable.get(node);
    if (d === undefined || (d.term <= m.term && d.votes.get(m.term) !== m.to)) {
      throw new Violation(
        'persist-before-send',
        `${node} granted its term-${m.term} vote to ${m.to} before a write carrying that vote completed`,
      );
    }
    const key = `${m.from}/${m.term}`;
    const earlier = this.grants.get(key);
    if (earlier === undefined) this.grants.set(key, m.to);
    else if (earlier !== m.to)
      throw new Violation(
        'vote-once',
        `${m.from} granted its vote in term ${m.term} to ${earlier} and then to ${m.to}`,
      );
  }

  /** The node restarted (its in-memory term is rebuilt from disk) or was wiped (a new member). */
  onRestart(node: string, wiped: boolean): void {
    this.liveTerm.delete(node);
    this.mirrors.delete(node);
    if (wiped) this.durable.delete(node);
  }

  /** Loaded state after restart: seed the mirror. */
  onLoaded(node: string, snapshot: Snapshot | null, entries: readonly Entry[]): void {
    const mirror = new LogMirror();
    if (snapshot !== null) {
      mirror.base = snapshot.meta.index;
      mirror.baseTerm = snapshot.meta.term;
    }
    for (const e of entries) mirror.terms.push(e.term);
    this.mirrors.set(node, mirror);
  }

  /** A write carrying this hard state completed: the node may now act on it. */
  onDurableHardState(node: string, hard: HardState): void {
    let d = this.durable.get(node);
    if (d === undefined) {
      d = { term: 0, votes: new Map() };
      this.durable.set(node, d);
    }
    if (hard.term < d.term)
      throw new Violation('term-monotonic', `${node} durable term went from ${d.term} back to ${hard.term}`);
    d.term = hard.term;
    if (hard.vote !== null) {
      const earlier = d.votes.get(hard.term);
      if (earlier !== undefined && earlier !== hard.vote) {
        throw new Violation('vote-once', `${node} voted for ${earlier} and then ${hard.vote} in term ${hard.term}`);
      }
      d.votes.set(hard.term, hard.vote);
    }
  }

  /** The node asked to persist `request` while in `currentTerm`. */
  onWrite(node: string, request: PersistRequest, currentTerm: number): void {
    let mirror = this.mirrors.get(node);
    if (mirror === undefined) {
      mirror = new LogMirror();
      this.mirrors.set(node, mirror);
    }
    if (request.snapshot !== null) mirror.installSnapshot(request.snapshot);
    const first = request.entries[0];
    if (first === undefined) return;
    // Leader append-only: what this write replaces must not be the leader's own current-term entries.
    for (let i = first.index; i <= mirror.last(); i++) {
      const old = mirror.termAt(i);
      const replacement = request.entries[i - first.index];
      if (old === undefined || (replacement !== undefined && replacement.term === old)) continue;
      if (old === currentTerm && this.leaderOfTerm.get(old) === node) {
        throw new Violation('leader-append-only', `${node}, leader of term ${old}, removed its entry ${i}`);
      }
    }
    let prevTerm = mirror.termAt(first.index - 1);
    if (first.index - 1 > mirror.last()) {
      throw new Violation(
        'log-contiguity',
        `${node} wrote entry ${first.index} after a log ending at ${mirror.last()}`,
      );
    }
    if (first.index <= mirror.base) return;
    mirror.terms.length = first.index - mirror.base - 1;
    for (const entry of request.entries) {
      if (entry.index <= mirror.base) continue;
      const key = `${entry.index}/${entry.term}`;
      const hash = entryHash(entry);
      const pt = prevTerm ?? -1;
      const seen = this.entries.get(key);
      if (seen === undefined) this.entries.set(key, { hash, prevTerm: pt });
      else if (seen.hash !== hash || (seen.prevTerm !== pt && pt !== -1 && seen.prevTerm !== -1)) {
        throw new Violation(
          'log-matching',
          `${node} holds a different entry ${key} (or a different predecessor) than another node`,
        );
      }
      if (entry.term < (prevTerm ?? 0))
        throw new Violation('log-terms', `${node} entry ${key} has a lower term than its predecessor`);
      mirror.terms.push(entry.term);
      prevTerm = entry.term;
      this.checkCompleteness(node, entry.index, entry.term, mirror);
    }
  }

  private checkCompleteness(node: string, index: number, entryTerm: number, mirror: LogMirror): void {
    if (this.leaderOfTerm.get(entryTerm) !== node) return;
    const key = `${node}/${entryTerm}`;
    if (this.firstOfTermChecked.has(key)) return;
    this.firstOfTermChecked.add(key);
    if (this.canonical.maxIndex >= index) {
      throw new Violation(
        'leader-completeness',
        `${node} became leader of term ${entryTerm} appending at ${index}, but ${this.canonical.maxIndex} is already committed`,
      );
    }
    for (let i = mirror.base + 1; i < index; i++) {
      const c = this.canonical.termAt(i);
      if (c !== undefined && c !== mirror.termAt(i)) {
        throw new Violation(
          'leader-completeness',
          `${node}, leader of term ${entryTerm}, lacks committed entry ${i}/${c}`,
        );
      }
    }
  }

  get leaders(): number {
    return this.leaderOfTerm.size;
  }
}
