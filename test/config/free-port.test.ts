// freePort picks ports that outgoing connections cannot take between the pick and the node's bind:
// below the OS's ephemeral range, where source ports come from (a node that lost its port that way
// failed to start with EADDRINUSE on a busy test run).
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { freePort, localPortRange } from '../../src/config/local-cluster-file.js';

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
