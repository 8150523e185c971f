/**
 * What a node shows of itself: the `status` view, the member list, and the Welcome a client gets.
 * Pure functions of the node's Raft status, lock state and address book.
 */
import type { RaftStatus } from '../raft/status.js';
import type { NodeId } from '../raft/types.js';
import type { LockState } from '../statemachine/state.js';
import type { MemberView, NodeStatusView, Welcome } from '../protocol/client-protocol.js';

/** A host and port, as cluster.yml and the Welcome give them. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export function formatAddress(address: HostPort): string {
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return `${host}:${address.port}`;
}

/** Where each known node listens (this node included), as `host:port` strings. */
export interface AddressBook {
  client(id: NodeId): string | null;
  peer(id: NodeId): string | null;
  /** Every node this one knows, itself first. */
  readonly known: readonly NodeId[];
}

export interface StatusInputs {
  readonly clusterId: string;
  readonly raft: RaftStatus;
  readonly applied: number;
  readonly state: LockState;
  readonly connections: number;
}

export function statusView(inputs: StatusInputs): NodeStatusView {
  const s = inputs.raft;
  let waiters = 0;
  for (const lock of inputs.state.locks.values()) waiters += lock.waiting;
  const followers = s.role === 'leader' ? s.progress.filter((p) => p.id !== s.id) : [];
  return {
    nodeId: s.id,
    clusterId: inputs.clusterId,
    role: s.role,
    term: s.term,
    leader: s.leader,
    commit: s.commit,
    applied: inputs.applied,
    lastIndex: s.lastIndex,
    snapshotIndex: s.snapshotIndex,
    voters: s.conf.voters,
    learners: s.conf.learners,
    lag: followers.map((p) => ({ id: p.id, behind: Math.max(0, s.lastIndex - p.match) })),
    sessions: inputs.state.sessions.size,
    locks: inputs.state.locks.size,
    waiters,
    connections: inputs.connections,
  };
}

export function membersView(raft: RaftStatus, book: AddressBook): MemberView[] {
  const view = (id: NodeId, role: 'voter' | 'learner'): MemberView => ({
    id,
    role,
    peer: book.peer(id) ?? '',
    client: book.client(id) ?? '',
  });
  return [...raft.conf.voters.map((id) => view(id, 'voter')), ...raft.conf.learners.map((id) => view(id, 'learner'))];
}

/** Who the Welcome is for: the connection's principal, and the token after a password login. */
export interface WelcomeIdentity {
  readonly principal: string | null;
  readonly token?: string;
}

/**
 * The Welcome lists the client addresses of the current members; a node that is not a member yet
 * (waiting to join) lists every node it knows, so a client can still find the cluster. A secure
 * node sends it only once the connection has authenticated: the topology is for members' clients.
 */
export function welcomeFrame(
  clusterId: string,
  raft: RaftStatus,
  book: AddressBook,
  identity: WelcomeIdentity,
): Welcome {
  const { voters, learners } = raft.conf;
  const ids = voters.length + learners.length > 0 ? [...voters, ...learners] : book.known;
  const members = ids.flatMap((id) => {
    const client = book.client(id);
    return client === null ? [] : [{ id, client }];
  });
  const { principal, token } = identity;
  const welcome: Welcome = { type: 'Welcome', clusterId, nodeId: raft.id, leader: raft.leader, members, principal };
  return token === undefined ? welcome : { ...welcome, token };
}
