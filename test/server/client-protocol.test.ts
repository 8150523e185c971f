// Proves the client protocol's door checks (docs/client-protocol.md): hellos are accepted or
// refused with the right code, valid ops pass and invalid ones give a message naming the field,
// a command is accepted exactly when the state machine's own decoder accepts it, and no input
// of any shape makes a validator throw.
import t from 'tap';
import fc from 'fast-check';
import { decodePayload, encodePayload } from '../../src/transport/codec.js';
import {
  checkClientHello,
  clientHello,
  commandPayload,
  decodeServerFrame,
  requestEnvelope,
  validateOp,
} from '../../src/transport/client-protocol.js';
import { defaultLockMachineConfig } from '../../src/statemachine/config.js';
import { decodeCommand } from '../../src/statemachine/commands.js';

const config = defaultLockMachineConfig;

function roundTrip(value: unknown): unknown {
  const decoded = decodePayload(encodePayload(value));
  if (!decoded.ok) throw new Error('round trip failed');
  return decoded.value;
}

t.test('client hello: any cluster, matching cluster, redirect flag, refusals', async (t) => {
  t.ok(checkClientHello(roundTrip(clientHello('', 'app')), 'c1').ok, "'' means any cluster");
  t.ok(checkClientHello(roundTrip(clientHello('c1', 'app')), 'c1').ok);
  const redirect = checkClientHello(roundTrip(clientHello('c1', 'app', { redirect: true })), 'c1');
  t.ok(redirect.ok && redirect.value.redirect === true, 'redirect flag kept');
  const other = checkClientHello(roundTrip(clientHello('c2', 'app')), 'c1');
  t.equal(other.ok ? '' : other.error.code, 'CLUSTER_MISMATCH');
  const stranger = checkClientHello({ GET: '/' }, 'c1');
  t.equal(stranger.ok ? '' : stranger.error.code, 'BAD_HELLO');
  const version = checkClientHello({ ...clientHello('c1', 'a'), version: 99 }, 'c1');
  t.equal(version.ok ? '' : version.error.code, 'VERSION_MISMATCH');
  const extra = checkClientHello({ ...clientHello('c1', 'a'), x: 1 }, 'c1');
  t.equal(extra.ok ? '' : extra.error.code, 'BAD_HELLO', 'unknown field refused');
  const badFlag = checkClientHello({ ...clientHello('c1', 'a'), redirect: 'yes' }, 'c1');
  t.equal(badFlag.ok ? '' : badFlag.error.code, 'BAD_HELLO');
});

t.test('request envelopes and ops', async (t) => {
  t.ok(requestEnvelope({ type: 'Request', id: 3, op: { kind: 'status' } }).ok);
  t.notOk(requestEnvelope({ type: 'Request', id: -1, op: {} }).ok, 'negative id');
  t.notOk(requestEnvelope({ type: 'Response', id: 1, op: {} }).ok, 'wrong type');
  t.notOk(requestEnvelope([1, 2]).ok, 'not a map');
  t.notOk(requestEnvelope({ type: 'Request', id: 1, op: {}, more: 1 }).ok, 'extra field');

  const good: unknown[] = [
    { kind: 'status' },
    { kind: 'snapshot' },
    { kind: 'keepAlive', session: 4, clientId: 'c' },
    { kind: 'read', query: { kind: 'get', key: 'k' } },
    { kind: 'read', query: { kind: 'locks', prefix: '', limit: 10 } },
    { kind: 'read', query: { kind: 'checkFence', lock: 'l', token: 9 } },
    { kind: 'watch', prefix: 'a/', fromIndex: 0 },
    { kind: 'unwatch', watchId: 1 },
    { kind: 'members', action: 'list' },
    { kind: 'members', action: 'addLearner', node: 'n4' },
    { kind: 'transferLeader', to: 'n2' },
    {
      kind: 'command',
      command: { type: 'client', clientId: 'c', seq: 1, op: { type: 'openSession', ttlMs: 5000 } },
    },
  ];
  for (const op of good) t.ok(validateOp(roundTrip(op), config).ok, JSON.stringify(op));

  const bad: [unknown, string][] = [
    [{ kind: 'nope' }, 'op.kind'],
    [{ kind: 'status', extra: 1 }, 'op.extra'],
    [{ kind: 'members', action: 'remove' }, 'op.node'],
    [{ kind: 'members', action: 'explode', node: 'n1' }, 'op.action'],
    [{ kind: 'read', query: { kind: 'locks', prefix: '', limit: 1e9 } }, 'op.query.limit'],
    [{ kind: 'keepAlive', session: 0, clientId: 'c' }, 'op.session'],
    [{ kind: 'command', command: { type: 'keepAliveBatch', sessions: [] } }, 'only client'],
    [{ kind: 'command', command: { type: 'client', clientId: 'c', seq: 0, op: { type: 'openSession', ttlMs: 5000 } } }, 'seq'],
    [{ kind: 'command', command: { type: 'client', clientId: 'c', seq: 1, op: { type: 'nope' } } }, 'command'],
  ];
  for (const [op, where] of bad) {
    const result = validateOp(roundTrip(op), config);
    t.ok(!result.ok && result.error.includes(where), `${JSON.stringify(op)} → ${where}`);
  }
});

t.test('accepted commands re-encode to bytes the state machine decodes identically', async (t) => {
  const op = {
    kind: 'command',
    command: {
      type: 'client',
      clientId: 'c',
      seq: 7,
      op: { type: 'acquire', session: 3, name: 'l', waitMs: 10, lockDelayMs: 0 },
    },
  };
  const result = validateOp(roundTrip(op), config);
  t.ok(result.ok);
  if (!result.ok || result.value.kind !== 'command') return;
  const again = decodeCommand(commandPayload(result.value.command), config);
  t.same(again.ok ? again.value : null, result.value.command);
});

t.test('server frames: envelopes checked, errors recognised', async (t) => {
  t.ok(decodeServerFrame({ type: 'Welcome', clusterId: 'c', nodeId: 'n1', leader: null, members: [] }).ok);
  t.ok(decodeServerFrame({ type: 'Response', id: 1, result: { code: 'OK', value: { kind: 'accepted' } } }).ok);
  t.ok(decodeServerFrame({ type: 'Push', push: { kind: 'granted' } }).ok);
  t.ok(decodeServerFrame({ type: 'Error', code: 'BAD_HELLO', message: 'x' }).ok);
  t.notOk(decodeServerFrame({ type: 'Response', id: 1, result: { code: 'BUSY' } }).ok);
  t.notOk(decodeServerFrame({ type: 'Welcome' }).ok);
});

t.test('no value of any shape makes a validator throw', async (t) => {
  fc.assert(
    fc.property(fc.anything({ withObjectString: true, withNullPrototype: true }), (value) => {
      validateOp(value, config);
      validateOp({ kind: 'command', command: value }, config);
      validateOp({ kind: 'read', query: value }, config);
      requestEnvelope(value);
      checkClientHello(value, 'c');
      decodeServerFrame(value);
    }),
    { numRuns: 2000 },
  );
  t.pass('validators total');
});
