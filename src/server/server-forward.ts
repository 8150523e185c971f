/**
 * Forwarding of writes from a follower to the leader: one client connection per leader, opened on
 * demand to the leader's client port with the `redirect` flag (so the leader never forwards
 * further: no loops), requests multiplexed by id, answers relayed to the caller. A connection
 * that breaks answers everything pending UNAVAILABLE (the outcome is unknown: the client retries
 * with the same (clientId, seq) and the state machine deduplicates).
 *
 * On a secure node the connection is TLS with this node's certificate, and the leader's
 * certificate must prove the leader's node id. Each forwarded request names the principal of the
 * client it came from (`as`); the leader accepts that only because the certificate proves a member.
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { NodeId } from '../raft/types.js';
import type { TlsMaterial } from '../security/tls-material.js';
import { clientTlsOptions } from '../security/tls-material.js';
import type { ClientOp, WireResult } from '../protocol/client-protocol.js';
import { clientHello, decodeServerFrame, requestFrame, unavailable } from '../protocol/client-protocol.js';
import { FramedSocket } from '../transport/framed-socket.js';
import type { HostPort } from '../config/cluster-config.js';

/** Client name prefix of forwarding connections; nodes push no notifications to them. */
export const forwardClientPrefix = 'raftlock-forward:';

export type ForwardCallback = (result: WireResult) => void;

interface Waiting {
  readonly callback: ForwardCallback;
  readonly timer: NodeJS.Timeout;
}

class Upstream {
  private framed: FramedSocket | null = null;
  private welcomed = false;
  private closed = false;
  private nextId = 1;
  private readonly queued: { readonly id: number; readonly op: ClientOp; readonly as: string | undefined }[] = [];
  private readonly waiting = new Map<number, Waiting>();

  constructor(
    readonly leader: NodeId,
    address: HostPort,
    clusterId: string,
    self: NodeId,
    frameBytesMax: number,
    private readonly timeoutMs: number,
    tls: TlsMaterial | null,
    private readonly onGone: (upstream: Upstream) => void,
  ) {
    const target = { host: address.host, port: address.port };
    const socket: Socket =
      tls === null ? connect(target) : tlsConnect({ ...target, ...clientTlsOptions(tls, { nodeId: leader }) });
    const framed = new FramedSocket(socket, frameBytesMax, {
      onValue: (value) => this.receive(value),
      onClose: (reason) => this.close(`connection to leader ${leader} closed: ${reason}`),
    });
    this.framed = framed;
    const hello = clientHello(clusterId, `${forwardClientPrefix}${self}`, { redirect: true });
    socket.once(tls === null ? 'connect' : 'secureConnect', () => framed.writeValue(hello));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  send(op: ClientOp, as: string | undefined, callback: ForwardCallback): void {
    if (this.closed) return callback(unavailable(`leader ${this.leader} is unreachable`));
    const id = this.nextId++;
    const timer = setTimeout(() => {
      if (!this.waiting.delete(id)) return;
      callback(unavailable(`the leader ${this.leader} did not answer in ${this.timeoutMs} ms`));
    }, this.timeoutMs);
    this.waiting.set(id, { callback, timer });
    if (this.welcomed) this.framed?.writeValue(requestFrame(id, op, as));
    else this.queued.push({ id, op, as });
  }

  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.framed?.destroy(reason);
    this.framed = null;
    this.onGone(this);
    const waiting = [...this.waiting.values()];
    this.waiting.clear();
    for (const w of waiting) {
      clearTimeout(w.timer);
      const message = `${reason}; the outcome is unknown, retry with the same (clientId, seq)`;
      w.callback(unavailable(message));
    }
  }

  private receive(value: unknown): void {
    const frame = decodeServerFrame(value);
    if (!frame.ok) return this.close(`leader ${this.leader} sent a bad frame: ${frame.error}`);
    const f = frame.value;
    switch (f.type) {
      case 'Welcome':
        this.welcomed = true;
        for (const q of this.queued.splice(0)) this.framed?.writeValue(requestFrame(q.id, q.op, q.as));
        return;
      case 'Response': {
        const w = this.waiting.get(f.id);
        if (w === undefined) return;
        this.waiting.delete(f.id);
        clearTimeout(w.timer);
        w.callback(f.result);
        return;
      }
      case 'Push':
        // Notifications reach clients through their own node, which applies every entry too.
        return;
      case 'Error':
        return this.close(`leader ${this.leader} refused: ${f.code} ${f.message}`);
    }
  }
}

export interface ForwardPoolOptions {
  readonly clusterId: string;
  readonly self: NodeId;
  readonly frameBytesMax: number;
  /**
   * A forward the leader has not answered in this long is given up here (its slot freed). The
   * request router (src/node/request-router.ts) has answered its client by then: at the request's
   * deadline, which is no later.
   */
  readonly timeoutMs: number;
  /** This node's TLS material (secure node); null: plaintext. */
  readonly tls: TlsMaterial | null;
}

export class ForwardPool {
  private readonly upstreams = new Map<NodeId, Upstream>();
  private closed = false;

  constructor(private readonly options: ForwardPoolOptions) {}

  /** Sends `op` to the leader on behalf of `as` (null on an insecure node: no principals). */
  forward(leader: NodeId, address: HostPort, op: ClientOp, as: string | null, callback: ForwardCallback): void {
    if (this.closed) return callback(unavailable('this node is shutting down'));
    let upstream = this.upstreams.get(leader);
    if (upstream === undefined || upstream.isClosed) {
      const { clusterId, self, frameBytesMax, timeoutMs, tls } = this.options;
      const onGone = (gone: Upstream): void => {
        if (this.upstreams.get(gone.leader) === gone) this.upstreams.delete(gone.leader);
      };
      upstream = new Upstream(leader, address, clusterId, self, frameBytesMax, timeoutMs, tls, onGone);
      this.upstreams.set(leader, upstream);
    }
    upstream.send(op, as ?? undefined, callback);
  }

  /** Drop connections to nodes that no longer lead. */
  retain(leader: NodeId | null): void {
    for (const [id, upstream] of [...this.upstreams]) {
      if (id !== leader) upstream.close(`node ${id} is no longer the leader`);
    }
  }

  close(): void {
    this.closed = true;
    for (const upstream of [...this.upstreams.values()]) {
      upstream.close('this node is shutting down');
    }
  }
}
