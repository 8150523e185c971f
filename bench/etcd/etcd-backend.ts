// etcd's standard lock recipe through its v3 JSON gateway (HTTP or HTTPS, no client library): each
// client grants a lease and keeps it alive; acquire is the v3lock service's blocking Lock (a key
// under the lock's prefix attached to the lease, waiting for every earlier key to go), release is
// Unlock (deleting that key); closing revokes the lease.
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { BackendFactory, LockBackend } from './backend.js';
import type { ClientTlsPem } from './etcd-pki.js';

export type EtcdLockHandle = { readonly key: string };

/**
 * The connection pool of a system's clients: plain HTTP, or HTTPS presenting a client certificate
 * (etcd with `--client-cert-auth`). An endpoint's scheme must match.
 */
export type EtcdAgent =
  { readonly kind: 'http'; readonly agent: HttpAgent } | { readonly kind: 'https'; readonly agent: HttpsAgent };

/**
 * One keep-alive agent for every client, without a socket limit: blocking calls need one each.
 * With `tls`, every connection is TLS with the client's certificate, verified against the CA (the
 * members' certificates name 127.0.0.1, the address the clients dial).
 */
export function newAgent(tls: ClientTlsPem | null = null, keepAlive = true): EtcdAgent {
  const pool = { keepAlive, maxSockets: Infinity, maxFreeSockets: 4096 };
  return tls === null
    ? { kind: 'http', agent: new HttpAgent(pool) }
    : { kind: 'https', agent: new HttpsAgent({ ...pool, ca: tls.ca, cert: tls.cert, key: tls.key }) };
}

type Json = Record<string, unknown>;

/** Sends one request through the agent of the endpoint's scheme. */
function send(
  agent: EtcdAgent,
  url: URL,
  options: { readonly method: 'GET' | 'POST'; readonly headers?: Record<string, string | number> },
  onReply: (res: IncomingMessage) => void,
): ClientRequest {
  const expected = agent.kind === 'https' ? 'https:' : 'http:';
  if (url.protocol !== expected)
    throw new Error(`${url.href}: a ${agent.kind} client cannot call a ${url.protocol} endpoint`);
  const common = { ...options, host: url.hostname, port: url.port, path: url.pathname };
  return agent.kind === 'https'
    ? httpsRequest({ ...common, agent: agent.agent }, onReply)
    : httpRequest({ ...common, agent: agent.agent }, onReply);
}

/** GETs a JSON document (etcd's `/health`); non-2xx throws. */
export function getJson(agent: EtcdAgent, endpoint: string, path: string, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = send(agent, new URL(path, endpoint), { method: 'GET' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if ((res.statusCode ?? 0) >= 300) reject(new Error(`${path}: HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
        else {
          try {
            resolve(JSON.parse(text) as unknown);
          } catch (error) {
            reject(new Error(`${path}: bad reply ${text.slice(0, 200)}: ${String(error)}`));
          }
        }
      });
    });
    req.on('error', reject);
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${path}: no reply in ${timeoutMs}ms`)));
    req.end();
  });
}

/**
 * POSTs JSON to the gateway and parses the reply; non-2xx and gateway errors throw. `track` holds
 * the request while it is in flight, so that its owner can abandon it.
 */
export function postJson(
  agent: EtcdAgent,
  endpoint: string,
  path: string,
  body: Json,
  timeoutMs = 0,
  track?: Set<ClientRequest>,
): Promise<Json> {
  const url = new URL(path, endpoint);
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = send(
      agent,
      url,
      { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
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
    if (track !== undefined) {
      track.add(req);
      req.on('close', () => track.delete(req));
    }
    if (timeoutMs > 0) req.setTimeout(timeoutMs, () => req.destroy(new Error(`${path}: no reply in ${timeoutMs}ms`)));
    req.end(payload);
  });
}

/** Retries of a call refused by an overloaded etcd (about 6 s of back-off in all). */
const busyAttemptsMax = 40;

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

export type EtcdClientOptions = {
  readonly ttlSec?: number;
  /** Per-request limit for lock calls; 0 waits as long as the lock takes. */
  readonly requestTimeoutMs?: number;
};

/** A network failure (not an answer from etcd): the client moves to the next endpoint. */
function isNetworkError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return (
    (typeof code === 'string' && /^E[A-Z]+/.test(code)) ||
    (error instanceof Error && / no reply in \d+ms$/.test(error.message))
  );
}

export class EtcdLockClient implements LockBackend<EtcdLockHandle> {
  private keepalive: NodeJS.Timeout | null = null;
  private readonly inFlight = new Set<ClientRequest>();
  private endpointIndex: number;
  /** The last keepalive failure, if any; a lease that lapses shows up as lock errors. */
  keepaliveError: string | null = null;

  private constructor(
    private readonly agent: EtcdAgent,
    private readonly endpoints: readonly string[],
    first: number,
    readonly leaseId: string,
    ttlSec: number,
    private readonly requestTimeoutMs: number,
  ) {
    this.endpointIndex = first;
    this.keepalive = setInterval(
      () => {
        this.call('/v3/lease/keepalive', { ID: leaseId }, ttlSec * 1000).then(
          () => undefined,
          (error: unknown) => {
            this.keepaliveError = String(error);
          },
        );
      },
      (ttlSec * 1000) / 3,
    );
    this.keepalive.unref();
  }

  /** Grants the client's lease through `endpoints[first]`, moving on to the others if it is down. */
  static async open(
    agent: EtcdAgent,
    endpoints: readonly string[],
    first = 0,
    options: EtcdClientOptions = {},
  ): Promise<EtcdLockClient> {
    const ttlSec = options.ttlSec ?? 10;
    let lastError: unknown = null;
    for (let k = 0; k < endpoints.length; k++) {
      const index = (first + k) % endpoints.length;
      try {
        const lease = await postJson(agent, endpoints[index] as string, '/v3/lease/grant', { TTL: ttlSec }, 30_000);
        const id = lease['ID'];
        if (typeof id !== 'string') throw new Error(`lease grant returned no ID: ${JSON.stringify(lease)}`);
        return new EtcdLockClient(agent, endpoints, index, id, ttlSec, options.requestTimeoutMs ?? 0);
      } catch (error) {
        lastError = error;
        if (!isNetworkError(error)) throw error;
      }
    }
    throw lastError instanceof Error ? lastError : new Error(String(lastError));
  }

  get endpoint(): string {
    return this.endpoints[this.endpointIndex] as string;
  }

  private async call(path: string, body: Json, timeoutMs: number, attemptsMax = busyAttemptsMax): Promise<Json> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await postJson(this.agent, this.endpoint, path, body, timeoutMs, this.inFlight);
      } catch (error) {
        if (isNetworkError(error)) this.endpointIndex = (this.endpointIndex + 1) % this.endpoints.length;
        // An overloaded etcd refuses proposals while its apply falls more than 5,000 entries
        // behind commit ("too many requests", before proposing anything), or gives up waiting
        // for one ("request timed out", "context deadline exceeded": outcome unknown). Every call
        // here is idempotent (a lock call for the same lease and name finds its own key), so all
        // of these are retried after a back-off.
        const busy =
          error instanceof Error && /too many requests|request timed out|context deadline exceeded/.test(error.message);
        if (!busy || attempt >= attemptsMax) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 200));
      }
    }
  }

  async acquire(name: string): Promise<EtcdLockHandle> {
    const reply = await this.call('/v3/lock/lock', { name: b64(name), lease: this.leaseId }, this.requestTimeoutMs);
    const key = reply['key'];
    if (typeof key !== 'string') throw new Error(`lock returned no key: ${JSON.stringify(reply)}`);
    return { key };
  }

  async release(handle: EtcdLockHandle): Promise<void> {
    await this.call('/v3/lock/unlock', { key: handle.key }, this.requestTimeoutMs || 30_000);
  }

  /** Abandons any waiting acquire, then revokes the lease (which deletes the client's keys). */
  async close(): Promise<void> {
    if (this.keepalive !== null) clearInterval(this.keepalive);
    this.keepalive = null;
    for (const req of [...this.inFlight]) req.destroy(new Error('client closed'));
    // One attempt: a lease that could not be revoked still expires after its TTL.
    await this.call('/v3/lease/revoke', { ID: this.leaseId }, 10_000, 1);
  }
}

/** Clients spread round-robin over the members' client URLs, as etcd's own client balancer does. */
export function etcdFactory(
  agent: EtcdAgent,
  endpoints: readonly string[],
  options: EtcdClientOptions = {},
): BackendFactory<EtcdLockHandle> {
  return {
    name: 'etcd',
    open: (index) => EtcdLockClient.open(agent, endpoints, index % endpoints.length, options),
  };
}
