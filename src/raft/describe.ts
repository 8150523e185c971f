import { assertNever } from '../util/assert.js';
import type { Message } from './messages.js';
import type { ConfChange, Entry } from './types.js';

/** Canonical one-line text of an entry, for traces and test output: `5/2 cmd(3B)`. */
export function describeEntry(entry: Entry): string {
  const id = `${entry.index}/${entry.term}`;
  switch (entry.kind) {
    case 'noop':
      return `${id} noop`;
    case 'command':
      return `${id} cmd(${entry.data.byteLength}B)`;
    case 'config':
      return `${id} ${describeConfChange(entry.change)}`;
    default:
      return assertNever(entry, 'entry');
  }
}

export function describeConfChange(change: ConfChange): string {
  return `${change.type}(${change.node})`;
}

function describeEntries(entries: readonly Entry[]): string {
  if (entries.length === 0) return '[]';
  const first = entries[0] as Entry;
  const last = entries[entries.length - 1] as Entry;
  if (entries.length <= 3) return `[${entries.map(describeEntry).join(', ')}]`;
  return `[${describeEntry(first)} .. ${describeEntry(last)} (${entries.length})]`;
}

/** Canonical one-line text of a message: `n1→n2 t3 AppendEntries prev=4/2 entries=[...] commit=4`. */
export function describeMessage(m: Message): string {
  const head = `${m.from}→${m.to} t${m.term} ${m.type}`;
  switch (m.type) {
    case 'RequestVote':
      return `${head}${m.preVote ? ' pre' : ''}${m.transfer ? ' transfer' : ''} last=${m.lastIndex}/${m.lastTerm}`;
    case 'RequestVoteResponse':
      return `${head}${m.preVote ? ' pre' : ''} ${m.granted ? 'granted' : 'rejected'}`;
    case 'AppendEntries':
      return `${head} prev=${m.prevIndex}/${m.prevTerm} entries=${describeEntries(m.entries)} commit=${m.commit}`;
    case 'AppendEntriesResponse':
      return m.accepted
        ? `${head} accepted index=${m.index}`
        : `${head} rejected index=${m.index} hint=${m.hintIndex}/${m.hintTerm}`;
    case 'Heartbeat':
      return `${head} commit=${m.commit}${m.context === null ? '' : ` ctx=${m.context}`}`;
    case 'HeartbeatResponse':
      return `${head}${m.context === null ? '' : ` ctx=${m.context}`}`;
    case 'InstallSnapshot':
      return `${head} snap=${m.meta.index}/${m.meta.term} offset=${m.offset} bytes=${m.data.byteLength}/${m.totalBytes}${m.done ? ' done' : ''}`;
    case 'InstallSnapshotResponse':
      return `${head} snap=${m.snapshotIndex} next=${m.nextOffset}${m.done ? ' done' : ''}`;
    case 'TimeoutNow':
      return head;
    case 'ReadIndex':
      return `${head} ctx=${m.context}`;
    case 'ReadIndexResponse':
      return `${head} ctx=${m.context} index=${m.index === null ? 'none' : m.index}`;
    default:
      return assertNever(m, 'message');
  }
}
