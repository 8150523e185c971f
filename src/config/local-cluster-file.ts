/**
 * A cluster.yml for nodes on this machine, on ports picked at run time, and the PKI such a
 * cluster runs secure with: what the benchmarks, the chaos run and the end-to-end tests start their
 * node processes from.
 */
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureLocalPki, pkiLayout } from '../security/pki.js';

/**
 * Where `freePort` looks: below Linux's default ephemeral range (32768–60999). A port that the OS
 * handed out for a listener and that was then released sits in the range the OS also draws the
 * source ports of outgoing connections from, so any connection made before the node binds it
 * (another test, a client, a peer link) can take it and the node fails with EADDRINUSE. Ports
 * below the range are never handed out that way.
 */
export const localPortRange = { first: 20_000, last: 32_767 } as const;

/**
 * Ports this process handed out lately, oldest first. A port is handed out to be bound a moment
 * later, so until then it still binds once: without this list, a repeated draw would give two
 * addresses of one cluster (or two clusters) the same port. The most recent 1,024 are kept, a
 * small share of the range.
 */
const handedOut: number[] = [];
const handedOutMax = 1024;

/**
 * Where processes on this machine claim the ports they hand out: one file per port, holding the
 * claiming process's pid. A port stays free (it binds) from the pick until the node binds it, and
 * a node that stops and starts again on the same port leaves it free meanwhile; without a claim,
 * another process drawing that port then would take it (one CI run failed that way, EADDRINUSE).
 */
export const portClaimDir = join(tmpdir(), 'raftlock-port-claims');
const claimed: number[] = [];

/**
 * Claims `port` for this process, or false when a live process holds it. A claim whose process is
 * gone is taken over: claims are released at exit, but a killed process leaves its own behind.
 */
function claim(port: number): boolean {
  const file = join(portClaimDir, String(port));
  try {
    mkdirSync(portClaimDir, { recursive: true });
    writeFileSync(file, String(process.pid), { flag: 'wx' });
  } catch (error) {
    // Without a usable claim directory, the draw and the check above are all there is.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return true;
    if (isAlive(claimant(file))) return false;
    writeFileSync(file, String(process.pid));
  }
  if (claimed.length === 0) process.once('exit', releaseClaims);
  claimed.push(port);
  return true;
}

/** The pid in a claim file; 0 when it cannot be read (released meanwhile). */
function claimant(file: string): number {
  try {
    return Number(readFileSync(file, 'utf8'));
  } catch {
    return 0;
  }
}

function isAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function releaseClaims(): void {
  for (const port of claimed.splice(0)) {
    try {
      unlinkSync(join(portClaimDir, String(port)));
    } catch {
      // Already gone (a later process took it over): nothing to release.
    }
  }
}

/**
 * A port on 127.0.0.1 that was free a moment ago, for a node about to bind it: drawn at random
 * (`random`, Math.random unless a test pins the draws) from `localPortRange`; never one this
 * process handed out lately, nor one another live process on this machine claimed (`portClaimDir`);
 * and proved free by listening on it once.
 */
export async function freePort(random: () => number = Math.random): Promise<number> {
  const span = localPortRange.last - localPortRange.first + 1;
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = localPortRange.first + Math.floor(random() * span);
    if (handedOut.includes(port) || !(await bindsOnce(port))) continue;
    // Checked again after the bind: another call in this process may have taken it meanwhile.
    if (handedOut.includes(port) || !claim(port)) continue;
    handedOut.push(port);
    if (handedOut.length > handedOutMax) handedOut.shift();
    return port;
  }
  throw new Error(`no free port on 127.0.0.1 in ${localPortRange.first}-${localPortRange.last} after 100 attempts`);
}

/** Whether a listener can take `port` on 127.0.0.1 (it is released again at once). */
function bindsOnce(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

export interface LocalNode {
  readonly id: string;
  readonly peerPort: number;
  readonly clientPort: number;
  /** Serve the HTTP API on this port too (cluster.yml `http`). */
  readonly httpPort?: number;
  readonly join?: boolean;
}

export interface LocalClusterFileOptions {
  readonly clusterId: string;
  readonly tick?: string;
  readonly election?: number;
  readonly snapshotEntries?: number;
  readonly ttlMin?: string;
  /** The file's name in `dir` (default `cluster.yml`): one per node when each sees its own addresses. */
  readonly fileName?: string;
  /**
   * `{ pki }`: TLS from that PKI directory (relative to `dir`, or absolute; make it with
   * `ensureLocalClusterPki`). `insecure`: plaintext on 127.0.0.1, `security.insecure: true`. No
   * default: each caller says which it runs.
   */
  readonly security: 'insecure' | { readonly pki: string };
}

/** What a client needs to act as `root` on a local secure cluster: the CA, root's certificate and key. */
export interface LocalRootTls {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/**
 * The PKI of a cluster on 127.0.0.1 in `pkiDir`, as `raftlock up` makes it (ensureLocalPki): the
 * CA, a certificate per node id (IP SAN 127.0.0.1; clients and peers check the node id it proves,
 * not the address, so a proxy in front of a node changes nothing), and root's. Makes only what
 * is missing. Returns root's client TLS.
 */
export async function ensureLocalClusterPki(pkiDir: string, nodeIds: readonly string[]): Promise<LocalRootTls> {
  await ensureLocalPki(
    pkiDir,
    nodeIds.map((id) => ({ id, hosts: ['127.0.0.1'] })),
  );
  const root = pkiLayout.user(pkiDir, 'root');
  return {
    ca: readFileSync(root.ca, 'utf8'),
    cert: readFileSync(root.cert, 'utf8'),
    key: readFileSync(root.key, 'utf8'),
  };
}

/** Nodes `n<first>`… with a free peer and client port each, and an HTTP port with `http`. */
export async function allocateLocalNodes(
  count: number,
  first = 1,
  options: { readonly http?: boolean } = {},
): Promise<LocalNode[]> {
  const nodes: LocalNode[] = [];
  for (let i = first; i < first + count; i++) {
    const node = { id: `n${i}`, peerPort: await freePort(), clientPort: await freePort() };
    nodes.push(options.http === true ? { ...node, httpPort: await freePort() } : node);
  }
  return nodes;
}

/** Writes `dir/cluster.yml` (or `fileName`) for `nodes` (data under `dir/data/<id>`) and returns its path. */
export function writeLocalClusterFile(
  dir: string,
  nodes: readonly LocalNode[],
  options: LocalClusterFileOptions,
): string {
  const { security } = options;
  const lines = [
    'cluster:',
    `  id: ${options.clusterId}`,
    'nodes:',
    ...nodes.flatMap((n) => [
      `  - id: ${n.id}`,
      `    peer: 127.0.0.1:${n.peerPort}`,
      `    client: 127.0.0.1:${n.clientPort}`,
      ...(n.httpPort === undefined ? [] : [`    http: 127.0.0.1:${n.httpPort}`]),
      `    data: ./data/${n.id}`,
      ...(n.join === true ? ['    join: true'] : []),
    ]),
    'timing:',
    // 40 ms ticks: elections take 400–800 ms, so a loaded machine does not start spurious ones.
    `  tick: ${options.tick ?? '40ms'}`,
    `  election: ${options.election ?? 10}`,
    'snapshot:',
    `  entries: ${options.snapshotEntries ?? 10000}`,
    'sessions:',
    '  keepaliveInterval: 100ms',
    `  ttlMin: ${options.ttlMin ?? '1s'}`,
    'security:',
    ...(security === 'insecure' ? ['  insecure: true'] : [`  pki: ${JSON.stringify(security.pki)}`]),
  ];
  const file = join(dir, options.fileName ?? 'cluster.yml');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}
