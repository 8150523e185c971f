// etcd's lock recipe over its native gRPC API, as Go's clientv3 and Node's etcd3 speak it: one
// HTTP/2 channel that carries every call at once. Used for the shared-client workload, where many
// workers share one client: one channel to the leader, one lease kept alive on LeaseKeepAlive's
// stream, and the v3lock service's blocking Lock and Unlock under that lease.
import { Client, credentials } from '@grpc/grpc-js';
import type { ClientDuplexStream } from '@grpc/grpc-js';
import type { LockBackend } from './backend.js';
import type { ClientTlsPem } from './etcd-pki.js';
import { bytesField, bytesOf, decodeMessage, encodeMessage, varintField, varintOf } from './protobuf.js';

const identity = (buffer: Buffer): Buffer => buffer;

/** One etcd client: a gRPC channel and a lease; any number of workers may use it at once. */
export class EtcdGrpcClient implements LockBackend<Buffer> {
  private keepalive: NodeJS.Timeout | null = null;
  private stream: ClientDuplexStream<Buffer, Buffer> | null = null;

  private constructor(
    private readonly channel: Client,
    readonly leaseId: bigint,
    ttlSec: number,
  ) {
    const stream = channel.makeBidiStreamRequest('/etcdserverpb.Lease/LeaseKeepAlive', identity, identity);
    // The answers are read only to keep the stream flowing: a lease that lapses shows up as errors
    // of the lock calls made under it, which the workloads count.
    stream.on('data', () => undefined);
    stream.on('error', () => undefined);
    this.stream = stream;
    const ping = (): void => void stream.write(encodeMessage([[1, varintField(leaseId)]]));
    this.keepalive = setInterval(ping, (ttlSec * 1000) / 3);
    this.keepalive.unref();
  }

  /**
   * Connects to `endpoint` (`http://host:port`, or `https://` with `tls`: the channel presents the
   * client certificate and verifies the member's against the CA) and grants the client's lease.
   */
  static async open(endpoint: string, tls: ClientTlsPem | null = null, ttlSec = 10): Promise<EtcdGrpcClient> {
    const url = new URL(endpoint);
    if ((url.protocol === 'https:') !== (tls !== null))
      throw new Error(`${endpoint}: TLS settings do not match the scheme`);
    const channelCredentials =
      tls === null
        ? credentials.createInsecure()
        : credentials.createSsl(Buffer.from(tls.ca), Buffer.from(tls.key), Buffer.from(tls.cert));
    // The members' certificates also name `localhost`: verifying that name (rather than the IP
    // dialled) keeps the TLS server name a host name, as RFC 6066 wants and Node.js warns about.
    const channelOptions = tls === null ? {} : { 'grpc.ssl_target_name_override': 'localhost' };
    const channel = new Client(url.host, channelCredentials, channelOptions);
    try {
      const reply = await unary(channel, '/etcdserverpb.Lease/LeaseGrant', encodeMessage([[1, varintField(ttlSec)]]));
      const id = varintOf(reply, 2);
      if (id === 0n) throw new Error(`lease grant returned no ID (error ${bytesOf(reply, 4).toString('utf8')})`);
      return new EtcdGrpcClient(channel, id, ttlSec);
    } catch (error) {
      channel.close();
      throw error;
    }
  }

  async acquire(name: string): Promise<Buffer> {
    const reply = await unary(
      this.channel,
      '/v3lockpb.Lock/Lock',
      encodeMessage([
        [1, bytesField(name)],
        [2, varintField(this.leaseId)],
      ]),
    );
    const key = bytesOf(reply, 2);
    if (key.length === 0) throw new Error('lock returned no key');
    // The reply's buffer is gRPC's; the key outlives it.
    return Buffer.from(key);
  }

  async release(key: Buffer): Promise<void> {
    await unary(this.channel, '/v3lockpb.Lock/Unlock', encodeMessage([[1, bytesField(key)]]));
  }

  /** Stops the keepalives, revokes the lease (deleting its keys) and closes the channel. */
  async close(): Promise<void> {
    if (this.keepalive !== null) clearInterval(this.keepalive);
    this.keepalive = null;
    this.stream?.cancel();
    this.stream = null;
    try {
      await unary(this.channel, '/etcdserverpb.Lease/LeaseRevoke', encodeMessage([[1, varintField(this.leaseId)]]));
    } finally {
      this.channel.close();
    }
  }
}

function unary(channel: Client, method: string, request: Buffer): Promise<ReturnType<typeof decodeMessage>> {
  return new Promise((resolve, reject) => {
    channel.makeUnaryRequest(method, identity, identity, request, (error, reply) => {
      if (error !== null) reject(new Error(`${method}: ${error.details || error.message}`));
      else if (reply === undefined) reject(new Error(`${method}: no reply`));
      else resolve(decodeMessage(reply));
    });
  });
}
