/**
 * A one-shot status query over the client protocol: connect, Hello, one `status` request, close.
 * The launcher uses it to report who leads; it needs nothing of the client library.
 */
import { connect } from 'node:net';
import type { NodeStatusView } from '../transport/client-protocol.js';
import { clientHello, decodeServerFrame, requestFrame } from '../transport/client-protocol.js';
import { FramedSocket } from '../transport/framed-socket.js';
import type { HostPort } from './cluster-config.js';

export function probeStatus(
  address: HostPort,
  clusterId: string,
  timeoutMs = 2000,
): Promise<NodeStatusView | null> {
  return new Promise((resolve) => {
    let done = false;
    const socket = connect({ host: address.host, port: address.port });
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
    socket.once('connect', () => framed.writeValue(clientHello(clusterId, 'probe')));
  });
}
