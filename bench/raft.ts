/**
 * Raft core throughput: committed entries per CPU-second for 3 and 5 nodes, no faults, batching on.
 * The nodes are driven by a minimal in-memory loop (no disk, no network), so the figure is the
 * cost of the core itself. Run: `npx tsx bench/raft.ts [--short]`.
 */
import { defaultRaftLimits } from '../src/raft/config.js';
import type { Message } from '../src/raft/messages.js';
import { createRaftNode } from '../src/raft/node.js';
import type { RaftCore } from '../src/raft/node-api.js';
import type { NodeId } from '../src/raft/types.js';
import { emptyPersistentState, nodeId } from '../src/raft/types.js';
import { createRng } from '../src/util/rng.js';

interface Result {
  readonly nodes: number;
  readonly entries: number;
  readonly cpuSeconds: number;
  readonly rounds: number;
}

function bench(size: number, entriesTarget: number, batch: number, payloadBytes: number): Result {
  const ids: NodeId[] = Array.from({ length: size }, (_, i) => nodeId(`n${i + 1}`));
  const nodes = new Map<NodeId, RaftCore>();
  const root = createRng(42);
  for (const id of ids) {
    nodes.set(
      id,
      createRaftNode({ ...defaultRaftLimits, id, initialVoters: ids }, emptyPersistentState(), root.fork(id)),
    );
  }
  let inbox: Message[] = [];
  let committed = 0;
  const leaderId = ids[0] as NodeId;
  const leader = nodes.get(leaderId) as RaftCore;
  const pump = (): void => {
    for (;;) {
      let busy = false;
      for (const [id, node] of nodes) {
        while (node.hasReady()) {
          busy = true;
          const rd = node.ready();
          for (const m of rd.earlyMessages) inbox.push(m);
          for (const m of rd.messages) inbox.push(m);
          if (id === leaderId) {
            for (const e of rd.committed) if (e.kind === 'command') committed++;
          }
          node.advance(rd);
        }
      }
      if (inbox.length === 0 && !busy) return;
      const batchOfMessages = inbox;
      inbox = [];
      for (const m of batchOfMessages) (nodes.get(m.to) as RaftCore).step(m);
    }
  };
  leader.campaign();
  pump();
  if (leader.status().role !== 'leader') throw new Error('bench: no leader');
  const payload = new Uint8Array(payloadBytes).fill(7);
  const compactEvery = 100_000;
  let nextCompaction = compactEvery;
  let rounds = 0;
  const start = process.cpuUsage();
  while (committed < entriesTarget) {
    for (let i = 0; i < batch; i++) {
      const r = leader.propose(payload);
      if (!r.ok) break;
    }
    pump();
    for (const node of nodes.values()) node.tick();
    pump();
    rounds++;
    if (committed >= nextCompaction) {
      nextCompaction += compactEvery;
      for (const node of nodes.values()) node.compact(node.status().applied, payload);
    }
  }
  const used = process.cpuUsage(start);
  return { nodes: size, entries: committed, cpuSeconds: (used.user + used.system) / 1e6, rounds };
}

const short = process.argv.includes('--short');
const target = short ? 100_000 : 1_000_000;
const batch = 512;
const payloadBytes = 64;
// Warm up the JIT on both sizes so the table measures steady state (the order otherwise shows).
bench(3, 50_000, batch, payloadBytes);
bench(5, 50_000, batch, payloadBytes);
const rows = [bench(3, target, batch, payloadBytes), bench(5, target, batch, payloadBytes)];
console.log(`raft core: ${payloadBytes}-byte commands, ${batch} proposals per round, no faults`);
console.log('nodes | committed | CPU s  | entries/CPU-s');
console.log('------|-----------|--------|--------------');
for (const r of rows) {
  const rate = Math.round(r.entries / r.cpuSeconds);
  console.log(
    `${String(r.nodes).padStart(5)} | ${String(r.entries).padStart(9)} | ${r.cpuSeconds.toFixed(2).padStart(6)} | ${String(rate).padStart(12)}`,
  );
}
