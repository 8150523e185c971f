// Users, roles and permissions in the replicated state machine (docs/statemachine.md, "Users,
// roles and permissions"; docs/security.md): the wire forms 3 and 4, the permission each
// operation needs, prefix semantics, session ownership with the admin override and its `revoked`
// push (before any grant of the same entry), exactly-once for refusals, client ids bound to their
// principal, admin commands and the protected built-ins, the queries the node edge uses, and the
// snapshot's auth store. Every entry goes through the Driver, which checks every invariant.
import { isDeepStrictEqual } from 'node:util';
import t from 'tap';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import type { AuthStore } from '../../src/statemachine/auth-store.js';
import { createAuthStore } from '../../src/statemachine/auth-store.js';
import type { AdminCommand, Permission, Right } from '../../src/statemachine/auth-types.js';
import { allRights } from '../../src/statemachine/auth-types.js';
import { adminCommandOf, passwordOf } from '../../src/statemachine/admin-action.js';
import {
  describeDenial,
  isAdmin,
  mayActOnSession,
  mayUse,
  mayWatch,
  userExists,
} from '../../src/statemachine/authorize.js';
import type { Command, Operation } from '../../src/statemachine/commands.js';
import { decodeCommand, encodeCommand, stampPrincipal } from '../../src/statemachine/commands.js';
import { defaultLockMachineConfig } from '../../src/statemachine/config.js';
import type { SessionId } from '../../src/statemachine/ids.js';
import { sessionId } from '../../src/statemachine/ids.js';
import { checkInvariants } from '../../src/statemachine/invariants.js';
import { LockStateMachine } from '../../src/statemachine/machine.js';
import {
  authRevision,
  listRoles,
  listUsers,
  passwordHashOf,
  sessionInfo,
  sessionOwner,
  whoami,
} from '../../src/statemachine/queries.js';
import type { LogIndex, Term } from '../../src/raft/types.js';
import { Driver, tokenOf } from './fixtures/driver.js';
import { assertHolderToldFirst, releaseAnothersHold } from './fixtures/release-by-another.js';
import { Replicas } from './fixtures/replicas.js';
import { acquire, kinds, release } from './fixtures/ops.js';

const packr = new Packr({ useRecords: false });
const config = defaultLockMachineConfig;
const hash = (tag: string): string => `scrypt$16384$8$1$c2FsdA==$${tag}`;
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

function put(session: SessionId, key: string, fence: { lock: string; token: number } | null = null): Operation {
  return { type: 'put', session, key, value: bytes('v'), ifVersion: null, ephemeral: false, fence };
}

/** A driver with users alice and bob, a role per grant given, and carol holding admin. */
function withUsers(grants: Readonly<Record<string, readonly Permission[]>> = {}): Driver {
  const d = new Driver();
  for (const user of ['alice', 'bob', 'carol']) ok(d.admin('root', { type: 'userAdd', user, passwordHash: null }));
  ok(d.admin('root', { type: 'userGrantRole', user: 'carol', role: 'admin' }));
  for (const [user, permissions] of Object.entries(grants)) {
    const role = `${user}-role`;
    ok(d.admin('root', { type: 'roleAdd', role }));
    for (const permission of permissions) ok(d.admin('root', { type: 'roleGrant', role, permission }));
    ok(d.admin('root', { type: 'userGrantRole', user, role }));
  }
  return d;
}

function ok(result: { readonly code: string }): void {
  if (result.code !== 'OK') throw new Error(`expected OK, got ${JSON.stringify(result)}`);
}

// ---- wire forms ----

const nameArb = fc.stringMatching(/^[A-Za-z0-9._@-]{1,20}$/);
const textArb = fc
  .string({ minLength: 1, maxLength: 12 })
  .filter((s) => !s.includes('\ufffd') && !/[\ud800-\udfff]/.test(s));
const prefixArb = fc.oneof(fc.constant(''), textArb);
const rightsArb = fc
  .subarray([...allRights], { minLength: 1 })
  .chain((rights) => fc.shuffledSubarray(rights, { minLength: rights.length }));
const hashArb = fc.stringMatching(/^[A-Za-z0-9+/=$]{1,40}$/).map((tail) => `scrypt$${tail}`);
const sessionArb = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }).map(sessionId);
const smallInt = fc.integer({ min: 0, max: 1_000 });

const adminArb: fc.Arbitrary<AdminCommand> = fc.oneof(
  fc.record({ type: fc.constant('userAdd' as const), user: nameArb, passwordHash: fc.option(hashArb, { nil: null }) }),
  fc.record({ type: fc.constant('userDelete' as const), user: nameArb }),
  fc.record({ type: fc.constant('userPassword' as const), user: nameArb, passwordHash: hashArb }),
  fc.record({ type: fc.constant('userGrantRole' as const), user: nameArb, role: nameArb }),
  fc.record({ type: fc.constant('userRevokeRole' as const), user: nameArb, role: nameArb }),
  fc.record({ type: fc.constant('roleAdd' as const), role: nameArb }),
  fc.record({ type: fc.constant('roleDelete' as const), role: nameArb }),
  fc.record({
    type: fc.constant('roleGrant' as const),
    role: nameArb,
    permission: fc.record({ prefix: prefixArb, rights: rightsArb }),
  }),
  fc.record({ type: fc.constant('roleRevoke' as const), role: nameArb, prefix: prefixArb }),
);

// The fields every operation on a session's named lock carries, and those of the ones that may wait.
const onLock = { session: sessionArb, name: textArb };
const mayWait = { waitMs: smallInt, lockDelayMs: smallInt };

const opArb: fc.Arbitrary<Operation> = fc.oneof(
  fc.record({ type: fc.constant('openSession' as const), ttlMs: fc.integer({ min: 1_000, max: 86_400_000 }) }),
  fc.record({ type: fc.constant('keepAlive' as const), session: sessionArb }),
  fc.record({ type: fc.constant('closeSession' as const), session: sessionArb }),
  fc.record({ type: fc.constant('acquire' as const), ...onLock, ...mayWait }),
  fc.record({
    type: fc.constant('acquireSemaphore' as const),
    ...onLock,
    permits: fc.integer({ min: 1, max: 9 }),
    ...mayWait,
  }),
  fc.record({
    type: fc.constant('acquireRw' as const),
    ...onLock,
    mode: fc.constantFrom('read' as const, 'write' as const),
    ...mayWait,
  }),
  fc.record({ type: fc.constant('release' as const), ...onLock }),
  fc.record({ type: fc.constant('campaign' as const), ...onLock, value: fc.uint8Array({ maxLength: 8 }), ...mayWait }),
  fc.record({ type: fc.constant('resign' as const), ...onLock }),
  fc.record({ type: fc.constant('proclaim' as const), ...onLock, value: fc.uint8Array({ maxLength: 8 }) }),
  fc.record({
    type: fc.constant('put' as const),
    session: sessionArb,
    key: textArb,
    value: fc.uint8Array({ maxLength: 8 }),
    ifVersion: fc.option(smallInt, { nil: null }),
    ephemeral: fc.boolean(),
    fence: fc.option(fc.record({ lock: textArb, token: smallInt }), { nil: null }),
  }),
  fc.record({
    type: fc.constant('delete' as const),
    session: sessionArb,
    key: textArb,
    ifVersion: fc.option(smallInt, { nil: null }),
    fence: fc.option(fc.record({ lock: textArb, token: smallInt }), { nil: null }),
  }),
);

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  fc.record({ type: fc.constant('keepAliveBatch' as const), sessions: fc.array(sessionArb, { maxLength: 5 }) }),
  fc.record({
    type: fc.constant('client' as const),
    clientId: textArb,
    seq: fc.integer({ min: 1, max: 1e9 }),
    op: opArb,
  }),
  fc.record({
    type: fc.constant('client' as const),
    principal: nameArb,
    clientId: textArb,
    seq: fc.integer({ min: 1, max: 1e9 }),
    op: opArb,
  }),
  fc.record({ type: fc.constant('admin' as const), principal: fc.option(nameArb, { nil: null }), action: adminArb }),
);

/** Decoded values hold plain Uint8Arrays; compare them as bytes. */
function sameCommand(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(JSON.parse(JSON.stringify(a, bin)), JSON.parse(JSON.stringify(b, bin)));
}

function bin(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? [...value] : value;
}

t.test('wire forms', async (t) => {
  t.test('every command form round-trips: decode(encode(c)) = c, and encode is stable', async (t) => {
    fc.assert(
      fc.property(commandArb, (command) => {
        const encoded = encodeCommand(command);
        const decoded = decodeCommand(encoded, config);
        if (!decoded.ok) throw new Error(`${decoded.error} for ${JSON.stringify(command, bin)}`);
        return (
          sameCommand(decoded.value, command) && Buffer.from(encodeCommand(decoded.value)).equals(Buffer.from(encoded))
        );
      }),
      { numRuns: 3_000 },
    );
    t.pass('3000 commands round-trip');
  });

  t.test('form 2 (no principal) is byte-identical to the format before principals', async (t) => {
    const op: Operation = { type: 'acquire', session: sessionId(7), name: 'L', waitMs: 5, lockDelayMs: 0 };
    t.same(
      Buffer.from(encodeCommand({ type: 'client', clientId: 'c', seq: 3, op })),
      Buffer.from(packr.pack([2, 'c', 3, 3, 7, 'L', 5, 0])),
    );
    t.same(
      Buffer.from(encodeCommand({ type: 'client', principal: 'alice', clientId: 'c', seq: 3, op })),
      Buffer.from(packr.pack([3, 'alice', 'c', 3, 3, 7, 'L', 5, 0])),
    );
    const admin = encodeCommand({
      type: 'admin',
      principal: null,
      action: { type: 'roleGrant', role: 'r', permission: { prefix: 'p/', rights: ['write', 'lock'] } },
    });
    t.same(Buffer.from(admin), Buffer.from(packr.pack([4, null, 7, 'r', 'p/', ['write', 'lock']])));
  });

  t.test('stampPrincipal replaces whatever principal the command carried', async (t) => {
    const op: Operation = { type: 'keepAlive', session: sessionId(1) };
    const forged = { type: 'client', principal: 'root', clientId: 'c', seq: 1, op } as const;
    t.same(stampPrincipal(forged, 'alice'), { type: 'client', principal: 'alice', clientId: 'c', seq: 1, op });
    t.same(stampPrincipal(forged, null), { type: 'client', clientId: 'c', seq: 1, op });
    t.notOk('principal' in stampPrincipal(forged, null));
  });

  t.test('bad principals, names, prefixes, rights and hashes are INVALID_ARGUMENT with a message', async (t) => {
    const d = new Driver();
    const cases: readonly { readonly fields: unknown[]; readonly message: RegExp }[] = [
      { fields: [3, '', 'c', 1, 0, 5_000], message: /^principal must not be empty$/ },
      { fields: [3, 'a'.repeat(129), 'c', 1, 0, 5_000], message: /principal is 129 bytes, more than 128/ },
      {
        fields: [3, 'al ice', 'c', 1, 0, 5_000],
        message: /principal "al ice" may only hold letters, digits and \. _ @ -/,
      },
      { fields: [3, 'é', 'c', 1, 0, 5_000], message: /may only hold/ },
      { fields: [3, 7, 'c', 1, 0, 5_000], message: /principal must be a string, got of type number/ },
      { fields: [3, 'alice', 'c', 1], message: /needs principal, clientId, seq and an op code/ },
      { fields: [3, 'alice', 'c', 1, 3, 1, 'L', 0], message: /acquire takes 4 operands, got 3/ },
      { fields: [4, 'alice'], message: /needs a principal \(or null\) and an action code/ },
      { fields: [4, null, 99], message: /unknown admin action code/ },
      { fields: [4, null, 0, 'bob'], message: /userAdd takes 2 operands, got 1/ },
      { fields: [4, null, 0, 'bob', 'plain'], message: /passwordHash must start with scrypt\$/ },
      { fields: [4, null, 0, 'bob', `scrypt$${'x'.repeat(600)}`], message: /more than 512/ },
      { fields: [4, null, 0, 'bob', 'scrypt$ä'], message: /printable ASCII/ },
      { fields: [4, null, 2, 'bob', null], message: /passwordHash must be a string/ },
      { fields: [4, null, 5, 'a/b'], message: /role "a\/b" may only hold/ },
      { fields: [4, null, 7, 'r', 'p', []], message: /rights must name at least one right/ },
      { fields: [4, null, 7, 'r', 'p', ['lock', 'lock']], message: /rights names lock twice/ },
      { fields: [4, null, 7, 'r', 'p', ['admin']], message: /unknown right "admin"/ },
      { fields: [4, null, 7, 'r', 'p', 'lock'], message: /rights must be an array/ },
      { fields: [4, null, 7, 'r', 'x'.repeat(513), ['lock']], message: /prefix is 513 bytes, more than 512/ },
      { fields: [4, null, 8, 'r', 'x\ud800'], message: /prefix is not valid UTF-8/ },
      { fields: [4, null, 8, 'r', 5], message: /prefix must be a string/ },
    ];
    for (const c of cases) {
      const output = d.applyBytes(packr.pack(c.fields));
      t.equal(output.result.code, 'INVALID_ARGUMENT', JSON.stringify(c.fields).slice(0, 60));
      t.match(output.result, { message: c.message }, JSON.stringify(c.fields).slice(0, 60));
    }
    t.equal(authRevision(d.state), 0, 'nothing changed');
  });

  t.test('apply never throws on mutated forms 3 and 4', async (t) => {
    const machine = new LockStateMachine();
    let index = 0;
    const apply = (payload: Uint8Array) =>
      machine.apply({ index: ++index as LogIndex, term: 1 as Term, logTimeMs: index, payload });
    apply(
      encodeCommand({ type: 'admin', principal: null, action: { type: 'userAdd', user: 'x', passwordHash: null } }),
    );
    apply(
      encodeCommand({
        type: 'client',
        principal: 'x',
        clientId: 'x',
        seq: 1,
        op: { type: 'openSession', ttlMs: 86_400_000 },
      }),
    );
    const mutated = fc
      .record({ command: commandArb, position: fc.nat({ max: 12 }), value: fc.anything(), cut: fc.boolean() })
      .map(({ command, position, value, cut }) => {
        const fields = packr.unpack(encodeCommand(command)) as unknown[];
        if (cut) fields.length = Math.min(fields.length, position);
        else fields[Math.min(position, fields.length)] = value;
        return packr.pack(fields) as Uint8Array;
      });
    fc.assert(
      fc.property(fc.oneof(mutated, fc.uint8Array({ minLength: 1, maxLength: 48 })), (payload) => {
        const output = apply(payload);
        return typeof output.result.code === 'string' && checkInvariants(machine.state).length === 0;
      }),
      { numRuns: 3_000 },
    );
    t.pass('3000 hostile payloads applied without an exception');
  });
});

// ---- authorization rules ----

t.test('prefix semantics: a permission covers every name its prefix starts', async (t) => {
  const auth: AuthStore = createAuthStore();
  auth.users.set('alice', { passwordHash: null, roles: new Set(['r', 'everything-read']) });
  auth.roles.set('r', [{ prefix: 'jobs/', rights: ['lock', 'watch'] }]);
  auth.roles.set('everything-read', [{ prefix: '', rights: ['read'] }]);
  const cases: readonly [Right, string, boolean][] = [
    ['lock', 'jobs/a', true],
    ['lock', 'jobs/', true],
    ['lock', 'jobs', false],
    ['lock', 'jobsX', false],
    ['lock', 'Jobs/a', false],
    ['write', 'jobs/a', false],
    ['read', 'anything', true],
    ['read', '', true],
    ['watch', 'jobs/a/b', true],
  ];
  for (const [right, name, expected] of cases)
    t.equal(mayUse(auth, 'alice', right, name), expected, `${right} ${name}`);
  t.ok(mayWatch(auth, 'alice', 'jobs/'), 'the permission prefix itself');
  t.ok(mayWatch(auth, 'alice', 'jobs/a/'), 'a longer prefix');
  t.notOk(mayWatch(auth, 'alice', 'jobs'), 'a shorter prefix would also see jobsX');
  t.notOk(mayWatch(auth, 'alice', ''), 'everything is more than jobs/');
  t.notOk(mayUse(auth, 'mallory', 'read', 'x'), 'an unknown user may do nothing');
  t.ok(mayUse(auth, null, 'write', 'x'), 'insecure mode is unrestricted');
  t.ok(mayUse(auth, 'root', 'write', 'x'), 'root may do everything');
  t.ok(isAdmin(auth, null) && isAdmin(auth, 'root') && !isAdmin(auth, 'alice') && !isAdmin(auth, 'mallory'));
  t.ok(userExists(auth, 'root') && userExists(auth, 'alice') && !userExists(auth, 'mallory'));
  t.ok(
    mayActOnSession(auth, 'alice', 'alice') &&
      !mayActOnSession(auth, 'alice', 'bob') &&
      mayActOnSession(auth, 'root', 'bob'),
  );
  t.notOk(mayActOnSession(auth, 'alice', null), 'a session opened without authentication is not alice’s');
  t.equal(describeDenial('alice', 'lock', 'jobs/a'), 'alice may not lock "jobs/a" (needs lock on a prefix of it)');
});

t.test('each operation needs its right: lock ops lock, put/delete write, session ops nothing', async (t) => {
  const d = withUsers({
    alice: [{ prefix: 'ok/', rights: ['lock', 'write'] }],
    bob: [{ prefix: '', rights: ['read', 'watch'] }],
  });
  const a = d.openAs('alice', 'a');
  const b = d.openAs('bob', 'b');
  t.equal(d.opAs('alice', 'a', { type: 'keepAlive', session: a }).result.code, 'OK', 'keepAlive needs no right');
  const ops = (s: SessionId, prefix: string): readonly [string, Operation, Right][] => [
    ['acquire', acquire(s, `${prefix}m`), 'lock'],
    [
      'acquireSemaphore',
      { type: 'acquireSemaphore', session: s, name: `${prefix}s`, permits: 2, waitMs: 0, lockDelayMs: 0 },
      'lock',
    ],
    [
      'acquireRw',
      { type: 'acquireRw', session: s, name: `${prefix}r`, mode: 'write', waitMs: 0, lockDelayMs: 0 },
      'lock',
    ],
    [
      'campaign',
      { type: 'campaign', session: s, name: `${prefix}e`, value: bytes('x'), waitMs: 0, lockDelayMs: 0 },
      'lock',
    ],
    ['proclaim', { type: 'proclaim', session: s, name: `${prefix}e`, value: bytes('y') }, 'lock'],
    ['resign', { type: 'resign', session: s, name: `${prefix}e` }, 'lock'],
    ['release', release(s, `${prefix}m`), 'lock'],
    ['put', put(s, `${prefix}k`), 'write'],
    ['delete', { type: 'delete', session: s, key: `${prefix}k`, ifVersion: null, fence: null }, 'write'],
  ];
  for (const [what, op] of ops(a, 'ok/'))
    t.equal(d.opAs('alice', 'a', op).result.code, 'OK', `alice ${what} under ok/`);
  for (const [what, op, right] of ops(a, 'no/')) {
    const result = d.opAs('alice', 'a', op).result;
    const name = 'name' in op ? op.name : 'key' in op ? op.key : '';
    t.same(
      result,
      {
        code: 'PERMISSION_DENIED',
        message: `alice may not ${right} ${JSON.stringify(name)} (needs ${right} on a prefix of it)`,
      },
      `alice ${what} under no/`,
    );
  }
  for (const [what, op] of ops(b, 'ok/'))
    t.equal(d.opAs('bob', 'b', op).result.code, 'PERMISSION_DENIED', `bob (read, watch) ${what}`);
  const names = [...d.state.locks.keys(), ...d.state.keys.keys()];
  t.notOk(
    names.some((name) => name.startsWith('no/')),
    'nothing refused took effect',
  );
  t.equal(d.state.sessions.get(b)?.holds.size, 0);
  const token = tokenOf(d.opAs('alice', 'a', acquire(a, 'ok/m')).result);
  t.equal(
    d.opAs('alice', 'a', put(a, 'ok/k', { lock: 'ok/m', token })).result.code,
    'OK',
    'a fence needs nothing beyond the write',
  );
  t.equal(d.opAs('alice', 'a', { type: 'closeSession', session: a }).result.code, 'OK', 'closeSession needs no right');
  t.equal(d.op('anyone', acquire(b, 'x')).code, 'OK', 'without a principal (insecure mode) nothing is checked');
});

t.test(
  'a session belongs to its opener: others are refused, an admin may act and the holder is told first',
  async (t) => {
    t.test('another user may not use, release or close the session', async (t) => {
      const d = withUsers({
        alice: [{ prefix: '', rights: ['lock', 'write'] }],
        bob: [{ prefix: '', rights: ['lock', 'write'] }],
      });
      const a = d.openAs('alice', 'a');
      t.equal(sessionOwner(d.state, a), 'alice');
      t.equal(sessionInfo(d.state, a)?.owner, 'alice');
      tokenOf(d.opAs('alice', 'a', acquire(a, 'L')).result);
      const refusals: readonly Operation[] = [
        acquire(a, 'M'),
        release(a, 'L'),
        put(a, 'k'),
        { type: 'keepAlive', session: a },
        { type: 'closeSession', session: a },
      ];
      for (const op of refusals) {
        t.same(
          d.opAs('bob', 'b', op).result,
          {
            code: 'PERMISSION_DENIED',
            message: `bob may not use session ${a} (owned by alice; only its owner or an admin may)`,
          },
          op.type,
        );
      }
      t.ok(d.state.sessions.has(a) && d.state.locks.get('L')?.holders.has(a), 'alice still holds L');
      const anonymous = d.open('anon');
      t.match(d.opAs('bob', 'b2', acquire(anonymous, 'N')).result, {
        code: 'PERMISSION_DENIED',
        message: /opened without authentication/,
      });
    });

    t.test('an admin releases another owner’s hold: revoked is pushed before the next grant', async (t) => {
      const d = withUsers({ alice: [{ prefix: '', rights: ['lock'] }], bob: [{ prefix: '', rights: ['lock'] }] });
      const released = releaseAnothersHold(d, {
        holder: 'alice',
        waiter: 'bob',
        releaser: 'carol',
        releaserClient: 'c',
      });
      const { b, waiting, out } = released;
      t.match(waiting, { code: 'OK', value: { kind: 'queued' } });
      t.same(out.result, { code: 'OK', value: { kind: 'released', name: 'L' } });
      assertHolderToldFirst(t, released);
      t.ok(d.state.locks.get('L')?.holders.has(b), 'bob was granted');
      // Breaking check: with the revocation pushed after promote, 'revoked' would follow 'granted'.
      const own = d.opAs('bob', 'b', release(b, 'L'));
      t.same(kinds(own.notifications), ['event:release'], 'releasing one’s own hold revokes nothing');
    });

    t.test('an admin ends another owner’s leadership with resign: the leader is told first', async (t) => {
      const d = withUsers({ alice: [{ prefix: '', rights: ['lock'] }], bob: [{ prefix: '', rights: ['lock'] }] });
      const a = d.openAs('alice', 'a');
      const b = d.openAs('bob', 'b');
      tokenOf(
        d.opAs('alice', 'a', { type: 'campaign', session: a, name: 'E', value: bytes('a'), waitMs: 0, lockDelayMs: 0 })
          .result,
      );
      d.opAs('bob', 'b', { type: 'campaign', session: b, name: 'E', value: bytes('b'), waitMs: 5_000, lockDelayMs: 0 });
      const out = d.opAs('root', 'r', { type: 'resign', session: a, name: 'E' });
      t.same(kinds(out.notifications), ['revoked', 'event:release', 'event:leader', 'granted']);
      t.match(out.notifications[0], { kind: 'revoked', by: 'root', reason: 'released', name: 'E' });
    });

    t.test('an admin closes another owner’s session: one revoked per hold, all before the grants', async (t) => {
      const d = withUsers({
        alice: [{ prefix: '', rights: ['lock', 'write'] }],
        bob: [{ prefix: '', rights: ['lock'] }],
      });
      const a = d.openAs('alice', 'a');
      const b = d.openAs('bob', 'b');
      const token1 = tokenOf(d.opAs('alice', 'a', acquire(a, 'L1')).result);
      const token2 = tokenOf(d.opAs('alice', 'a', acquire(a, 'L2')).result);
      d.opAs('bob', 'b', acquire(b, 'L1', 5_000));
      d.opAs('bob', 'b', acquire(b, 'L2', 5_000));
      const out = d.opAs('carol', 'c', { type: 'closeSession', session: a });
      t.same(out.result, { code: 'OK', value: { kind: 'closed', session: a } });
      const ks = kinds(out.notifications);
      t.same(
        ks.filter((k) => k === 'revoked' || k === 'granted'),
        ['revoked', 'revoked', 'granted', 'granted'],
      );
      t.same(
        out.notifications.filter((n) => n.kind === 'revoked'),
        [
          ['L1', token1],
          ['L2', token2],
        ].map(([name, token]) => ({
          kind: 'revoked',
          session: a,
          clientId: 'a',
          name,
          token,
          by: 'carol',
          reason: 'session-closed',
        })),
      );
      t.notOk(d.state.sessions.has(a));
      const own = d.opAs('bob', 'b', { type: 'closeSession', session: b });
      t.notOk(kinds(own.notifications).includes('revoked'), 'closing one’s own session revokes nothing');
    });

    t.test('a deleted user keeps its sessions (they expire) but may do nothing more', async (t) => {
      const d = withUsers({ alice: [{ prefix: '', rights: ['lock'] }] });
      const a = d.openAs('alice', 'a', 2_000);
      tokenOf(d.opAs('alice', 'a', acquire(a, 'L')).result);
      ok(d.admin('root', { type: 'userDelete', user: 'alice' }));
      t.ok(d.state.sessions.has(a), 'deleting a user ends nothing by itself');
      t.same(d.opAs('alice', 'a', { type: 'keepAlive', session: a }).result, {
        code: 'PERMISSION_DENIED',
        message: 'user "alice" does not exist',
      });
      t.same(d.opAs('alice', 'a2', { type: 'openSession', ttlMs: 5_000 }).result, {
        code: 'PERMISSION_DENIED',
        message: 'user "alice" does not exist',
      });
      t.notOk(d.state.clients.has('a2'), 'a refused openSession has no session to bind an entry to');
      d.tick(2_001);
      t.notOk(d.state.sessions.has(a), 'the session expired as usual');
    });
  },
);

t.test('exactly once: a refusal is recorded like any result, and a client id belongs to its principal', async (t) => {
  t.test('a retried seq gets the same refusal even after the right is granted', async (t) => {
    const d = withUsers();
    const b = d.openAs('bob', 'b');
    const denied = d.opAs('bob', 'b', acquire(b, 'L')).result;
    t.equal(denied.code, 'PERMISSION_DENIED');
    t.same(d.state.clients.get('b')?.result, denied);
    ok(d.admin('root', { type: 'roleAdd', role: 'locker' }));
    ok(d.admin('root', { type: 'roleGrant', role: 'locker', permission: { prefix: '', rights: ['lock'] } }));
    ok(d.admin('root', { type: 'userGrantRole', user: 'bob', role: 'locker' }));
    t.same(d.retryAs('bob', 'b', acquire(b, 'L')), denied, 'the retry is answered from the table');
    t.equal(d.state.locks.size, 0, 'and did not run');
    t.equal(d.opAs('bob', 'b', acquire(b, 'L')).result.code, 'OK', 'the next seq runs');
  });

  t.test('another principal using the same client id is refused and changes nothing', async (t) => {
    const d = withUsers({ alice: [{ prefix: '', rights: ['lock'] }], bob: [{ prefix: '', rights: ['lock'] }] });
    const a = d.openAs('alice', 'shared');
    const first = d.opAs('alice', 'shared', acquire(a, 'L')).result;
    const entry = { ...d.state.clients.get('shared') };
    const seq = entry.seq ?? 0;
    const foreign = d.command({
      type: 'client',
      principal: 'bob',
      clientId: 'shared',
      seq,
      op: acquire(a, 'L'),
    }).result;
    t.same(
      foreign,
      { code: 'PERMISSION_DENIED', message: 'client id "shared" is in use by another principal' },
      'not the cached result',
    );
    const next = d.command({
      type: 'client',
      principal: 'bob',
      clientId: 'shared',
      seq: seq + 1,
      op: { type: 'openSession', ttlMs: 5_000 },
    }).result;
    t.equal(next.code, 'PERMISSION_DENIED', 'nor a new seq');
    t.same(d.state.clients.get('shared'), entry);
    t.equal(entry.principal, 'alice');
    t.same(d.retryAs('alice', 'shared', acquire(a, 'L')), first, 'alice’s retry still gets her result');
    t.equal(
      d.command({ type: 'client', clientId: 'shared', seq, op: acquire(a, 'L') }).result.code,
      'PERMISSION_DENIED',
      'nor a command without principal',
    );
  });
});

t.test('admin commands', async (t) => {
  t.test('only admins manage users and roles; a user may set its own password', async (t) => {
    const d = withUsers();
    const revision = authRevision(d.state);
    t.same(d.admin('alice', { type: 'roleAdd', role: 'r' }), {
      code: 'PERMISSION_DENIED',
      message: 'alice may not roleAdd (needs the admin role)',
    });
    t.same(d.admin('alice', { type: 'userGrantRole', user: 'alice', role: 'admin' }).code, 'PERMISSION_DENIED');
    t.same(d.admin('alice', { type: 'userPassword', user: 'bob', passwordHash: hash('b') }).code, 'PERMISSION_DENIED');
    t.same(d.admin('mallory', { type: 'userPassword', user: 'mallory', passwordHash: hash('m') }), {
      code: 'PERMISSION_DENIED',
      message: 'user "mallory" does not exist',
    });
    t.equal(authRevision(d.state), revision, 'refusals change nothing');
    t.same(d.admin('alice', { type: 'userPassword', user: 'alice', passwordHash: hash('a') }), {
      code: 'OK',
      value: { kind: 'admin', done: 'userPassword' },
    });
    t.equal(passwordHashOf(d.state, 'alice'), hash('a'));
    t.equal(authRevision(d.state), d.index, 'the revision is the index of the last change');
    t.equal(d.admin('carol', { type: 'roleAdd', role: 'r' }).code, 'OK', 'a user holding admin is an admin');
    t.equal(d.admin(null, { type: 'roleAdd', role: 'r2' }).code, 'OK', 'insecure mode is unrestricted');
    t.equal(
      d.admin('root', { type: 'userPassword', user: 'root', passwordHash: hash('r') }).code,
      'OK',
      'root may have a password',
    );
  });

  t.test('root and admin are protected; unknown names and duplicates are INVALID_ARGUMENT', async (t) => {
    const d = withUsers();
    const cases: readonly [AdminCommand, RegExp][] = [
      [{ type: 'userDelete', user: 'root' }, /root is built in and cannot be deleted/],
      [{ type: 'userRevokeRole', user: 'root', role: 'admin' }, /root always holds admin/],
      [{ type: 'roleDelete', role: 'admin' }, /admin is built in and cannot be changed or deleted/],
      [{ type: 'roleGrant', role: 'admin', permission: { prefix: 'x', rights: ['read'] } }, /admin is built in/],
      [{ type: 'roleRevoke', role: 'admin', prefix: '' }, /admin is built in/],
      [{ type: 'userAdd', user: 'root', passwordHash: null }, /user "root" already exists/],
      [{ type: 'userAdd', user: 'alice', passwordHash: null }, /user "alice" already exists/],
      [{ type: 'roleAdd', role: 'admin' }, /role "admin" already exists/],
      [{ type: 'userDelete', user: 'nobody' }, /user "nobody" does not exist/],
      [{ type: 'userPassword', user: 'nobody', passwordHash: hash('x') }, /user "nobody" does not exist/],
      [{ type: 'userGrantRole', user: 'alice', role: 'nothing' }, /role "nothing" does not exist/],
      [{ type: 'userGrantRole', user: 'nobody', role: 'admin' }, /user "nobody" does not exist/],
      [{ type: 'userRevokeRole', user: 'alice', role: 'admin' }, /alice does not hold role admin/],
      [{ type: 'roleDelete', role: 'nothing' }, /role "nothing" does not exist/],
      [
        { type: 'roleGrant', role: 'nothing', permission: { prefix: '', rights: ['read'] } },
        /role "nothing" does not exist/,
      ],
      [{ type: 'roleRevoke', role: 'nothing', prefix: '' }, /role "nothing" does not exist/],
    ];
    const revision = authRevision(d.state);
    for (const [action, message] of cases) {
      const result = d.admin('root', action);
      t.equal(result.code, 'INVALID_ARGUMENT', action.type);
      t.match(result, { message }, action.type);
    }
    t.equal(authRevision(d.state), revision, 'refusals change nothing');
    ok(d.admin('root', { type: 'roleAdd', role: 'r' }));
    t.match(d.admin('root', { type: 'roleRevoke', role: 'r', prefix: 'p' }), {
      code: 'INVALID_ARGUMENT',
      message: /role r has no permission on prefix "p"/,
    });
    t.ok(isAdmin(d.state.auth, 'root'));
    t.same(
      listRoles(d.state).find((r) => r.name === 'admin'),
      { name: 'admin', permissions: [{ prefix: '', rights: ['lock', 'read', 'write', 'watch'] }] },
    );
  });

  t.test('grants are idempotent and set a prefix’s rights; permissions stay sorted and canonical', async (t) => {
    const d = withUsers();
    ok(d.admin('root', { type: 'roleAdd', role: 'r' }));
    ok(d.admin('root', { type: 'roleGrant', role: 'r', permission: { prefix: 'z/', rights: ['watch', 'read'] } }));
    ok(d.admin('root', { type: 'roleGrant', role: 'r', permission: { prefix: 'a/', rights: ['write'] } }));
    ok(d.admin('root', { type: 'roleGrant', role: 'r', permission: { prefix: 'a/', rights: ['lock', 'read'] } }));
    ok(d.admin('root', { type: 'userGrantRole', user: 'alice', role: 'r' }));
    ok(d.admin('root', { type: 'userGrantRole', user: 'alice', role: 'r' }));
    t.same(listRoles(d.state).find((r) => r.name === 'r')?.permissions, [
      { prefix: 'a/', rights: ['lock', 'read'] },
      { prefix: 'z/', rights: ['read', 'watch'] },
    ]);
    const permissions = [
      { prefix: 'a/', rights: ['lock', 'read'] },
      { prefix: 'z/', rights: ['read', 'watch'] },
    ];
    t.same(whoami(d.state, 'alice'), { principal: 'alice', roles: ['r'], admin: false, permissions });
    // Two roles on one prefix: whoami merges their rights (canonical order), prefixes sorted.
    ok(d.admin('root', { type: 'roleAdd', role: 'q' }));
    ok(d.admin('root', { type: 'roleGrant', role: 'q', permission: { prefix: 'z/', rights: ['write'] } }));
    ok(d.admin('root', { type: 'roleGrant', role: 'q', permission: { prefix: '', rights: ['watch'] } }));
    ok(d.admin('root', { type: 'userGrantRole', user: 'alice', role: 'q' }));
    t.same(whoami(d.state, 'alice').permissions, [
      { prefix: '', rights: ['watch'] },
      { prefix: 'a/', rights: ['lock', 'read'] },
      { prefix: 'z/', rights: ['read', 'write', 'watch'] },
    ]);
    ok(d.admin('root', { type: 'roleRevoke', role: 'r', prefix: 'a/' }));
    t.same(listRoles(d.state).find((r) => r.name === 'r')?.permissions, [{ prefix: 'z/', rights: ['read', 'watch'] }]);
  });

  t.test('deleting a role removes it from its users; a new role of that name grants nothing', async (t) => {
    const d = withUsers({ alice: [{ prefix: '', rights: ['lock'] }] });
    const a = d.openAs('alice', 'a');
    tokenOf(d.opAs('alice', 'a', acquire(a, 'L1')).result);
    ok(d.admin('root', { type: 'roleDelete', role: 'alice-role' }));
    t.same(whoami(d.state, 'alice').roles, []);
    t.equal(
      d.opAs('alice', 'a', acquire(a, 'L2')).result.code,
      'PERMISSION_DENIED',
      'takes effect on the next command',
    );
    t.ok(d.state.locks.get('L1')?.holders.has(a), 'holds already granted stay');
    ok(d.admin('root', { type: 'roleAdd', role: 'alice-role' }));
    ok(d.admin('root', { type: 'roleGrant', role: 'alice-role', permission: { prefix: '', rights: ['lock'] } }));
    t.equal(d.opAs('alice', 'a', acquire(a, 'L3')).result.code, 'PERMISSION_DENIED', 'until granted to her again');
  });
});

t.test('queries for the node edge', async (t) => {
  const d = withUsers({ bob: [{ prefix: 'b/', rights: ['read'] }] });
  ok(d.admin('root', { type: 'userPassword', user: 'alice', passwordHash: hash('a') }));
  const anon = d.open('x');
  const before = d.machine.snapshot();
  t.same(listUsers(d.state), [
    { name: 'alice', roles: [], password: true },
    { name: 'bob', roles: ['bob-role'], password: false },
    { name: 'carol', roles: ['admin'], password: false },
    { name: 'root', roles: ['admin'], password: false },
  ]);
  t.same(
    listRoles(d.state).map((r) => r.name),
    ['admin', 'bob-role'],
  );
  const everything = [{ prefix: '', rights: ['lock', 'read', 'write', 'watch'] }];
  t.same(whoami(d.state, 'carol'), { principal: 'carol', roles: ['admin'], admin: true, permissions: everything });
  t.same(whoami(d.state, null), { principal: null, roles: [], admin: true, permissions: everything });
  t.same(whoami(d.state, 'mallory'), { principal: 'mallory', roles: [], admin: false, permissions: [] });
  t.same(whoami(d.state, 'bob').permissions, [{ prefix: 'b/', rights: ['read'] }]);
  t.equal(passwordHashOf(d.state, 'alice'), hash('a'));
  t.equal(passwordHashOf(d.state, 'bob'), null);
  t.equal(passwordHashOf(d.state, 'mallory'), null);
  t.equal(sessionOwner(d.state, sessionId(999)), undefined);
  t.equal(sessionOwner(d.state, anon), null);
  const listed = listRoles(d.state);
  (listed[1]?.permissions as Permission[]).pop();
  t.equal(listRoles(d.state)[1]?.permissions.length, 1, 'a listing is a copy');
  t.ok(Buffer.from(d.machine.snapshot()).equals(Buffer.from(before)), 'queries change nothing');
  t.same(passwordOf({ type: 'userAdd', user: 'u', password: 'pw' }), 'pw');
  t.same(passwordOf({ type: 'roleAdd', role: 'r' }), null);
  t.same(adminCommandOf({ type: 'userPassword', user: 'u', password: 'pw' }, hash('u')), {
    type: 'userPassword',
    user: 'u',
    passwordHash: hash('u'),
  });
  t.same(adminCommandOf({ type: 'userAdd', user: 'u', password: null }, null), {
    type: 'userAdd',
    user: 'u',
    passwordHash: null,
  });
});

// ---- snapshots ----

function populated(): { readonly d: Driver; readonly a: SessionId } {
  const d = withUsers({
    alice: [
      { prefix: 'jobs/', rights: ['watch', 'lock'] },
      { prefix: '', rights: ['read'] },
    ],
  });
  ok(d.admin('root', { type: 'userPassword', user: 'bob', passwordHash: hash('b') }));
  ok(d.admin('root', { type: 'roleAdd', role: 'empty' }));
  ok(d.admin('root', { type: 'userGrantRole', user: 'bob', role: 'empty' }));
  ok(d.admin('root', { type: 'userGrantRole', user: 'bob', role: 'alice-role' }));
  const a = d.openAs('alice', 'a');
  tokenOf(d.opAs('alice', 'a', acquire(a, 'jobs/1')).result);
  d.opAs('alice', 'a', acquire(a, 'other'));
  d.open('anon');
  return { d, a };
}

t.test('snapshots carry the auth store, session owners and client principals, byte-identically', async (t) => {
  const { d, a } = populated();
  const bytes1 = d.machine.snapshot();
  const restored = new LockStateMachine();
  const r = restored.restore(bytes1);
  t.ok(r.ok, r.ok ? 'restored' : r.error);
  t.ok(Buffer.from(restored.snapshot()).equals(Buffer.from(bytes1)), 're-encodes byte for byte');
  t.same(listUsers(restored.state), listUsers(d.state));
  t.same(listRoles(restored.state), listRoles(d.state));
  t.equal(authRevision(restored.state), authRevision(d.state));
  t.equal(passwordHashOf(restored.state, 'bob'), hash('b'));
  t.same(
    [...restored.state.sessions.values()].map((s) => s.owner),
    ['alice', null],
  );
  t.equal(restored.state.clients.get('a')?.principal, 'alice');
  // Both replicas then decide the next commands identically.
  const next: Command[] = [
    { type: 'client', principal: 'alice', clientId: 'a', seq: 9, op: acquire(a, 'jobs/2') },
    { type: 'client', principal: 'bob', clientId: 'b', seq: 1, op: release(a, 'jobs/1') },
    { type: 'admin', principal: 'root', action: { type: 'roleDelete', role: 'alice-role' } },
    { type: 'client', principal: 'root', clientId: 'r', seq: 1, op: { type: 'closeSession', session: a } },
  ];
  const results: string[] = [];
  for (const command of next) {
    const e = {
      index: (d.index + 1) as LogIndex,
      term: 1 as Term,
      logTimeMs: d.nowMs,
      payload: encodeCommand(command),
    };
    const mine = d.machine.apply(e);
    d.index += 1;
    t.same(restored.apply(e), mine, command.type);
    results.push(mine.result.code);
  }
  t.same(results, ['OK', 'PERMISSION_DENIED', 'OK', 'OK']);
  t.ok(Buffer.from(restored.snapshot()).equals(Buffer.from(d.machine.snapshot())), 'and end equal');
});

t.test('a format-1 snapshot (before users existed) restores unowned, with the built-ins only', async (t) => {
  const d = new Driver();
  const a = d.open('a');
  tokenOf(d.op('a', acquire(a, 'L')));
  const v2 = packr.unpack(d.machine.snapshot()) as unknown[];
  const v1 = v2.slice(0, 10);
  v1[1] = 1;
  v1[5] = (v2[5] as unknown[][]).map((s) => s.slice(0, 4));
  v1[8] = (v2[8] as unknown[][]).map((c) => c.slice(0, 4));
  const restored = new LockStateMachine();
  const r = restored.restore(packr.pack(v1));
  t.ok(r.ok, r.ok ? 'restored' : r.error);
  t.equal(sessionOwner(restored.state, a), null);
  t.equal(restored.state.clients.get('a')?.principal, null);
  t.same(listUsers(restored.state), [{ name: 'root', roles: ['admin'], password: false }]);
  t.ok(
    Buffer.from(restored.snapshot()).equals(Buffer.from(d.machine.snapshot())),
    'and writes format 2 like a replica that never restarted',
  );
});

t.test('restore refuses a broken auth store and keeps the current state', async (t) => {
  const { d } = populated();
  const good = packr.unpack(d.machine.snapshot()) as unknown[];
  const withAuth = (change: (auth: [number, unknown[][], unknown[][]]) => void): Uint8Array => {
    const copy = structuredClone(good);
    change(copy[10] as [number, unknown[][], unknown[][]]);
    return packr.pack(copy);
  };
  const user = (auth: [number, unknown[][], unknown[][]], name: string) =>
    auth[1].find((u) => u[0] === name) as unknown[];
  const role = (auth: [number, unknown[][], unknown[][]], name: string) =>
    auth[2].find((r) => r[0] === name) as unknown[];
  const cases: readonly [string, Uint8Array, RegExp][] = [
    ['root missing', withAuth((a) => void (a[1] = a[1].filter((u) => u[0] !== 'root'))), /root is missing/],
    ['root without admin', withAuth((a) => void (user(a, 'root')[2] = [])), /root is missing or does not hold admin/],
    ['admin changed', withAuth((a) => void (role(a, 'admin')[1] = [['', ['read']]])), /the admin role was changed/],
    [
      'unknown role held',
      withAuth((a) => void (user(a, 'bob')[2] = ['ghost'])),
      /holds role ghost, which does not exist/,
    ],
    ['unknown right', withAuth((a) => void (role(a, 'alice-role')[1] = [['', ['fly']]])), /unknown right/],
    [
      'unsorted prefixes',
      withAuth(
        (a) =>
          void (role(a, 'alice-role')[1] = [
            ['z', ['read']],
            ['a', ['read']],
          ]),
      ),
      /not sorted/,
    ],
    [
      'rights out of order',
      withAuth((a) => void (role(a, 'alice-role')[1] = [['', ['read', 'lock']]])),
      /canonical order/,
    ],
    ['bad hash', withAuth((a) => void (user(a, 'bob')[1] = 'md5$x')), /must start with scrypt\$/],
    ['bad user name', withAuth((a) => void (user(a, 'bob')[0] = 'b o b')), /may only hold/],
    ['user twice', withAuth((a) => void a[1].push(user(a, 'bob'))), /appears twice/],
  ];
  const before = d.machine.snapshot();
  for (const [what, bad, message] of cases) {
    const r = d.machine.restore(bad);
    t.notOk(r.ok, what);
    if (!r.ok) t.match(r.error, message, what);
  }
  t.ok(Buffer.from(d.machine.snapshot()).equals(Buffer.from(before)));
});

// ---- random runs with principals and admin commands ----

type Step = { readonly advanceMs: number; readonly who: number; readonly pick: number; readonly arg: number };

const principals = [null, 'root', 'alice', 'bob', 'carol'] as const;
const roleNames = ['r0', 'r1', 'admin'];
const lockNames = ['a/x', 'b/y', 'c'];

function randomCommand(step: Step, seqs: number[], sessions: number[], live: (id: number) => boolean): Command {
  const principal = principals[step.who % principals.length] ?? null;
  const role = roleNames[step.arg % roleNames.length] ?? 'r0';
  const user = (principals[1 + (step.arg % 4)] ?? 'alice') as string;
  if (step.pick % 4 === 0) {
    const actions: AdminCommand[] = [
      { type: 'userAdd', user, passwordHash: step.arg % 2 === 0 ? null : hash(`${step.arg}`) },
      { type: 'userDelete', user },
      { type: 'userPassword', user, passwordHash: hash(`${step.arg}`) },
      { type: 'userGrantRole', user, role },
      { type: 'userRevokeRole', user, role },
      { type: 'roleAdd', role },
      { type: 'roleDelete', role },
      {
        type: 'roleGrant',
        role,
        permission: {
          prefix: ['', 'a/', 'b'][step.arg % 3] ?? '',
          rights: step.arg % 2 === 0 ? ['lock'] : ['write', 'lock'],
        },
      },
      { type: 'roleRevoke', role, prefix: ['', 'a/', 'b'][step.arg % 3] ?? '' },
    ];
    return { type: 'admin', principal, action: actions[step.pick % actions.length] ?? { type: 'roleAdd', role } };
  }
  // Clients act in their own session or, half of the time, in someone else's.
  const c = step.who;
  const target = step.arg % 2 === 0 ? (step.arg >> 2) % sessions.length : c;
  const session = sessionId(sessions[target] ?? 0);
  const name = lockNames[step.arg % lockNames.length] ?? 'c';
  let op: Operation;
  if (!live(sessions[c] ?? 0) || step.pick % 13 === 1)
    op = { type: 'openSession', ttlMs: 2_000 + (step.arg % 3) * 1_000 };
  else if (step.pick % 9 < 4) op = acquire(session, name, step.arg % 3 === 0 ? 0 : 1_000);
  else if (step.pick % 9 < 7) op = release(session, name);
  else if (step.pick % 9 === 7) op = put(session, name);
  else op = step.arg % 3 === 0 ? { type: 'keepAlive', session } : { type: 'closeSession', session };
  const seq = (seqs[c] ?? 0) + 1;
  seqs[c] = seq;
  const base = { type: 'client', clientId: `c${c}`, seq, op } as const;
  return principal === null ? base : { ...base, principal };
}

/** Where every random run starts: alice and bob may lock and write under a/ and c, carol is an admin. */
const setup: readonly AdminCommand[] = [
  ...['alice', 'bob', 'carol'].map((user): AdminCommand => ({ type: 'userAdd', user, passwordHash: null })),
  { type: 'roleAdd', role: 'r0' },
  { type: 'roleGrant', role: 'r0', permission: { prefix: 'a/', rights: ['lock', 'write'] } },
  { type: 'roleGrant', role: 'r0', permission: { prefix: 'c', rights: ['lock', 'write'] } },
  { type: 'userGrantRole', user: 'alice', role: 'r0' },
  { type: 'userGrantRole', user: 'bob', role: 'r0' },
  { type: 'userGrantRole', user: 'carol', role: 'admin' },
];

t.test('random runs with principals and admin commands: replicas and restored replicas stay identical', async (t) => {
  const stepArb = fc.record({
    advanceMs: fc.oneof(
      { weight: 8, arbitrary: fc.integer({ min: 0, max: 100 }) },
      { weight: 1, arbitrary: fc.integer({ min: 100, max: 3_000 }) },
    ),
    who: fc.nat({ max: principals.length - 1 }),
    pick: fc.nat({ max: 1_000 }),
    arg: fc.nat({ max: 1_000 }),
  });
  const counts = new Map<string, number>();
  fc.assert(
    fc.property(
      fc.array(stepArb, { minLength: 1, maxLength: 150, size: 'max' }),
      fc.nat({ max: 149 }),
      (steps, snapAt) => {
        const replicas = new Replicas();
        const a = replicas.main;
        const seqs = principals.map(() => 0);
        const sessions = principals.map(() => 0);
        let nowMs = 0;
        const commands: Command[] = setup.map((action) => ({ type: 'admin', principal: 'root', action }));
        for (const [i, step] of [...commands.map(() => null), ...steps].entries()) {
          if (step !== null) nowMs += step.advanceMs;
          const command =
            step === null
              ? (commands[i] as Command)
              : randomCommand(step, seqs, sessions, (id) => a.state.sessions.has(sessionId(id)));
          const e = { index: (i + 1) as LogIndex, term: 1 as Term, logTimeMs: nowMs, payload: encodeCommand(command) };
          const out = replicas.apply(e);
          if (step !== null && out.result.code === 'OK' && out.result.value.kind === 'session')
            sessions[step.who] = out.result.value.session;
          const outcome = out.notifications.some((n) => n.kind === 'revoked') ? 'revoked' : out.result.code;
          counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
          // A refusal never has effects: no notification but expiry and timeouts of this entry's time.
          if (out.result.code === 'PERMISSION_DENIED' && out.notifications.some((n) => n.kind === 'revoked')) {
            throw new Error(`a refused command revoked a hold at ${i + 1}`);
          }
          for (const [k, n] of out.notifications.entries()) {
            if (n.kind !== 'revoked') continue;
            if (command.type !== 'client' || !isAdmin(a.state.auth, command.principal ?? null))
              throw new Error(`revoked by a non-admin at ${i + 1}`);
            // Directly followed by the end of that very hold, so before any grant it makes possible.
            const after = out.notifications[k + 1];
            if (
              after?.kind !== 'event' ||
              after.event.type !== 'release' ||
              after.event.lock !== n.name ||
              after.event.session !== n.session
            ) {
              throw new Error(`revoked ${n.name} is not followed by its release at ${i + 1}`);
            }
          }
          if (i === snapAt) replicas.restoreFromSnapshot();
        }
        const { twin, restored } = replicas;
        if (!Buffer.from(a.snapshot()).equals(Buffer.from(twin.snapshot()))) throw new Error('final snapshots differ');
        if (restored !== null && !Buffer.from(a.snapshot()).equals(Buffer.from(restored.snapshot())))
          throw new Error('restored replica ends elsewhere');
      },
    ),
    { numRuns: 150 },
  );
  // The runs reach every outcome that matters here (a guard against a generator that only ever
  // produces refusals).
  for (const outcome of ['OK', 'PERMISSION_DENIED', 'INVALID_ARGUMENT', 'revoked'])
    t.ok((counts.get(outcome) ?? 0) > 10, `${outcome}: ${counts.get(outcome) ?? 0}`);
});
