/**
 * Raft's metrics on one node: the messages it sends and receives by type, the entries of each
 * write (a Ready's batch), the entries it proposed as leader, the leaders and elections it saw,
 * snapshot transfers to followers and snapshots taken or installed; and, read at each scrape, its
 * term, role, indexes and (on the leader) how far behind each follower is.
 *
 * Fed by the node server with each drained output, each received message and the status it reads
 * after each drain; counting is a property increment per message, nothing is allocated per entry.
 */
import type { Registry } from 'prom-client';
import { Gauge } from 'prom-client';
import type { Message } from '../raft/messages.js';
import { messageTypes } from '../raft/messages.js';
import type { RaftStatus } from '../raft/status.js';
import type { NodeId, Role } from '../raft/types.js';
import type { PersistRequest } from '../node/durable-log.js';
import type { CounterSeries, HistogramSeries } from './fast-metrics.js';
import { exponentialBounds, FastCounter, FastHistogram } from './fast-metrics.js';
import { sampledGauges } from './sampled-gauge.js';

/** What of a drained output these metrics read (the server core's CoreOutput has it all). */
export interface RaftDrained {
  readonly writes: readonly PersistRequest[];
  readonly earlyMessages: readonly Message[];
  readonly messages: readonly Message[];
  readonly snapshots: readonly { readonly kind: 'taken' | 'installed'; readonly index: number }[];
  readonly snapshotRequests: readonly { readonly index: number }[];
}

/** What the gauges read at a scrape. */
export interface RaftSample {
  readonly status: RaftStatus;
  /** The node's applied index (the host applies ahead of the core's own `applied`). */
  readonly applied: number;
}

const roles: readonly Role[] = ['follower', 'preCandidate', 'candidate', 'leader'];

/** Entries per batch: 1 to 4096, doubling. */
export const batchBounds: readonly number[] = exponentialBounds(1, 2, 13);

/** Snapshot transfers and encodings, in seconds: 10 ms to 10 minutes. */
const snapshotBounds: readonly number[] = [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

interface Transfer {
  readonly index: number;
  readonly sinceSeconds: number;
}

export class RaftMetrics {
  private readonly sent = new Map<string, CounterSeries>();
  private readonly received = new Map<string, CounterSeries>();
  private readonly entriesSent: CounterSeries;
  private readonly entriesPerBatch: HistogramSeries;
  private readonly proposals: CounterSeries;
  private readonly leaderChanges: CounterSeries;
  private readonly elections: CounterSeries;
  private readonly snapshotSends: CounterSeries;
  private readonly snapshotSendSeconds: HistogramSeries;
  private readonly snapshotsTaken: CounterSeries;
  private readonly snapshotsInstalled: CounterSeries;
  private readonly snapshotTakeSeconds: HistogramSeries;
  /** Snapshot transfers in progress, by follower. */
  private readonly transfers = new Map<NodeId, Transfer>();
  /** Background snapshots asked for and not yet written: index → when asked (s). */
  private readonly snapshotsAsked = new Map<number, number>();
  private seenLeader: NodeId | null = null;
  private seenLeaderTerm = -1;
  private ownElectionTerm = -1;

  /** `nowSeconds`: a monotonic clock, read only for snapshot transfers and snapshots (rare). */
  constructor(
    registry: Registry,
    sample: () => RaftSample | null,
    private readonly nowSeconds: () => number,
  ) {
    const sent = new FastCounter(
      registry,
      'raftlock_raft_messages_sent_total',
      'Raft messages sent to peers, by message type.',
      ['type'],
    );
    const received = new FastCounter(
      registry,
      'raftlock_raft_messages_received_total',
      'Raft messages received from peers, by message type.',
      ['type'],
    );
    for (const type of messageTypes) {
      this.sent.set(type, sent.at1(type));
      this.received.set(type, received.at1(type));
    }
    this.entriesSent = new FastCounter(
      registry,
      'raftlock_raft_append_entries_sent_entries_total',
      'Log entries carried by the AppendEntries messages sent.',
    ).at0();
    this.entriesPerBatch = new FastHistogram(
      registry,
      'raftlock_raft_entries_per_batch',
      'Log entries per durable write of this node (one Ready: group commit on the Raft side).',
      batchBounds,
    ).at0();
    this.proposals = new FastCounter(
      registry,
      'raftlock_raft_proposals_total',
      'Entries this node appended to the log as leader (commands, keepalive batches, time ticks, no-ops, configuration changes).',
    ).at0();
    this.leaderChanges = new FastCounter(
      registry,
      'raftlock_raft_leader_changes_total',
      'Leaders this node learned of: each new leader or new term with a known leader.',
    ).at0();
    this.elections = new FastCounter(
      registry,
      'raftlock_raft_elections_started_total',
      'Elections this node started (terms in which it voted for itself).',
    ).at0();
    this.snapshotSends = new FastCounter(
      registry,
      'raftlock_raft_snapshot_sends_total',
      'Snapshot transfers this leader started to a follower.',
    ).at0();
    this.snapshotSendSeconds = new FastHistogram(
      registry,
      'raftlock_raft_snapshot_send_duration_seconds',
      "Time from a snapshot transfer's first chunk to the follower's report that it installed it.",
      snapshotBounds,
    ).at0();
    const snapshots = new FastCounter(
      registry,
      'raftlock_snapshots_total',
      'Snapshots taken here (log compaction) or installed from the leader.',
      ['kind'],
    );
    this.snapshotsTaken = snapshots.at1('taken');
    this.snapshotsInstalled = snapshots.at1('installed');
    this.snapshotTakeSeconds = new FastHistogram(
      registry,
      'raftlock_snapshot_take_duration_seconds',
      "Background snapshots: time from the request to the snapshot's write being queued (encoding on the worker thread included).",
      snapshotBounds,
    ).at0();
    this.statusGauges(registry, sample);
  }

  /** The status at start: a vote for itself before a restart is not an election of this process. */
  started(status: RaftStatus): void {
    if (status.vote === status.id) this.ownElectionTerm = status.term;
  }

  /** Each drained output, right after its messages were sent and its writes submitted. */
  drained(output: RaftDrained, leading: boolean): void {
    for (const message of output.earlyMessages) this.messageSent(message);
    for (const message of output.messages) this.messageSent(message);
    for (const write of output.writes) {
      const entries = write.entries.length;
      // A snapshot this node took is written on its own and unsynced (host.ts, commitSnapshot); one
      // from the leader comes with its Ready, which is always synced (Raft's mustSync).
      if (write.snapshot !== null && !write.sync) this.snapshotWritten(write.snapshot.meta.index);
      if (entries === 0) continue;
      this.entriesPerBatch.observe(entries);
      if (leading) this.proposals.value += entries;
    }
    for (const request of output.snapshotRequests) this.snapshotsAsked.set(request.index, this.nowSeconds());
    for (const snapshot of output.snapshots) {
      if (snapshot.kind === 'installed') this.snapshotsInstalled.value += 1;
    }
  }

  private snapshotWritten(index: number): void {
    this.snapshotsTaken.value += 1;
    const askedAt = this.snapshotsAsked.get(index);
    if (askedAt !== undefined) this.snapshotTakeSeconds.observe(this.nowSeconds() - askedAt);
    // Requests are made one at a time: any other still recorded is stale.
    this.snapshotsAsked.clear();
  }

  messageReceived(message: Message): void {
    const counter = this.received.get(message.type);
    if (counter !== undefined) counter.value += 1;
    if (message.type !== 'InstallSnapshotResponse' || !message.done) return;
    const transfer = this.transfers.get(message.from);
    if (transfer === undefined || transfer.index !== message.snapshotIndex) return;
    this.transfers.delete(message.from);
    this.snapshotSendSeconds.observe(this.nowSeconds() - transfer.sinceSeconds);
  }

  /** The status after a drain: counts new leaders and this node's own elections. */
  statusSeen(status: RaftStatus): void {
    if (status.leader !== null && (status.leader !== this.seenLeader || status.term !== this.seenLeaderTerm)) {
      this.seenLeader = status.leader;
      this.seenLeaderTerm = status.term;
      this.leaderChanges.value += 1;
    }
    if (status.vote === status.id && status.term > this.ownElectionTerm) {
      this.ownElectionTerm = status.term;
      this.elections.value += 1;
    }
  }

  private messageSent(message: Message): void {
    const counter = this.sent.get(message.type);
    if (counter !== undefined) counter.value += 1;
    if (message.type === 'AppendEntries') {
      this.entriesSent.value += message.entries.length;
    } else if (message.type === 'InstallSnapshot' && message.offset === 0) {
      const running = this.transfers.get(message.to);
      if (running !== undefined && running.index === message.meta.index) return;
      this.transfers.set(message.to, { index: message.meta.index, sinceSeconds: this.nowSeconds() });
      this.snapshotSends.value += 1;
    }
  }

  private statusGauges(registry: Registry, sample: () => RaftSample | null): void {
    const registers = [registry];
    const single = sampledGauges(registry, sample);
    single('raftlock_raft_term', 'Current Raft term.', (s) => s.status.term);
    single('raftlock_raft_commit_index', 'Highest log index known to be committed.', (s) => s.status.commit);
    single(
      'raftlock_raft_applied_index',
      'Highest log index applied to the lock state machine here.',
      (s) => s.applied,
    );
    single('raftlock_raft_last_index', "Index of the last entry in this node's log.", (s) => s.status.lastIndex);
    single(
      'raftlock_raft_snapshot_index',
      "Last index covered by this node's snapshot.",
      (s) => s.status.snapshotIndex,
    );
    single('raftlock_raft_leader_known', '1 when this node knows a leader, else 0.', (s) =>
      s.status.leader === null ? 0 : 1,
    );
    single(
      'raftlock_raft_voters',
      'Voting members in the configuration this node uses.',
      (s) => s.status.conf.voters.length,
    );
    single(
      'raftlock_raft_learners',
      'Learners (non-voting members) in the configuration this node uses.',
      (s) => s.status.conf.learners.length,
    );
    new Gauge({
      name: 'raftlock_raft_role',
      help: "This node's role: 1 for the current one, 0 for the others.",
      labelNames: ['role'],
      registers,
      collect() {
        const s = sample();
        if (s === null) return;
        for (const role of roles) this.set({ role }, s.status.role === role ? 1 : 0);
      },
    });
    new Gauge({
      name: 'raftlock_raft_follower_behind_entries',
      help: "On the leader: how many entries each follower's log is behind the leader's last index.",
      labelNames: ['peer'],
      registers,
      collect() {
        this.reset();
        const s = sample();
        if (s === null || s.status.role !== 'leader') return;
        for (const p of s.status.progress) {
          if (p.id !== s.status.id) this.set({ peer: p.id }, Math.max(0, s.status.lastIndex - p.match));
        }
      },
    });
  }
}
