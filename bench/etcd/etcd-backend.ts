// etcd's standard lock recipe through its v3 JSON gateway (HTTP, no client library): each client
// grants a lease and keeps it alive; acquire is the v3lock service's blocking Lock (a key under
// the lock's prefix attached to the lease, waiting for every earlier key to go), release is Unlock
// (deleting that key); closing revokes the lease.
import { Agent, request } from 'node:http';
import type { BackendFactory, LockBackend } from './backend.js';

export type EtcdLockHandle = { readonly key: string };

/** One keep-alive HTTP agent for every client, without a socket limit: blocking calls need one each. */
export function newAgent(): Agent {
  return new Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 4096 });
}

type Json = Record<string, unknown>;

/** POSTs JSON to the gateway and parses the reply; non-2xx and gateway errors throw. */
export function postJson(agent: Agent, endpoint: string, path: string, body: Json, timeoutMs = 0): Promise<Json> {
  const url = new URL(path, endpoint);
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      { agent, method: 'POST', host: url.hostname, port: url.port, path: url.pathname, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if ((res.statusCode ?? 0) >= 300) {
            reject(new Error(`${path}: HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
            return;
          }
          try {
            // Streaming endpoints (keepalive) answer newline-delimited {"result": ...}; take the first.
            const first = text.split('\n')[0] ?? '';
            const value = JSON.parse(first) as unknown;
            if (typeof value !== 'object' || value === null) throw new Error('not an object');
            const obj = value as Json;
            if ('error' in obj) reject(new Error(`${path}: ${JSON.stringify(obj['error'])}`));
            else resolve(typeof obj['result'] === 'object' && obj['result'] !== null ? (obj['result'] as Json) : obj);
          } catch (error) {
            reject(new Error(`${path}: bad reply ${text.slice(0, 200)}: ${String(error)}`));
          }
        });
      },
    );
    req.on('error', reject);
    if (timeoutMs > 0) req.setTimeout(timeoutMs, () => req.destroy(new Error(`${path}: no reply in ${timeoutMs}ms`)));
    req.end(payload);
  });
}

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

export class EtcdLockClient implements LockBackend<EtcdLockHandle> {
  private keepalive: NodeJS.Timeout | null = null;
  /** The last keepalive failure, if any; a lease that lapses shows up as lock errors. */
  keepaliveError: string | null = null;

  private constructor(
    private readonly agent: Agent,
    readonly endpoint: string,
    readonly leaseId: string,
    ttlSec: number,
  ) {
    this.keepalive = setInterval(() => {
      postJson(agent, endpoint, '/v3/lease/keepalive', { ID: leaseId }, ttlSec * 1000).then(
        () => undefined,
        (error: unknown) => {
          this.keepaliveError = String(error);
        },
      );
    }, (ttlSec * 1000) / 3);
    this.keepalive.unref();
  }

  static async open(agent: Agent, endpoint: string, ttlSec = 10): Promise<EtcdLockClient> {
    const lease = await postJson(agent, endpoint, '/v3/lease/grant', { TTL: ttlSec }, 30_000);
    const id = lease['ID'];
    if (typeof id !== 'string') throw new Error(`lease grant returned no ID: ${JSON.stringify(lease)}`);
    return new EtcdLockClient(agent, endpoint, id, ttlSec);
  }

  async acquire(name: string): Promise<EtcdLockHandle> {
    const reply = await postJson(this.agent, this.endpoint, '/v3/lock/lock', { name: b64(name), lease: this.leaseId });
    const key = reply['key'];
    if (typeof key !== 'string') throw new Error(`lock returned no key: ${JSON.stringify(reply)}`);
    return { key };
  }

  async release(handle: EtcdLockHandle): Promise<void> {
    await postJson(this.agent, this.endpoint, '/v3/lock/unlock', { key: handle.key }, 30_000);
  }

  async close(): Promise<void> {
    if (this.keepalive !== null) clearInterval(this.keepalive);
    this.keepalive = null;
    await postJson(this.agent, this.endpoint, '/v3/lease/revoke', { ID: this.leaseId }, 30_000);
  }
}

/** Clients spread round-robin over the members' client URLs, as etcd's own client balancer does. */
export function etcdFactory(agent: Agent, endpoints: readonly string[], ttlSec = 10): BackendFactory<EtcdLockHandle> {
  return {
    name: 'etcd',
    open: (index) => EtcdLockClient.open(agent, endpoints[index % endpoints.length] as string, ttlSec),
  };
}
