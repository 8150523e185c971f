// The least one replicated commit can cost on this machine in Node.js: the message pattern of one
// raftlock commit with nothing else in it. Three member processes in plain JavaScript (no Raft, no
// state machine, no encoding, no TLS) and the client in this process: the client sends 64 bytes
// to the leader; the leader appends them to its file and sends them to both followers; each
// follower appends them to its file and answers; once its own append and one answer are done, the
// leader answers the client and sends each follower a commit notice, which is not answered. An
// append is one `fs.write` to a file opened with O_APPEND | O_DSYNC (one trip to libuv's pool
// that returns once the data is on the disk), against raftlock's two synced writes per batch (the
// level batch and the evidence record, docs/storage.md).
//
// Each process's CPU µs per commit and main-thread wake-ups per commit are read by bench/per-commit.ts,
// as bench/commit-cost.ts reads them, so the two print side by side (docs/benchmarks.md, "The floor under one
// commit"). `--sync off` leaves the O_DSYNC out, which shows what the messages alone cost;
// `--writes 2` appends to two files at once per member and waits for both, as raftlock does.
//
// Run: npx tsx bench/commit-floor.ts [--seconds N] [--warmup N] [--sync on|off|both] [--writes 1|2]
//      [--dir PATH] [--short]
//      (npm run bench:floor)
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { flag, loopWindow, onOffBoth } from './args.js';
import { percentile } from './etcd/workloads.js';
import { membersLine, perCommitLine, sampleProcesses } from './per-commit.js';

const { seconds, warmupSeconds, dataParent, valid } = loopWindow(tmpdir());
const modes = onOffBoth(flag('--sync') ?? 'both');
const writes = Number(flag('--writes') ?? '1');
if (!valid || modes === null || (writes !== 1 && writes !== 2)) {
  console.error(
    'usage: bench/commit-floor.ts [--seconds N>0] [--warmup N>=0] [--sync on|off|both] [--writes 1|2] [--dir PATH] [--short]',
  );
  process.exit(2);
}

/** Every frame is this long; its first byte says what it is. */
const frameBytes = 64;

/**
 * One member, run with `node -e`: argv is the role, whether appends are synced, the file to append
 * to and, for the leader, the followers' ports. It prints its own listening port once ready.
 */
const memberSource = `
const net = require('node:net');
const fs = require('node:fs');
const [role, sync, writes, file, ...followerPorts] = process.argv.slice(1);
const frameBytes = ${frameBytes};
const replicate = 1, answer = 2, notice = 3;
const c = fs.constants;
const flags = c.O_WRONLY | c.O_CREAT | c.O_APPEND | (sync === 'on' ? c.O_DSYNC : 0);
const fds = Array.from({ length: Number(writes) }, (_, i) => fs.openSync(file + '.' + i, flags));
function frames(socket, onFrame) {
  let pending = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= frameBytes) {
      onFrame(pending.subarray(0, frameBytes));
      pending = pending.subarray(frameBytes);
    }
  });
  socket.on('error', () => process.exit(1));
}
// Every file gets the frame at once; done once all of them have it.
function append(frame, done) {
  let left = fds.length;
  for (const fd of fds) fs.write(fd, frame, 0, frameBytes, null, (error) => { if (error) throw error; if (--left === 0) done(); });
}
function listen(onSocket) {
  const server = net.createServer({ noDelay: true }, (socket) => { socket.setNoDelay(true); onSocket(socket); });
  server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
}
if (role === 'follower') {
  listen((leader) => frames(leader, (frame) => {
    if (frame[0] !== replicate) return;
    const copy = Buffer.from(frame);
    append(copy, () => { copy[0] = answer; leader.write(copy); });
  }));
} else {
  const followers = followerPorts.map((port) => {
    const socket = net.connect({ host: '127.0.0.1', port: Number(port), noDelay: true });
    // An answer counts only for the commit in flight: the slower follower's comes after it.
    frames(socket, (frame) => { if (inFlight !== null && frame.readUInt32LE(1) === inFlight.readUInt32LE(1)) { answers++; maybeCommit(); } });
    return socket;
  });
  let client = null, inFlight = null, ownDone = false, answers = 0;
  function maybeCommit() {
    if (inFlight === null || !ownDone || answers < 1) return;
    const frame = inFlight;
    inFlight = null;
    frame[0] = answer;
    client.write(frame);
    const told = Buffer.from(frame);
    told[0] = notice;
    for (const follower of followers) follower.write(told);
  }
  listen((socket) => {
    client = socket;
    frames(socket, (frame) => {
      inFlight = Buffer.from(frame);
      ownDone = false;
      answers = 0;
      const sent = Buffer.from(frame);
      sent[0] = replicate;
      for (const follower of followers) follower.write(sent);
      append(inFlight, () => { ownDone = true; maybeCommit(); });
    });
  });
}
`;

interface Member {
  readonly child: ChildProcess;
  readonly port: number;
}

function startMember(
  role: 'leader' | 'follower',
  sync: boolean,
  file: string,
  followerPorts: number[],
): Promise<Member> {
  const argv = [role, sync ? 'on' : 'off', String(writes), file, ...followerPorts.map(String)];
  const child = spawn(process.execPath, ['-e', memberSource, ...argv], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the ${role} exited (${String(code)}) before it listened`)));
    child.stdout?.once('data', (chunk: Buffer) => resolve({ child, port: Number(chunk.toString().trim()) }));
  });
}

/**
 * Sends one frame, numbered `seq` (bytes 1–4: the members match answers to commits by it), and
 * waits for the leader's answer; the answer's bytes are counted, not read.
 */
function commitOnce(socket: Socket, frame: Buffer, seq: number): Promise<void> {
  frame.writeUInt32LE(seq >>> 0, 1);
  return new Promise((resolve) => {
    let received = 0;
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (received < frameBytes) return;
      socket.off('data', onData);
      resolve();
    };
    socket.on('data', onData);
    socket.write(frame);
  });
}

async function run(sync: boolean): Promise<void> {
  const dir = mkdtempSync(join(dataParent, 'raftlock-commit-floor-'));
  const members: Member[] = [];
  let socket: Socket | null = null;
  try {
    members.push(await startMember('follower', sync, join(dir, 'f1'), []));
    members.push(await startMember('follower', sync, join(dir, 'f2'), []));
    const leader = await startMember('leader', sync, join(dir, 'leader'), [members[0]!.port, members[1]!.port]);
    members.unshift(leader);
    socket = connect({ host: '127.0.0.1', port: leader.port, noDelay: true });
    await new Promise<void>((resolve, reject) => {
      socket!.once('connect', resolve);
      socket!.once('error', reject);
    });
    const frame = Buffer.alloc(frameBytes, 7);
    frame[0] = 1;
    const warmUntil = performance.now() + warmupSeconds * 1000;
    let seq = 0;
    while (performance.now() < warmUntil) await commitOnce(socket, frame, ++seq);
    const pids = [...members.map((m) => m.child.pid ?? -1), process.pid];
    const from = sampleProcesses(pids);
    const latencies: number[] = [];
    const until = performance.now() + seconds * 1000;
    while (performance.now() < until) {
      const t0 = performance.now();
      await commitOnce(socket, frame, ++seq);
      latencies.push(performance.now() - t0);
    }
    const to = sampleProcesses(pids);
    latencies.sort((x, y) => x - y);
    const commits = Math.max(1, latencies.length);
    console.log(
      `${sync ? 'synced appends' : 'appends not synced'}: ${Math.round(latencies.length / seconds).toLocaleString('en-US')} commits/s, p50 ${percentile(latencies, 50).toFixed(2)} ms, p99 ${percentile(latencies, 99).toFixed(2)} ms`,
    );
    const roles = ['leader', 'follower', 'follower', 'client'];
    pids.forEach((pid, i) => console.log(perCommitLine(roles[i] ?? `pid ${pid}`, from, to, pid, commits)));
    console.log(membersLine(from, to, pids.slice(0, 3), commits));
  } finally {
    socket?.destroy();
    for (const member of members) member.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(
  `one client, 64-byte commits in a loop, 3 bare Node.js members (${writes === 1 ? 'one append' : 'two appends at once'} each, no Raft); ${seconds} s after ${warmupSeconds} s of warm-up`,
);
for (const sync of modes) await run(sync);
