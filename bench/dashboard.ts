/**
 * The dashboard's first-load time on a secure 3-node cluster holding many locks (10,000; 1,000
 * with --short), a few of them with waiters: headless chromium (Debian's, via playwright-core)
 * opens the leader's dashboard in a fresh browser context (empty cache) with a login token, and
 * the time from navigation start to the page's first complete render (the `raftlock:ready`
 * performance mark: every panel drawn from the API, the first 1,000 locks in the table and the
 * count of all) is read from the browser's own performance timeline. Several loads; the median and each are printed,
 * with where the time went (documents and scripts, the lock listing's size and fetch time).
 * Run: `npx tsx bench/dashboard.ts [--short] [--locks N] [--loads N]`.
 */
import { performance } from 'node:perf_hooks';
import { connect as tlsConnect } from 'node:tls';
import { connect } from '../src/client/client.js';
import type { RaftlockClient } from '../src/client/client.js';
import { startCluster } from '../src/embed/embed.js';
import { chromiumMissing, launchChromium } from '../test/http/fixtures/browser.js';

const short = process.argv.includes('--short');
function flag(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  const value = at < 0 ? fallback : Number(process.argv[at + 1]);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${name} must be a positive integer, got ${process.argv[at + 1]}`);
  return value;
}
const lockCount = flag('--locks', short ? 1_000 : 10_000);
const loads = flag('--loads', short ? 2 : 5);
const holders = 10;
const waiters = 20;
const password = 'dashboard-bench-password';
/** Locks the page draws before "show more" (src/http/dashboard/app.js); the count shows them all. */
const firstPage = 1000;

const missing = chromiumMissing();
if (missing !== null) {
  console.error(missing);
  process.exit(1);
}

/** The certificate a node's HTTPS server presents, checked against the cluster CA. */
function serverCert(address: string, ca: string): Promise<string> {
  const [host, port] = address.split(':');
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host, port: Number(port), ca, minVersion: 'TLSv1.3' }, () => {
      const der = socket.getPeerCertificate().raw;
      socket.end();
      resolve(`-----BEGIN CERTIFICATE-----\n${der.toString('base64')}\n-----END CERTIFICATE-----\n`);
    });
    socket.once('error', reject);
  });
}

interface PageTiming {
  /** ms from navigation start: the first complete render, DOMContentLoaded, load, the last API answer before it. */
  readonly ready: number;
  readonly domContentLoaded: number;
  readonly load: number;
  readonly fetched: number;
  /** The lock listing: how long its fetch took and its size. */
  readonly locksFetch: number;
  readonly locksBytes: number;
  /** Lock rows in the page. */
  readonly rows: number;
  /** Every request and mark, for RAFTLOCK_BENCH_VERBOSE=1. */
  readonly trace: readonly string[];
}

/** Read in the page after the `raftlock:ready` mark: the figures of one load. */
const pageTimingScript = `(() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const ready = performance.getEntriesByName('raftlock:ready')[0].startTime;
  const resources = performance.getEntriesByType('resource');
  const api = resources.filter((r) => new URL(r.name).pathname.startsWith('/v1/') && r.responseEnd <= ready);
  const locks = resources.find((r) => r.name.includes('/v1/locks'));
  return {
    ready,
    domContentLoaded: nav.domContentLoadedEventEnd,
    load: nav.loadEventEnd,
    fetched: Math.max(...api.map((r) => r.responseEnd)),
    locksFetch: locks ? locks.responseEnd - locks.startTime : NaN,
    locksBytes: locks ? locks.decodedBodySize : NaN,
    rows: document.querySelectorAll('#lock-rows [data-lock]').length,
    trace: [
      'navigation: response ' + nav.responseStart.toFixed(0) + '-' + nav.responseEnd.toFixed(0),
      ...resources.map((r) => new URL(r.name).pathname + ' ' + r.startTime.toFixed(0) + '-' + r.responseEnd.toFixed(0)),
      ...performance.getEntriesByType('mark').map((m) => m.name + ' ' + m.startTime.toFixed(0)),
    ],
  };
})()`;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

// Elections after 500-1000 ms, so a busy machine does not elect needlessly while loading.
const cluster = await startCluster({ nodes: 3, http: true, tickMs: 25, electionTicks: 20 });
const clients: RaftlockClient[] = [];
try {
  await cluster.waitForLeader();
  const options = { ...cluster.connectOptions(), ttlMs: 60_000 };
  const root = await connect(options);
  clients.push(root);
  await root.users.add('viewer', { password });
  await root.users.grant('viewer', 'admin');

  // The locks: `holders` clients (one session each) share them; a few more clients wait on some.
  const started = performance.now();
  for (let h = 0; h < holders; h++) clients.push(await connect(options));
  const names = Array.from(
    { length: lockCount },
    (_, i) => `bench/${String(i % 100).padStart(2, '0')}/lock-${String(i).padStart(5, '0')}`,
  );
  const inFlight = 256;
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      for (;;) {
        const i = next++;
        const name = names[i];
        if (name === undefined) return;
        await (clients[1 + (i % holders)] as RaftlockClient).lock(name);
      }
    }),
  );
  for (let w = 0; w < waiters; w++) {
    const waiter = await connect(options);
    clients.push(waiter);
    void waiter.lock(names[w * 7] ?? '', { waitMs: 600_000 }).catch(() => undefined);
  }
  const leader = await cluster.waitForLeader();
  for (;;) {
    const status = leader.statusView();
    if (status.locks >= lockCount && status.waiters >= waiters) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const setupMs = performance.now() - started;
  const http = leader.endpoint.http ?? '';

  const certs = await Promise.all(cluster.endpoints.map((e) => serverCert(e.http ?? '', cluster.ca?.cert ?? '')));
  const login = await fetchToken(http, cluster.ca?.cert ?? '');
  const browser = await launchChromium(certs);
  const ready: number[] = [];
  const rows: string[] = [];
  try {
    for (let run = 0; run < loads; run++) {
      const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
      // In-page code is given as text: this project's TypeScript has no DOM types.
      await context.addInitScript(`sessionStorage.setItem('raftlock.token', ${JSON.stringify(login)})`);
      const page = await context.newPage();
      await page.goto(`https://${http}/`);
      // A function, not text: the page's content security policy forbids evaluating strings.
      await page.waitForFunction(() => performance.getEntriesByName('raftlock:ready').length > 0, undefined, {
        timeout: 120_000,
      });
      const timing = (await page.evaluate(pageTimingScript)) as PageTiming;
      const expectedRows = Math.min(lockCount, firstPage);
      if (timing.rows !== expectedRows)
        throw new Error(`the page shows ${timing.rows} locks, expected ${expectedRows}`);
      ready.push(timing.ready);
      if (process.env['RAFTLOCK_BENCH_VERBOSE'] === '1') console.log(timing.trace.join('\n'));
      rows.push(
        `  load ${run + 1}: ready at ${timing.ready.toFixed(0)} ms (page and scripts loaded at ${timing.load.toFixed(0)} ms, ` +
          `last API answer at ${timing.fetched.toFixed(0)} ms, drawn ${(timing.ready - timing.fetched).toFixed(0)} ms later; ` +
          `/v1/locks ${(timing.locksBytes / 1024).toFixed(0)} KiB in ${timing.locksFetch.toFixed(0)} ms)`,
      );
      await context.close();
    }
  } finally {
    await browser.close();
  }
  console.log(
    `dashboard first load, ${lockCount.toLocaleString('en-US')} locks (${waiters} waiting), 3 secure nodes, cold cache`,
  );
  console.log(`  setup: ${lockCount} locks taken in ${(setupMs / 1000).toFixed(1)} s`);
  for (const row of rows) console.log(row);
  console.log(`first load to complete render: median ${median(ready).toFixed(0)} ms over ${loads} loads`);
} finally {
  for (const c of clients) await c.close().catch(() => undefined);
  await cluster.close();
}

/** A login token for the bench's viewer, from the node's own login route (CA-verified HTTPS). */
async function fetchToken(address: string, ca: string): Promise<string> {
  const { request } = await import('node:https');
  const [host, port] = address.split(':');
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host,
        port: Number(port),
        path: '/v1/auth/login',
        method: 'POST',
        ca,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => {
          const answer = JSON.parse(body) as { token?: unknown };
          if (res.statusCode === 200 && typeof answer.token === 'string') resolve(answer.token);
          else reject(new Error(`login answered ${res.statusCode}: ${body}`));
        });
      },
    );
    req.once('error', reject);
    req.end(JSON.stringify({ user: 'viewer', password }));
  });
}
