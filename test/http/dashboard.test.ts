// The dashboard in a real browser (headless Debian chromium driven by playwright-core) against a
// live, secure 3-node cluster: a password user logs in through the page's form, a client takes a
// lock and another queues behind it, and the page shows the holder, its fencing token and the
// waiter within a second; a user with only read rights gets the read-only view. A screenshot is
// written to the test's output directory (its path is printed).
//
// TLS: the browser is not told to ignore certificate errors. The test first checks each node's
// HTTPS certificate against the cluster's CA with node:tls, then pins exactly those public keys
// in chromium (--ignore-certificate-errors-spki-list, see fixtures/browser.ts): the throwaway CA
// is in no trust store, and any other certificate is still refused (checked below).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import t from 'tap';
import type { Page } from 'playwright-core';
import { connect } from '../../src/client/index.js';
import type { RaftlockClient as Client } from '../../src/client/index.js';
import { startCluster } from '../../src/embed/embed.js';
import { chromiumMissing, launchChromium } from './fixtures/browser.js';

const operatorPassword = 'operator-password-1';
const viewerPassword = 'viewer-password-1';

/** The PEM of the certificate the HTTPS server at `address` presents, verified against `ca`. */
function verifiedServerCert(address: string, ca: string): Promise<string> {
  const [host, port] = address.split(':');
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host, port: Number(port), ca, rejectUnauthorized: true, minVersion: 'TLSv1.3' }, () => {
      const der = socket.getPeerCertificate().raw;
      socket.end();
      resolve(
        `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`,
      );
    });
    socket.once('error', reject);
  });
}

async function logIn(page: Page, user: string, password: string): Promise<void> {
  await page.locator('#login').waitFor({ state: 'visible' });
  await page.fill('#login-form [name=user]', user);
  await page.fill('#login-form [name=password]', password);
  await page.click('#login-form button[type=submit]');
  await page.locator('#main').waitFor({ state: 'visible' });
}

const missing = chromiumMissing();
if (missing !== null) {
  t.fail(missing);
} else {
  t.test('the dashboard shows a lock holder, its token and a waiter within a second', async (t) => {
    // Kept after the run, so the screenshot can be looked at.
    t.saveFixture = true;
    const outDir = t.testdir();
    // Elections after 500-1000 ms: a busy shared machine does not make followers start needless ones.
    const cluster = await startCluster({ nodes: 3, http: true, tickMs: 25, electionTicks: 20 });
    t.teardown(() => cluster.close());
    const leader = await cluster.waitForLeader();
    const ca = cluster.ca?.cert ?? '';
    const https = cluster.endpoints.map((e) => e.http ?? '');
    t.ok(
      https.every((a) => a !== ''),
      `every node serves HTTPS (${https.join(', ')})`,
    );
    const certs = await Promise.all(https.map((a) => verifiedServerCert(a, ca)));

    const clients: Client[] = [];
    t.teardown(async () => {
      for (const c of clients) await c.close().catch(() => undefined);
    });
    const client = async (): Promise<Client> => {
      const c = await connect({ ...cluster.connectOptions(), ttlMs: 30_000 });
      clients.push(c);
      return c;
    };
    const root = await client();
    await root.users.add('operator', { password: operatorPassword });
    await root.users.grant('operator', 'admin');
    await root.roles.add('viewers');
    await root.roles.grant('viewers', '', ['read', 'watch']);
    await root.users.add('viewer', { password: viewerPassword });
    await root.users.grant('viewer', 'viewers');

    const browser = await launchChromium(certs);
    t.teardown(() => browser.close());
    const context = await browser.newContext({ viewport: { width: 1400, height: 1100 } });
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    // Script errors only: the browser also logs every non-2xx answer (the 401 before the login, a
    // 503 while the cluster elects a leader), which the page shows in its footer and outlives.
    page.on('console', (message) => {
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource'))
        pageErrors.push(message.text());
    });

    const leaderHttp = cluster.endpoints.find((e) => e.id === leader.nodeId)?.http ?? '';
    await page.goto(`https://${leaderHttp}/`);
    await logIn(page, 'operator', operatorPassword);
    t.equal(await page.locator('#who').textContent(), 'signed in as operator');
    t.equal(await page.locator('#readonly').isHidden(), true, 'an admin gets the full view');
    await page.locator('#members tr').nth(2).waitFor();
    t.equal(await page.locator('#members tr').count(), 3, 'three members listed');
    await page.locator('#members td.role-leader').waitFor({ timeout: 10_000 });
    t.equal(await page.locator('#members td.role-leader').count(), 1, 'one leader shown');

    // Other work on the cluster, so the screenshot shows more than one row.
    const others = await client();
    const semaphore = others.semaphore('pool/db', 3);
    await semaphore.acquire();
    await (await client()).semaphore('pool/db', 3).acquire();
    await others.rwlock('config/schema').read();

    const holder = await client();
    const waiter = await client();
    const second = await client();
    const row = page.locator('#lock-rows [data-lock="jobs/nightly"]');
    // The page notes (wall clock, the machine's own) when the holder and a waiter first show: the
    // test's polling of the page adds nothing to the figure.
    // (In-page code is given as text: this project's TypeScript has no DOM types.)
    await page.evaluate(`(() => {
      const seen = (window.seen = {});
      new MutationObserver(() => {
        const r = document.querySelector('#lock-rows [data-lock="jobs/nightly"]');
        if (r?.querySelector('.chip.holder') && seen.holder === undefined) seen.holder = Date.now();
        if (r?.querySelector('.chip.waiter') && seen.waiter === undefined) seen.waiter = Date.now();
      }).observe(document.getElementById('lock-rows'), { childList: true, subtree: true });
    })()`);
    const lock = await holder.lock('jobs/nightly');
    const since = Date.now();
    const waiting = waiter.lock('jobs/nightly', { waitMs: 60_000 });
    const holderChip = row.locator(`.chip.holder[data-session="${lock.session}"][data-token="${lock.fencingToken}"]`);
    // Waited for longer than the bound, so a miss reports how late the page was.
    await holderChip.waitFor({ timeout: 5000 });
    await row.locator('.chip.waiter').first().waitFor({ timeout: 5000 });
    const seen = (await page.evaluate('window.seen')) as { holder?: number; waiter?: number };
    const holderMs = (seen.holder ?? Infinity) - since;
    const seenMs = Math.max(holderMs, (seen.waiter ?? Infinity) - since);
    t.ok(seenMs <= 1000, `holder and token on the page ${holderMs} ms after the grant, a waiter ${seenMs} ms after`);
    if (seenMs > 1000) {
      // Where the time went: the page's requests around the grant, and when its event arrived.
      const trace = (await page.evaluate(`(() => {
        const from = performance.now() - (Date.now() - ${since});
        return performance.getEntriesByType('resource')
          .filter((r) => r.startTime > from - 1000 && r.name.includes('/v1/'))
          .map((r) => new URL(r.name).pathname + ' ' + (r.startTime - from).toFixed(0) + '..' + (r.responseEnd - from).toFixed(0));
      })()`)) as string[];
      t.comment(`requests, in ms from the grant: ${trace.join(', ')}`);
      t.comment(
        `events: ${(await page.locator('#event-list li').allTextContents()).slice(0, 2).join(' | ')}; grant at ${new Date(since).toISOString()}`,
      );
    }
    t.match(
      await holderChip.textContent(),
      new RegExp(`s${lock.session} · #${lock.fencingToken}`),
      'the chip names the session and token',
    );
    const secondWaiting = second.lock('jobs/nightly', { waitMs: 60_000 });
    await row.locator('.chip.waiter').nth(1).waitFor({ timeout: 10_000 });
    const queue = await row.locator('.chip.waiter').evaluateAll((chips) => chips.map((c) => c.textContent ?? ''));
    const expected = [`1.s${(await waiter.session()).id}`, `2.s${(await second.session()).id}`];
    t.same(queue, expected, 'the waiters in queue order, each with its place');

    // The wait-for graph has the two waiters' edges to the holder; sessions and events are live.
    await page.locator(`#graph g.node[data-session="${lock.session}"]`).waitFor({ timeout: 10_000 });
    await page.locator('#graph path.edge').nth(1).waitFor({ timeout: 10_000 });
    t.equal(await page.locator('#graph path.edge').count(), 2, 'two wait edges');
    t.equal(await page.locator('#graph .cycle').count(), 0, 'no deadlock drawn');
    // The state machine refuses a wait that would close a cycle, so a deadlock is drawn here from
    // a made-up graph by the page's own module: s1 and s2 wait for each other, s3 waits for s1.
    const drawnCycle = (await page.evaluate(`(async () => {
      const { renderWaitGraph } = await import('/waitgraph.js');
      const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
      const note = document.createElement('p');
      renderWaitGraph(svg, note, {
        edges: [{ session: 1, lock: 'a', heldBy: [2] }, { session: 2, lock: 'b', heldBy: [1] }, { session: 3, lock: 'a', heldBy: [2] }],
        cycles: [[{ session: 1, lock: 'a' }, { session: 2, lock: 'b' }]],
      });
      return {
        red: [...svg.querySelectorAll('g.node.cycle')].map((g) => g.dataset.session).sort(),
        redEdges: svg.querySelectorAll('path.edge.cycle').length,
        edges: svg.querySelectorAll('path.edge').length,
        note: note.textContent,
      };
    })()`)) as { red: string[]; redEdges: number; edges: number; note: string };
    t.same(drawnCycle.red, ['1', '2'], 'the sessions on the cycle are red, the one waiting behind it is not');
    t.equal(drawnCycle.redEdges, 2, 'both edges of the cycle are red');
    t.equal(drawnCycle.edges, 3);
    t.match(drawnCycle.note, /Deadlock: 2 sessions on a cycle/);
    await page.locator(`#session-rows tr[data-session="${lock.session}"]`).waitFor({ timeout: 10_000 });
    await page.locator('#event-list li[data-kind="grant"]').first().waitFor({ timeout: 10_000 });
    t.match(await page.locator('#event-list').textContent(), /jobs\/nightly → s\d+ token #\d+/);
    await page.locator('#lock-prefix').fill('pool/');
    await page.locator('#lock-rows [data-lock="jobs/nightly"]').waitFor({ state: 'detached', timeout: 10_000 });
    t.equal(await page.locator('#lock-rows [data-lock]').count(), 1, 'the prefix filter leaves pool/db');
    await page.locator('#lock-prefix').fill('');
    await row.waitFor({ timeout: 10_000 });
    // Let the charts gather a few scrapes, then keep a screenshot of the whole page.
    await page.waitForTimeout(2500);
    const screenshot = join(outDir, 'dashboard.png');
    mkdirSync(outDir, { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: true });
    t.comment(`screenshot: ${screenshot}`);

    await lock.release();
    t.equal((await waiting).session > 0, true, 'the first waiter is granted once the holder releases');
    t.same(pageErrors, [], `no script errors in the page (${pageErrors.join(' | ')})`);

    // A user with only read rights: the read-only view, no controls that would change anything.
    const viewerPage = await context.newPage();
    await viewerPage.goto(`https://${https[0]}/`);
    await logIn(viewerPage, 'viewer', viewerPassword);
    await viewerPage.locator('#readonly').waitFor({ state: 'visible', timeout: 10_000 });
    await viewerPage.locator('#lock-rows [data-lock="jobs/nightly"]').waitFor({ timeout: 10_000 });
    t.equal(await viewerPage.locator('button[data-close]').count(), 0, 'no close buttons for a reader');
    void secondWaiting.catch(() => undefined);

    // The pin is exact: a server with any other certificate is refused by the browser.
    const unpinned = await launchChromium([certs[0] ?? '']);
    t.teardown(() => unpinned.close());
    const strict = await unpinned.newPage();
    const refused = await strict.goto(`https://${https[1]}/`).then(
      () => 'loaded',
      (error: Error) => error.message,
    );
    t.match(refused, /ERR_CERT/, 'a node whose key is not pinned is refused');
    t.equal((await (await unpinned.newPage()).goto(`https://${https[0]}/`))?.status(), 200, 'the pinned node loads');
  });
}
