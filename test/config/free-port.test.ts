// freePort picks ports that outgoing connections cannot take between the pick and the node's bind:
// below the OS's ephemeral range, where source ports come from (a node that lost its port that way
// failed to start with EADDRINUSE on a busy test run); and ports that other processes on this
// machine did not claim (a node restarted on its port lost it that way to another test process).
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { freePort, localPortRange, portClaimDir } from '../../src/config/local-cluster-file.js';

t.test('the range lies below the ephemeral range of this machine', async (t) => {
  const file = '/proc/sys/net/ipv4/ip_local_port_range';
  const ephemeralFirst = existsSync(file) ? Number(readFileSync(file, 'utf8').trim().split(/\s+/)[0]) : 32_768;
  t.ok(localPortRange.last < ephemeralFirst, `${localPortRange.last} < ${ephemeralFirst}`);
});

t.test('every port picked is in the range, and a node can bind it', async (t) => {
  for (let i = 0; i < 20; i++) {
    const port = await freePort();
    t.ok(port >= localPortRange.first && port <= localPortRange.last, `${port} is in the range`);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

t.test('a port handed out is not handed out again, even when the draw repeats it', async (t) => {
  // The draws repeat a number, as two draws out of 12,768 ports do now and then (one run gave a
  // node the same port for its peer and client addresses: a clash the node cannot start with).
  const draws = [0.5, 0.5, 0.75];
  const random = (): number => draws.shift() ?? Math.random();
  const first = await freePort(random);
  const second = await freePort(random);
  t.not(second, first, `the repeated draw ${first} is passed over`);
  t.equal(draws.length, 0, 'the next draw is taken instead');
});

/** The draw that makes freePort try `port` first. */
const drawOf = (port: number): number =>
  (port - localPortRange.first + 0.5) / (localPortRange.last - localPortRange.first + 1);

/** Some port of the range no test here has used, drawn from the tail of the range. */
function unusedPort(offset: number): number {
  return localPortRange.last - 50 - offset - Math.floor(Math.random() * 1000);
}

t.test("a port another live process claimed is passed over; a dead process's claim is taken over", async (t) => {
  mkdirSync(portClaimDir, { recursive: true });
  const port = unusedPort(0);
  const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
  const liveClaim = join(portClaimDir, String(port));
  t.teardown(() => {
    live.kill('SIGKILL');
    rmSync(liveClaim, { force: true });
  });
  writeFileSync(liveClaim, String(live.pid));
  const draws = [drawOf(port), drawOf(port - 1)];
  const passedOver = await freePort(() => draws.shift() ?? Math.random());
  t.not(passedOver, port, 'the live claim is respected');
  t.equal(draws.length, 0, 'the next draw is taken instead');

  const gone = spawnSync(process.execPath, ['-e', '0']).pid;
  const stale = port - 7;
  writeFileSync(join(portClaimDir, String(stale)), String(gone));
  t.equal(await freePort(() => drawOf(stale)), stale, 'the claim of an exited process is taken over');
  t.equal(readFileSync(join(portClaimDir, String(stale)), 'utf8'), String(process.pid), 'now claimed by this process');
});

t.test('a process releases its claims when it exits', async (t) => {
  const script = `
    import { freePort } from ${JSON.stringify(new URL('../../src/config/local-cluster-file.ts', import.meta.url).href)};
    const port = await freePort();
    console.log(port);`;
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  const port = Number(run.stdout.trim());
  t.ok(Number.isInteger(port) && port > 0, `the child drew ${run.stdout.trim()} ${run.stderr}`);
  t.notOk(existsSync(join(portClaimDir, String(port))), 'its claim is gone');
});
