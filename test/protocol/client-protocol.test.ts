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
} from '../../src/protocol/client-protocol.js';
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
  t.equal(
    other.ok ? '' : other.error.message,
    `cluster id "c2" does not match this node's cluster id "c1"`,
    'names both ids plainly',
  );
  const stranger = checkClientHello({ GET: '/' }, 'c1');
  t.equal(stranger.ok ? '' : stranger.error.code, 'BAD_HELLO');
  const version = checkClientHello({ ...clientHello('c1', 'a'), version: 99 }, 'c1');
  t.equal(version.ok ? '' : version.error.code, 'VERSION_MISMATCH');
  const extra = checkClientHello({ ...clientHello('c1', 'a'), x: 1 }, 'c1');
  t.equal(extra.ok ? '' : extra.error.code, 'BAD_HELLO', 'unknown field refused');
  const badFlag = checkClientHello({ ...clientHello('c1', 'a'), redirect: 'yes' }, 'c1');
  t.equal(badFlag.ok ? '' : badFlag.error.code, 'BAD_HELLO');
});

t.test('client hello: credentials', async (t) => {
  const password = checkClientHello(
    roundTrip(clientHello('c1', 'app', { auth: { user: 'alice', password: 'pw' } })),
    'c1',
  );
  t.ok(password.ok && password.value.auth !== undefined && 'user' in password.value.auth, 'user and password');
  const token = checkClientHello(roundTrip(clientHello('', 'app', { auth: { token: 'abc' } })), 'c1');
  t.ok(token.ok && token.value.auth !== undefined && 'token' in token.value.auth, 'a token');
  const refusals: [unknown, RegExp][] = [
    [{ user: 'alice' }, /\$\.auth\.password: missing/],
    [{ user: 'al ice', password: 'pw' }, /\$\.auth\.user: expected a user name/],
    [{ user: 'a'.repeat(129), password: 'pw' }, /\$\.auth\.user/],
    [{ user: 'alice', password: '' }, /\$\.auth\.password: must not be empty/],
    [{ user: 'alice', password: 'é'.repeat(513) }, /\$\.auth\.password: longer than 1024 bytes/],
    [{ user: 'alice', password: 'pw', extra: 1 }, /\$\.auth\.extra: unknown field/],
    [{ token: '' }, /\$\.auth\.token/],
    [{ token: 'x', user: 'alice' }, /\$\.auth\.user: unknown field/],
    ['root', /\$\.auth/],
  ];
  for (const [auth, message] of refusals) {
    const result = checkClientHello({ ...clientHello('c1', 'app'), auth }, 'c1');
    t.ok(!result.ok && result.error.code === 'BAD_HELLO', `${JSON.stringify(auth).slice(0, 40)} refused`);
    t.match(result.ok ? '' : result.error.message, message);
  }
  const secret = checkClientHello(
    { ...clientHello('c1', 'app'), auth: { user: 'alice', password: 's3cret'.repeat(200) } },
    'c1',
  );
  t.notMatch(secret.ok ? '' : secret.error.message, /s3cret/, 'a refusal never echoes the password');
});

t.test('request envelopes and ops', async (t) => {
  t.ok(requestEnvelope({ type: 'Request', id: 3, op: { kind: 'status' } }).ok);
  t.notOk(requestEnvelope({ type: 'Request', id: -1, op: {} }).ok, 'negative id');
  t.notOk(requestEnvelope({ type: 'Response', id: 1, op: {} }).ok, 'wrong type');
  t.notOk(requestEnvelope([1, 2]).ok, 'not a map');
  t.notOk(requestEnvelope({ type: 'Request', id: 1, op: {}, more: 1 }).ok, 'extra field');
  const forwarded = requestEnvelope({ type: 'Request', id: 1, op: {}, as: 'alice' });
  t.ok(forwarded.ok && forwarded.as === 'alice', 'a forwarded request names its principal');
  const plain = requestEnvelope({ type: 'Request', id: 1, op: {} });
  t.ok(plain.ok && plain.as === null, 'others do not');
  t.notOk(requestEnvelope({ type: 'Request', id: 1, op: {}, as: 'not a name' }).ok, 'as must be a user name');
  t.notOk(requestEnvelope({ type: 'Request', id: 1, as: 'alice', more: 1 }).ok, 'op is required');

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
    { kind: 'whoami' },
    { kind: 'read', query: { kind: 'users' } },
    { kind: 'read', query: { kind: 'roles' } },
    { kind: 'admin', action: { type: 'userAdd', user: 'alice', password: null } },
    { kind: 'admin', action: { type: 'userAdd', user: 'a.b@c-d_e', password: 'pw' } },
    { kind: 'admin', action: { type: 'userDelete', user: 'alice' } },
    { kind: 'admin', action: { type: 'userPassword', user: 'alice', password: 'pw' } },
    { kind: 'admin', action: { type: 'userGrantRole', user: 'alice', role: 'jobs' } },
    { kind: 'admin', action: { type: 'userRevokeRole', user: 'alice', role: 'jobs' } },
    { kind: 'admin', action: { type: 'roleAdd', role: 'jobs' } },
    { kind: 'admin', action: { type: 'roleDelete', role: 'jobs' } },
    {
      kind: 'admin',
      action: { type: 'roleGrant', role: 'jobs', permission: { prefix: '', rights: ['lock', 'watch'] } },
    },
    { kind: 'admin', action: { type: 'roleRevoke', role: 'jobs', prefix: 'jobs/' } },
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
    [
      { kind: 'command', command: { type: 'client', clientId: 'c', seq: 0, op: { type: 'openSession', ttlMs: 5000 } } },
      'seq',
    ],
    [{ kind: 'command', command: { type: 'client', clientId: 'c', seq: 1, op: { type: 'nope' } } }, 'command'],
    [
      {
        kind: 'command',
        command: { type: 'client', principal: 'root', clientId: 'c', seq: 1, op: { type: 'openSession', ttlMs: 5000 } },
      },
      'command.principal',
    ],
    [{ kind: 'whoami', who: 'me' }, 'op.who'],
    [{ kind: 'read', query: { kind: 'users', prefix: '' } }, 'op.query.prefix'],
    [{ kind: 'admin', action: { type: 'userAdd', user: 'alice' } }, 'op.action.password'],
    [{ kind: 'admin', action: { type: 'userAdd', user: 'bad name', password: null } }, 'op.action.user'],
    [{ kind: 'admin', action: { type: 'userPassword', user: 'alice', password: null } }, 'op.action.password'],
    [
      { kind: 'admin', action: { type: 'roleGrant', role: 'r', permission: { prefix: 'p', rights: [] } } },
      'op.action.permission.rights',
    ],
    [
      {
        kind: 'admin',
        action: { type: 'roleGrant', role: 'r', permission: { prefix: 'p', rights: ['lock', 'lock'] } },
      },
      'op.action.permission.rights[1]',
    ],
    [
      { kind: 'admin', action: { type: 'roleGrant', role: 'r', permission: { prefix: 'p', rights: ['fly'] } } },
      'op.action.permission.rights[0]',
    ],
    [{ kind: 'admin', action: { type: 'explode' } }, 'op.action.type'],
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
  const granted = { kind: 'granted', session: 1, clientId: 'c', seq: 2, name: 'L', token: 3 };
  t.ok(decodeServerFrame({ type: 'Push', push: granted }).ok);
  t.notOk(decodeServerFrame({ type: 'Push', push: { kind: 'granted' } }).ok, 'a push without its fields is refused');
  t.ok(decodeServerFrame({ type: 'Error', code: 'BAD_HELLO', message: 'x' }).ok);
  t.notOk(decodeServerFrame({ type: 'Response', id: 1, result: { code: 'BUSY' } }).ok);
  t.notOk(decodeServerFrame({ type: 'Welcome' }).ok);
  const welcome = { type: 'Welcome', clusterId: 'c', nodeId: 'n1', leader: null, members: [] };
  const older = decodeServerFrame(welcome);
  t.ok(
    older.ok && older.value.type === 'Welcome' && older.value.principal === null,
    'a Welcome without principal: none',
  );
  const secure = decodeServerFrame({ ...welcome, principal: 'alice', token: 'tok' });
  t.match(secure.ok ? secure.value : null, { principal: 'alice', token: 'tok' }, 'principal and token');
  t.ok(decodeServerFrame({ ...welcome, principal: null }).ok, 'principal null (insecure node)');
  t.notOk(decodeServerFrame({ ...welcome, principal: 'not a name' }).ok);
  t.notOk(decodeServerFrame({ ...welcome, extra: 1 }).ok, 'unknown Welcome fields are refused');
  t.ok(
    decodeServerFrame({ type: 'Error', code: 'UNAUTHENTICATED', message: 'x' }).ok,
    'UNAUTHENTICATED is an error code',
  );
  t.ok(decodeServerFrame({ type: 'Response', id: 1, result: { code: 'PERMISSION_DENIED', message: 'x' } }).ok);
});

t.test('no value of any shape makes a validator throw', async (t) => {
  fc.assert(
    fc.property(fc.anything({ withObjectString: true, withNullPrototype: true }), (value) => {
      validateOp(value, config);
      validateOp({ kind: 'command', command: value }, config);
      validateOp({ kind: 'read', query: value }, config);
      validateOp({ kind: 'admin', action: value }, config);
      checkClientHello({ ...clientHello('c', 'a'), auth: value }, 'c');
      requestEnvelope(value);
      checkClientHello(value, 'c');
      decodeServerFrame(value);
    }),
    { numRuns: 2000 },
  );
  t.pass('validators total');
});
