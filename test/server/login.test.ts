// The parts of a login, each on its own: the password hash format and check, the failed-login
// back-off per address and per user, node-local tokens (expiry, deletion, password change), the
// order of precedence of certificate, password and token, and the connection budget that keeps
// strangers from filling a node.
import t from 'tap';
import { nodeId } from '../../src/raft/types.js';
import { ConnectionBudget } from '../../src/server/connection-budget.js';
import type { LoginDirectory } from '../../src/server/login.js';
import { Login } from '../../src/server/login.js';
import { LoginThrottle } from '../../src/server/login-throttle.js';
import { LoginTokens } from '../../src/server/login-tokens.js';
import { hashPassword, isPasswordHash, scryptCost, verifyPassword } from '../../src/server/password-hash.js';

t.test('password hashes: scrypt, salted, in the stored format, checked in constant time', async (t) => {
  const hash = await hashPassword('correct horse');
  const [scheme, N, r, p, salt, digest] = hash.split('$');
  t.same(
    [scheme, Number(N), Number(r), Number(p)],
    ['scrypt', scryptCost.N, scryptCost.r, scryptCost.p],
    'scrypt$N$r$p$...',
  );
  t.equal(Buffer.from(salt!, 'base64').length, 16, '16-byte salt');
  t.equal(Buffer.from(digest!, 'base64').length, 32);
  t.ok(isPasswordHash(hash));
  t.not(await hashPassword('correct horse'), hash, 'a fresh salt each time');
  t.equal(await verifyPassword('correct horse', hash), true);
  t.equal(await verifyPassword('correct horsf', hash), false);
  t.equal(await verifyPassword('correct horse', null), false, 'no hash: never');
  t.equal(await verifyPassword('x', 'scrypt$1024$8$1$AAAA$BBBB'), false, 'an unreadable hash: never');
  t.equal(
    isPasswordHash(`scrypt$${2 ** 30}$8$1$${salt}$${digest}`),
    false,
    'a cost beyond the bound is not accepted from storage',
  );
  t.equal(isPasswordHash(`scrypt$1000$8$1$${salt}$${digest}`), false, 'N must be a power of two');
  // Parameters travel with the hash: a hash made with other costs still checks.
  t.equal(
    await verifyPassword(
      'pw',
      'scrypt$16$1$1$c2FsdHNhbHRzYWx0$' +
        (await import('node:crypto'))
          .scryptSync('pw', Buffer.from('c2FsdHNhbHRzYWx0', 'base64'), 32, { N: 16, r: 1, p: 1 })
          .toString('base64'),
    ),
    true,
  );
});

t.test('failed logins back off per address and per user', async (t) => {
  const throttle = new LoginThrottle({ freeFailures: 2, baseDelayMs: 1000, maxDelayMs: 4000, forgetAfterMs: 60_000 });
  t.equal(throttle.waitMs('1.2.3.4', 'alice', 0), 0);
  throttle.failed('1.2.3.4', 'alice', 0);
  throttle.failed('1.2.3.4', 'alice', 0);
  t.equal(throttle.waitMs('1.2.3.4', 'alice', 0), 0, 'the free failures cost nothing');
  throttle.failed('1.2.3.4', 'alice', 10);
  t.equal(throttle.waitMs('1.2.3.4', 'alice', 10), 1000, 'then 1 s');
  t.equal(throttle.waitMs('5.6.7.8', 'alice', 10), 1000, 'the user waits from any address');
  t.equal(throttle.waitMs('1.2.3.4', 'bob', 10), 1000, 'the address waits for any user');
  t.equal(throttle.waitMs('5.6.7.8', 'bob', 10), 0, 'others do not');
  throttle.failed('1.2.3.4', 'alice', 2000);
  t.equal(throttle.waitMs('1.2.3.4', null, 2000), 2000, 'doubling');
  throttle.failed('1.2.3.4', 'alice', 5000);
  throttle.failed('1.2.3.4', 'alice', 5000);
  t.equal(throttle.waitMs('1.2.3.4', 'alice', 5000), 4000, 'up to the cap');
  throttle.succeeded('1.2.3.4', 'alice');
  t.equal(throttle.waitMs('1.2.3.4', 'alice', 5000), 0, 'a success clears both');
  throttle.failed('9.9.9.9', 'carol', 0);
  throttle.failed('9.9.9.9', 'carol', 0);
  throttle.failed('9.9.9.9', 'carol', 0);
  t.equal(throttle.waitMs('9.9.9.9', 'carol', 70_000), 0, 'forgotten after forgetAfterMs');
  const small = new LoginThrottle({ entriesMax: 4 });
  for (let i = 0; i < 10; i++) small.failed(`10.0.0.${i}`, `u${i}`, 0);
  t.equal(small.size, 4, 'the table is bounded');
});

t.test('tokens: node-local, expiring, dead with their user or password', async (t) => {
  const hashes = new Map<string, string | null>([
    ['alice', 'scrypt$a'],
    ['bob', 'scrypt$b'],
  ]);
  const auth = { passwordHashOf: (user: string) => (hashes.has(user) ? hashes.get(user) : undefined) };
  const tokens = new LoginTokens(1000);
  const a = tokens.issue('alice', 'scrypt$a', 0);
  const b = tokens.issue('bob', 'scrypt$b', 0);
  t.match(a, /^[A-Za-z0-9_-]{43}$/, '32 random bytes, base64url');
  t.same(tokens.check(a, auth, 999), { user: 'alice' });
  t.match(tokens.check(a, auth, 1000), { refused: /expired/ });
  t.match(tokens.check(a, auth, 0), { refused: /unknown token/ }, 'an expired token is forgotten');
  hashes.set('bob', 'scrypt$b2');
  t.match(tokens.check(b, auth, 0), { refused: /password has changed/ });
  const c = tokens.issue('alice', 'scrypt$a', 0);
  hashes.delete('alice');
  tokens.prune(auth);
  t.equal(tokens.size, 0, 'pruned when the user is gone');
  t.match(tokens.check(c, auth, 0), { refused: /unknown token/ });
});

t.test('a login: certificate first, then password (answered with a token), then token', async (t) => {
  const hash = await hashPassword('pw');
  const users = new Map<string, string | null>([
    ['root', null],
    ['alice', hash],
  ]);
  const directory: LoginDirectory = {
    userExists: (user) => users.has(user),
    passwordHashOf: (user) => (users.has(user) ? users.get(user) : undefined),
    isMember: (node) => node === 'n2',
  };
  const login = new Login(
    directory,
    new LoginThrottle({ freeFailures: 1, baseDelayMs: 5000 }),
    new LoginTokens(),
    () => 0,
  );
  const source = '10.0.0.1';
  t.match(
    await login.login({
      source,
      certificate: { kind: 'user', user: 'root' },
      auth: { user: 'alice', password: 'wrong' },
    }),
    { ok: true, identity: { kind: 'user', user: 'root', via: 'certificate' } },
    'a certificate wins over credentials',
  );
  t.match(
    await login.login({ source, certificate: { kind: 'node', nodeId: 'n2' }, auth: undefined }),
    { ok: true, identity: { kind: 'node', nodeId: nodeId('n2') } },
    'a member node forwards',
  );
  t.match(await login.login({ source, certificate: { kind: 'node', nodeId: 'n9' }, auth: undefined }), {
    ok: false,
    reason: /node n9 .* is not a member/,
  });
  t.match(await login.login({ source, certificate: { kind: 'user', user: 'mallory' }, auth: undefined }), {
    ok: false,
    reason: /user mallory .* does not exist/,
  });
  const good = await login.login({ source, certificate: null, auth: { user: 'alice', password: 'pw' } });
  t.match(good, { ok: true, identity: { kind: 'user', user: 'alice', via: 'password' } });
  const token = good.ok ? good.token : undefined;
  t.type(token, 'string');
  t.match(await login.login({ source, certificate: null, auth: { token: token! } }), {
    ok: true,
    identity: { user: 'alice', via: 'token' },
  });
  t.match(
    await login.login({ source, certificate: null, auth: { user: 'root', password: 'pw' } }),
    { ok: false, reason: /wrong user name or password for root/ },
    'a user without a password cannot log in with one',
  );
  t.match(
    await login.login({ source: '10.0.0.2', certificate: null, auth: { user: 'nobody', password: 'pw' } }),
    { ok: false, reason: /wrong user name or password/ },
    'an unknown user looks the same',
  );
  t.match(await login.login({ source, certificate: null, auth: { user: 'alice', password: 'x' } }), {
    ok: false,
    reason: /wrong/,
  });
  t.match(await login.login({ source, certificate: null, auth: { user: 'alice', password: 'pw' } }), {
    ok: false,
    reason: /too many failed logins; retry in 5 s/,
  });
  t.match(await login.login({ source, certificate: null, auth: undefined }), { ok: false, reason: /no credentials/ });
  // The address is waiting, alice (one failure, the free one) is not. Concurrent guesses from a
  // fresh address queue behind one another: the first is checked and fails, which starts alice's
  // back-off, and the rest meet it instead of scrypt.
  const burst = await Promise.all(
    Array.from({ length: 5 }, (_, i) =>
      login.login({ source: '10.0.0.3', certificate: null, auth: { user: 'alice', password: `g${i}` } }),
    ),
  );
  t.same(
    burst.map((o) => (o.ok ? 'ok' : /too many/.test(o.reason) ? 'wait' : 'checked')),
    ['checked', 'wait', 'wait', 'wait', 'wait'],
    'one scrypt check, four refusals',
  );
});

t.test('connection budget: per source, and pending connections apart from authenticated ones', async (t) => {
  const budget = new ConnectionBudget<string>({ perSourceMax: 3, unauthenticatedMax: 4, authenticatedMax: 2 });
  for (const c of ['a1', 'a2', 'a3']) t.match(budget.admit(c, 'A'), { admitted: true, evict: null });
  t.match(budget.admit('a4', 'A'), { admitted: false, reason: /A already has 3 connections/ }, 'per-source limit');
  t.match(budget.admit('b1', 'B'), { admitted: true, evict: null });
  // The pending budget is full: the next newcomer pushes out the oldest of the busiest source.
  t.match(budget.admit('c1', 'C'), { admitted: true, evict: 'a1' }, 'the flood evicts its own');
  t.equal(budget.countFrom('A'), 2);
  t.equal(budget.authenticate('b1'), null, 'b1 authenticated');
  t.equal(budget.pendingCount, 3);
  t.equal(budget.authenticate('c1'), null);
  t.match(budget.authenticate('a2'), /at most 2 client connections/, 'the authenticated budget is its own');
  budget.release('b1');
  t.equal(budget.authenticate('a2'), null, 'room again after a release');
  budget.release('b1');
  t.equal(budget.countFrom('B'), 0, 'release is idempotent');
});
