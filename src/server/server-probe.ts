/**
 * A one-shot status query over the client protocol: connect, Hello, one `status` request, close.
 * The launcher uses it to report who leads; it needs nothing of the client library.
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { ClientTlsPem } from '../security/tls-material.js';
import { clientTlsOptions } from '../security/tls-material.js';
import type { NodeStatusView } from '../protocol/client-protocol.js';
import { clientHello, decodeServerFrame, requestFrame } from '../protocol/client-protocol.js';
import { FramedSocket } from '../transport/framed-socket.js';
import type { HostPort } from '../config/cluster-config.js';

/** `tls`: the CA (and a client certificate) of a secure cluster; absent: plaintext. */
export function probeStatus(
  address: HostPort,
  clusterId: string,
  timeoutMs = 2000,
  tls?: ClientTlsPem,
): Promise<NodeStatusView | null> {
  return new Promise((resolve) => {
    let done = false;
    const where = { host: address.host, port: address.port };
    const socket: Socket = tls === undefined ? connect(where) : tlsConnect({ ...where, ...clientTlsOptions(tls, {}) });
    const finish = (status: NodeStatusView | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      framed.destroy('probe finished');
      resolve(status);
    };
    const timer = setTimeout(() => finish(null), timeoutMs);
    const framed = new FramedSocket(socket, 1024 * 1024, {
      onValue: (value) => {
        const frame = decodeServerFrame(value);
        if (!frame.ok) return finish(null);
        const f = frame.value;
        if (f.type === 'Welcome') framed.writeValue(requestFrame(1, { kind: 'status' }));
        else if (f.type !== 'Response' || f.result.code !== 'OK') finish(null);
        else finish(f.result.value.kind === 'status' ? f.result.value.status : null);
      },
      onClose: () => finish(null),
    });
    const ready = tls === undefined ? 'connect' : 'secureConnect';
    socket.once(ready, () => framed.writeValue(clientHello(clusterId, 'probe')));
  });
}
