// cluster.yml is validated before a node starts: the repository's file loads with the documented
// values, defaults fill every omitted setting, and each kind of mistake is refused with the file,
// the line and column, and what is wrong. Also covers the duration/size units it is written in.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  clusterDefaults,
  loadClusterConfig,
  parseClusterConfig,
  parseHostPort,
  raftConfigFor,
} from '../../src/config/cluster-config.js';
import { formatDurationMs, formatSizeBytes, parseDurationMs, parseSizeBytes } from '../../src/util/units.js';
import { nodeServerOptions } from '../../src/embed/embed.js';
import type { NodeId } from '../../src/raft/types.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

const threeNodes = `
cluster:
  name: t
  id: t-1
nodes:
  - id: n1
    peer: 127.0.0.1:7101
    client: 127.0.0.1:7201
  - id: n2
    peer: 127.0.0.1:7102
    client: 127.0.0.1:7202
  - id: n3
    peer: 127.0.0.1:7103
    client: 127.0.0.1:7203
`;

t.test('units: durations and sizes parse strictly and format back', async (t) => {
  t.same(
    ['500ms', '15s', '2m', '1h', '1.5s', '0ms'].map((s) => parseDurationMs(s)),
    [
      { ok: true, value: 500 },
      { ok: true, value: 15_000 },
      { ok: true, value: 120_000 },
      { ok: true, value: 3_600_000 },
      { ok: true, value: 1500 },
      { ok: true, value: 0 },
    ],
  );
  t.same(
    ['512B', '64KiB', '4MiB', '1GiB'].map((s) => parseSizeBytes(s)),
    [
      { ok: true, value: 512 },
      { ok: true, value: 65_536 },
      { ok: true, value: 4_194_304 },
      { ok: true, value: 1_073_741_824 },
    ],
  );
  for (const bad of ['15', 's', '15 sec', '-1s', '1.0001ms', '1e3ms', '']) {
    t.equal(parseDurationMs(bad).ok, false, bad);
  }
  for (const bad of ['4MB', '4mib', '0.5B', '99999999999GiB', 'MiB']) {
    t.equal(parseSizeBytes(bad).ok, false, bad);
  }
  t.equal(formatDurationMs(15_000), '15s');
  t.equal(formatDurationMs(250), '250ms');
  t.equal(formatSizeBytes(4 * 1024 * 1024), '4MiB');
  t.equal(formatSizeBytes(1000), '1000B');
});

t.test('host:port parsing', async (t) => {
  t.same(parseHostPort('127.0.0.1:7101'), { host: '127.0.0.1', port: 7101 });
  t.same(parseHostPort('node-1.example.com:80'), { host: 'node-1.example.com', port: 80 });
  t.same(parseHostPort('[::1]:9000'), { host: '::1', port: 9000 });
  const bads = ['127.0.0.1', ':80', 'host:0', 'host:65536', 'ho st:1', 'a:b:1', 'host:-1', '-b:1'];
  for (const bad of bads) {
    t.equal(parseHostPort(bad), null, bad);
  }
});

t.test("the repository's cluster.yml loads with the values it states", async (t) => {
  const loaded = await loadClusterConfig(join(repoRoot, 'cluster.yml'));
  if (!loaded.ok) throw new Error(loaded.error.message);
  const config = loaded.value;
  t.same(config.cluster, { name: 'local', id: 'raftlock-local-1' });
  const show = (a: { host: string; port: number }): string => `${a.host}:${a.port}`;
  t.same(
    config.nodes.map((n) => [n.id, show(n.peer), show(n.client)]),
    [
      ['n1', '127.0.0.1:7101', '127.0.0.1:7201'],
      ['n2', '127.0.0.1:7102', '127.0.0.1:7202'],
      ['n3', '127.0.0.1:7103', '127.0.0.1:7203'],
    ],
  );
  const dataDir = config.nodes[0]?.dataDir;
  t.equal(dataDir, join(repoRoot, 'data/n1'), 'data paths resolve against the file directory');
  t.same(config.timing, { tickMs: 50, heartbeatTicks: 1, electionTicks: 10 });
  t.same(config.snapshot, { entries: 10_000, bytes: 64 * 1024 * 1024, mode: 'background' });
  t.equal(config.limits.frameBytesMax, 4 * 1024 * 1024);
  t.equal(config.limits.appendEntriesMax, 1024);
  t.equal(config.limits.inflightAppendsMax, 64);
  t.equal(config.sessions.ttlMs, 15_000);
  t.equal(config.sessions.keepaliveIntervalMs, 250);
  t.same(config.security, {
    pkiDir: join(repoRoot, 'data/pki'),
    insecure: false,
    insecureNonLoopback: false,
    logTimeJumpMaxMs: 60_000,
  });
  t.same(config.warnings, []);
  const raft = raftConfigFor(config, 'n2' as NodeId);
  t.same([raft.id, raft.initialVoters, raft.electionTicks], ['n2', ['n1', 'n2', 'n3'], 10]);
});

t.test('limits.connectionsMax is read from cluster.yml and reaches the node server', async (t) => {
  const dir = t.testdir({ 'cluster.yml': withExtra('limits:\n  connectionsMax: 12000\n') });
  const loaded = await loadClusterConfig(join(dir, 'cluster.yml'));
  if (!loaded.ok) throw new Error(loaded.error.message);
  t.equal(loaded.value.limits.connectionsMax, 12_000);
  const options = nodeServerOptions({ config: loaded.value, nodeId: 'n1' as NodeId });
  t.equal(options.connectionsMax, 12_000, 'the node serves that many client connections');
  t.equal(clusterDefaults.limits.connectionsMax, 1024, 'the default when omitted');
});

t.test('omitted settings take their defaults; even node counts warn', async (t) => {
  const twoNodes = [
    'nodes:',
    '  - id: a',
    '    peer: h:1',
    '    client: h:2',
    '  - id: b',
    '    peer: h:3',
    '    client: h:4',
  ].join('\n');
  const dir = t.testdir({ 'cluster.yml': twoNodes });
  const loaded = await loadClusterConfig(join(dir, 'cluster.yml'));
  if (!loaded.ok) throw new Error(loaded.error.message);
  const config = loaded.value;
  t.same(config.cluster, { name: 'raftlock', id: 'raftlock' });
  t.equal(config.nodes[1]?.dataDir, join(dir, 'data/b'));
  t.same(config.limits, clusterDefaults.limits);
  t.equal(config.timing.tickMs, clusterDefaults.tickMs);
  t.equal(config.sessions.ttlMaxMs, clusterDefaults.ttlMaxMs);
  t.equal(config.warnings.length, 1);
  t.match(config.warnings[0], { line: 2, message: /2 nodes tolerate no more failures than 1/ });
  t.equal(config.snapshot.mode, 'background', 'snapshots are taken in the background unless told otherwise');
  const inline = parseClusterConfig(`${twoNodes}\nsnapshot:\n  mode: inline\n`, join(dir, 'cluster.yml'));
  t.equal(inline.ok ? inline.value.snapshot.mode : null, 'inline', 'snapshot.mode: inline is accepted');
});

t.test('security: defaults, a relative or absolute pki, insecure told once or twice', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'cluster.yml');
  const parsed = (extra: string) => parseClusterConfig(threeNodes + extra, file);
  const defaults = parsed('');
  if (!defaults.ok) throw new Error(defaults.error.message);
  t.same(
    defaults.value.security,
    {
      pkiDir: join(dir, 'data/pki'),
      insecure: false,
      insecureNonLoopback: false,
      logTimeJumpMaxMs: 60_000,
    },
    'secure by default, the PKI next to the data directories',
  );
  const relative = parsed('security:\n  pki: ../certs\n  logTimeJumpMax: 2m\n');
  if (!relative.ok) throw new Error(relative.error.message);
  t.equal(relative.value.security.pkiDir, resolve(dir, '../certs'), 'relative to the file');
  t.equal(relative.value.security.logTimeJumpMaxMs, 120_000);
  const server = nodeServerOptions({ config: relative.value, nodeId: 'n1' as NodeId });
  t.equal(server.logTimeJumpMaxMs, 120_000, 'the bound reaches the node server');
  const absolute = parsed('security:\n  pki: /etc/raftlock/pki\n');
  t.equal(absolute.ok ? absolute.value.security.pkiDir : null, '/etc/raftlock/pki');
  const twice = parsed('security:\n  insecure: true\n  insecureNonLoopback: true\n');
  t.same(
    twice.ok ? [twice.value.security.insecure, twice.value.security.insecureNonLoopback, twice.value.warnings] : null,
    [true, true, []],
  );
  // The second setting alone does nothing; saying so keeps an operator from believing otherwise.
  const alone = parsed('security:\n  insecureNonLoopback: true\n');
  t.equal(alone.ok, true);
  t.match(alone.ok ? alone.value.warnings : [], [
    { line: base + 1, column: 24, message: /insecureNonLoopback has no effect without security\.insecure: true/ },
  ]);
});

interface BadCase {
  readonly name: string;
  readonly yaml: string;
  readonly line: number;
  readonly column?: number;
  readonly message: RegExp;
}

/** Appends `extra` to the valid three-node file, so line numbers of the additions are known. */
const base = threeNodes.split('\n').length; // the first line of `extra` is line `base`
const withExtra = (extra: string): string => threeNodes + extra;

const badCases: readonly BadCase[] = [
  {
    name: 'security: insecure not a boolean',
    yaml: withExtra('security:\n  insecure: yes please\n'),
    line: base + 1,
    column: 13,
    message: /security\.insecure must be true or false, got "yes please"/,
  },
  {
    name: 'security: insecureNonLoopback not a boolean',
    yaml: withExtra('security:\n  insecure: true\n  insecureNonLoopback: 1\n'),
    line: base + 2,
    column: 24,
    message: /security\.insecureNonLoopback must be true or false, got number 1/,
  },
  {
    name: 'security: logTimeJumpMax without a unit',
    yaml: withExtra('security:\n  logTimeJumpMax: 60\n'),
    line: base + 1,
    column: 19,
    message: /security\.logTimeJumpMax must be a duration with a unit/,
  },
  {
    name: 'security: logTimeJumpMax below a second',
    yaml: withExtra('security:\n  logTimeJumpMax: 500ms\n'),
    line: base + 1,
    column: 19,
    message: /security\.logTimeJumpMax must be from 1000ms to 86400000ms, got 500ms/,
  },
  {
    name: 'security: empty pki',
    yaml: withExtra('security:\n  pki: ""\n'),
    line: base + 1,
    column: 8,
    message: /security\.pki must be a non-empty string/,
  },
  {
    name: 'security: unknown key',
    yaml: withExtra('security:\n  tls: on\n'),
    line: base + 1,
    column: 3,
    message: /unknown key "tls" in security \(allowed: pki, insecure, insecureNonLoopback, logTimeJumpMax\)/,
  },
  {
    name: 'unknown top-level key',
    yaml: withExtra('timeouts:\n  x: 1\n'),
    line: base,
    column: 1,
    message: /unknown key "timeouts" in the file/,
  },
  {
    name: 'unknown nested key',
    yaml: withExtra('timing:\n  tick: 50ms\n  heartbeats: 2\n'),
    line: base + 2,
    column: 3,
    message: /unknown key "heartbeats" in timing \(allowed: tick, heartbeat, election\)/,
  },
  {
    name: 'wrong type',
    yaml: withExtra('timing:\n  election: ten\n'),
    line: base + 1,
    column: 13,
    message: /timing.election must be an integer from 2 to 10000, got "ten"/,
  },
  {
    name: 'duration without unit',
    yaml: withExtra('timing:\n  tick: 50\n'),
    line: base + 1,
    column: 9,
    message: /timing.tick must be a duration with a unit/,
  },
  {
    name: 'bad duration unit',
    yaml: withExtra('sessions:\n  ttl: 15sec\n'),
    line: base + 1,
    message: /unknown duration unit "sec"/,
  },
  {
    name: 'bad size',
    yaml: withExtra('limits:\n  frameBytesMax: 4MB\n'),
    line: base + 1,
    column: 18,
    message: /unknown size unit "MB"/,
  },
  {
    name: 'size out of range',
    yaml: withExtra('limits:\n  frameBytesMax: 1KiB\n'),
    line: base + 1,
    message: /limits.frameBytesMax must be from 65536/,
  },
  {
    name: 'unknown snapshot mode',
    yaml: withExtra('snapshot:\n  mode: later\n'),
    line: base + 1,
    column: 9,
    message: /snapshot.mode must be background or inline, got "later"/,
  },
  {
    name: 'connection limit of zero',
    yaml: withExtra('limits:\n  connectionsMax: 0\n'),
    line: base + 1,
    column: 19,
    message: /limits.connectionsMax must be an integer from 1 to 1000000, got number 0/,
  },
  {
    name: 'connection limit not a number',
    yaml: withExtra('limits:\n  connectionsMax: 10k\n'),
    line: base + 1,
    column: 19,
    message: /limits.connectionsMax must be an integer from 1 to 1000000, got "10k"/,
  },
  {
    name: 'section not a mapping',
    yaml: withExtra('snapshot: 5\n'),
    line: base,
    column: 11,
    message: /snapshot must be a mapping/,
  },
  {
    name: 'duplicate YAML key',
    yaml: withExtra('timing:\n  tick: 50ms\n  tick: 60ms\n'),
    line: base + 2,
    message: /YAML: Map keys must be unique/,
  },
  {
    name: 'YAML syntax error',
    yaml: withExtra('timing: [1,\n'),
    line: base + 1,
    message: /YAML: Flow sequence/,
  },
  {
    name: 'heartbeat not below election',
    yaml: withExtra('timing:\n  heartbeat: 10\n  election: 10\n'),
    line: base + 1,
    message: /timing.heartbeat \(10\) must be below timing.election \(10\)/,
  },
  {
    name: 'keepalive too slow for the ttl',
    yaml: withExtra('sessions:\n  ttl: 1s\n  keepaliveInterval: 500ms\n'),
    line: base + 2,
    message: /at most a third of sessions.ttl/,
  },
  {
    name: 'append larger than a frame',
    yaml: withExtra('limits:\n  frameBytesMax: 1MiB\n  appendBytesMax: 1MiB\n'),
    line: base + 2,
    message: /appendBytesMax plus 64KiB/,
  },
  {
    name: 'no nodes',
    yaml: 'cluster:\n  id: x\nnodes: []\n',
    line: 3,
    column: 8,
    message: /nodes must list at least one node/,
  },
  {
    name: 'nodes not a list',
    yaml: 'nodes:\n  n1: 127.0.0.1:1\n',
    line: 2,
    column: 3,
    message: /nodes must be a list/,
  },
  {
    name: 'duplicate node id',
    yaml: threeNodes.replace('id: n3', 'id: n1'),
    line: 12,
    column: 9,
    message: /duplicate node id "n1" \(also nodes\[0\]\)/,
  },
  {
    name: 'duplicate address',
    yaml: threeNodes.replace('client: 127.0.0.1:7203', 'client: 127.0.0.1:7101'),
    line: 14,
    column: 13,
    message: /address 127.0.0.1:7101 is used twice \(n1.peer and n3.client\)/,
  },
  {
    name: 'address without port',
    yaml: threeNodes.replace('peer: 127.0.0.1:7102', 'peer: 127.0.0.1'),
    line: 10,
    column: 11,
    message: /nodes\[1\].peer must be host:port/,
  },
  {
    name: 'port out of range',
    yaml: threeNodes.replace('client: 127.0.0.1:7202', 'client: 127.0.0.1:70000'),
    line: 11,
    message: /nodes\[1\].client must be host:port with a port from 1 to 65535/,
  },
  {
    name: 'invalid node id',
    yaml: threeNodes.replace('id: n2', 'id: "n 2"'),
    line: 9,
    column: 9,
    message: /nodes\[1\].id "n 2" must be 1–64 letters/,
  },
  {
    name: 'node without id',
    yaml: threeNodes.replace('  - id: n2\n', '  - data: ./x\n'),
    line: 9,
    column: 5,
    message: /nodes\[1\].id is missing/,
  },
  {
    name: 'shared data directory',
    yaml: withExtra('  - id: n4\n    peer: h:1\n    client: h:2\n    data: ./data/n1\n'),
    line: base + 3,
    message: /data directory .*data\/n1 is shared by n1 and n4/,
  },
  {
    name: 'unknown node key',
    yaml: threeNodes.replace('7201\n', '7201\n    voter: true\n'),
    line: 9,
    column: 5,
    message: /unknown key "voter" in nodes\[0\]/,
  },
];

t.test('each invalid file is refused with its line, column and reason', async (t) => {
  for (const c of badCases) {
    const dir = t.testdir({ 'cluster.yml': c.yaml });
    const file = join(dir, 'cluster.yml');
    const loaded = await loadClusterConfig(file);
    if (loaded.ok) {
      t.fail(`${c.name}: accepted`);
      continue;
    }
    const problem = loaded.error.problems.find((p) => c.message.test(p.message));
    t.ok(problem, `${c.name}: reason (${loaded.error.message})`);
    t.equal(problem?.line, c.line, `${c.name}: line`);
    if (c.column !== undefined) t.equal(problem?.column, c.column, `${c.name}: column`);
    t.equal(loaded.error.code, 'CONFIG_INVALID');
    t.match(loaded.error.message, `${file}:${c.line}:`, `${c.name}: message names file and line`);
  }
});

t.test('all mistakes are reported at once; an unreadable file names the path', async (t) => {
  const dir = t.testdir({ 'cluster.yml': withExtra('timing:\n  tick: fast\n  election: -3\n') });
  const loaded = await loadClusterConfig(join(dir, 'cluster.yml'));
  t.equal(loaded.ok ? 0 : loaded.error.problems.length, 2);
  const missing = await loadClusterConfig(join(dir, 'nope.yml'));
  t.equal(missing.ok ? null : missing.error.code, 'CONFIG_UNREADABLE');
  t.match(missing.ok ? '' : missing.error.message, /nope\.yml: cannot read: .*ENOENT/);
  // A written file round trip proves the path in messages is the resolved absolute one.
  writeFileSync(join(dir, 'odd.yml'), 'nodes: 3\n');
  const odd = await loadClusterConfig(join(dir, 'odd.yml'));
  t.match(odd.ok ? '' : odd.error.message, `${join(dir, 'odd.yml')}:1:8: nodes must be a list`);
});

t.test('join: true nodes are not voters of the new cluster and start with no voters', async (t) => {
  // A joining node must learn its membership from the leader (dissertation §4.1), so it may not
  // bootstrap a configuration of its own; the others bootstrap without it.
  const dir = t.testdir();
  const file = join(dir, 'cluster.yml');
  writeFileSync(
    file,
    `${threeNodes}  - id: n4\n    peer: 127.0.0.1:7104\n    client: 127.0.0.1:7204\n    join: true\n`,
  );
  const loaded = await loadClusterConfig(file);
  t.ok(loaded.ok);
  if (!loaded.ok) return;
  t.same(
    loaded.value.nodes.map((n) => n.join),
    [false, false, false, true],
  );
  t.same(raftConfigFor(loaded.value, 'n1' as NodeId).initialVoters, ['n1', 'n2', 'n3']);
  t.same(raftConfigFor(loaded.value, 'n4' as NodeId).initialVoters, []);

  writeFileSync(
    file,
    `${threeNodes}  - id: n4\n    peer: 127.0.0.1:7104\n    client: 127.0.0.1:7204\n    join: maybe\n`,
  );
  const bad = await loadClusterConfig(file);
  t.match(bad.ok ? '' : bad.error.message, /cluster\.yml:18:11: nodes\[3\]\.join must be true or false/);
  writeFileSync(file, 'nodes:\n  - id: n1\n    peer: 127.0.0.1:7101\n    client: 127.0.0.1:7201\n    join: true\n');
  const nobody = await loadClusterConfig(file);
  t.match(nobody.ok ? '' : nobody.error.message, /at least one node must not have join: true/);
});
