// Physical limits of this machine, the ceiling any consensus system on it is held to: synced small
// writes per second on the data disk (a commit needs at least one on a majority) and loopback TCP
// round trips per second (a commit needs at least one between leader and followers).
// `npx tsx bench/physical.ts [--dir PATH] [--seconds N]`; bench/bench.ts prints the same
// figures in its run. Each figure is measured sequentially, one operation in flight, for N seconds.
import { Level } from 'level';
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { flag } from './args.js';

export type PhysicalLimits = {
  readonly fsyncWritesPerSec: number;
  readonly levelSyncedPutsPerSec: number;
  readonly loopbackRoundTripsPerSec: number;
  readonly dir: string;
};

const smallWriteBytes = 64;

/** Appends 64 bytes and fsyncs, one at a time, for `durationMs`. */
export function measureFsyncWrites(dir: string, durationMs: number): number {
  const path = join(dir, 'fsync-probe');
  const fd = openSync(path, 'a');
  const buf = Buffer.alloc(smallWriteBytes, 7);
  let count = 0;
  const started = performance.now();
  try {
    while (performance.now() - started < durationMs) {
      writeSync(fd, buf);
      fsyncSync(fd);
      count++;
    }
  } finally {
    closeSync(fd);
  }
  return count / ((performance.now() - started) / 1000);
}

/** `level` puts with `{ sync: true }` (what the durable log does per group commit), sequentially. */
export async function measureLevelSyncedPuts(dir: string, durationMs: number): Promise<number> {
  const db = new Level<string, string>(join(dir, 'level-probe'));
  await db.open();
  const value = 'x'.repeat(smallWriteBytes);
  let count = 0;
  const started = performance.now();
  try {
    while (performance.now() - started < durationMs) {
      await db.put(`k${count}`, value, { sync: true });
      count++;
    }
  } finally {
    await db.close();
  }
  return count / ((performance.now() - started) / 1000);
}

/**
 * Ping-pong of 16-byte messages over one loopback TCP connection to an echo server in a child
 * process (so that both ends do not share one event loop), one message in flight.
 */
export async function measureLoopbackRoundTrips(durationMs: number): Promise<number> {
  const echo = spawn(process.execPath, ['-e', echoServerSource], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      echo.once('error', reject);
      echo.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
    });
    const socket = connect({ host: '127.0.0.1', port });
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const count = await pingPong(socket, durationMs);
    socket.destroy();
    return count;
  } finally {
    echo.kill('SIGKILL');
  }
}

const echoServerSource = `
const net = require('node:net');
const server = net.createServer({ noDelay: true }, (s) => { s.setNoDelay(true); s.on('data', (d) => s.write(d)); s.on('error', () => {}); });
server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'));
`;

function pingPong(socket: Socket, durationMs: number): Promise<number> {
  const message = Buffer.alloc(16, 1);
  return new Promise((resolve) => {
    let pending = 0;
    let count = 0;
    const started = performance.now();
    socket.on('data', (chunk: Buffer) => {
      pending -= chunk.length;
      if (pending > 0) return;
      count++;
      const elapsed = performance.now() - started;
      if (elapsed >= durationMs) {
        resolve(count / (elapsed / 1000));
        return;
      }
      pending = message.length;
      socket.write(message);
    });
    pending = message.length;
    socket.write(message);
  });
}

/** Measures every limit; `dir` is where the data directories live (a temp dir is made inside). */
export async function measurePhysicalLimits(parentDir: string, durationMs: number): Promise<PhysicalLimits> {
  const dir = mkdtempSync(join(parentDir, 'raftlock-physical-'));
  try {
    const fsyncWritesPerSec = measureFsyncWrites(dir, durationMs);
    const levelSyncedPutsPerSec = await measureLevelSyncedPuts(dir, durationMs);
    const loopbackRoundTripsPerSec = await measureLoopbackRoundTrips(durationMs);
    return { fsyncWritesPerSec, levelSyncedPutsPerSec, loopbackRoundTripsPerSec, dir: parentDir };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatPhysicalLimits(limits: PhysicalLimits): string {
  const f = (n: number): string => Math.round(n).toLocaleString('en-US');
  return [
    `physical limits (data disk under ${limits.dir}):`,
    `  synced 64-byte writes (write + fsync)          ${f(limits.fsyncWritesPerSec)}/s`,
    `  synced level puts ({ sync: true })             ${f(limits.levelSyncedPutsPerSec)}/s`,
    `  loopback TCP round trips (16 B, 1 in flight)   ${f(limits.loopbackRoundTripsPerSec)}/s`,
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const seconds = Number(flag('--seconds') ?? '3');
  const limits = await measurePhysicalLimits(flag('--dir') ?? tmpdir(), seconds * 1000);
  console.log(formatPhysicalLimits(limits));
}
