// An insecure node serves plain HTTP with no principal (unrestricted, as its client port), and
// refuses credentials rather than pretend to check them.
import t from 'tap';
import { call } from './fixtures/http-client.js';
import { startHttpCluster } from './fixtures/http-cluster.js';

void t.test('an insecure node: plain HTTP, no principal, credentials refused', async (t) => {
  const h = await startHttpCluster({ insecure: true, nodes: 1 });
  t.teardown(() => h.close());
  const node = await h.leaderNode();
  const address = h.httpOf(node);
  t.same((await call(address, '/v1/whoami', { tls: null })).json, {
    principal: null,
    roles: [],
    admin: true,
    permissions: [{ prefix: '', rights: ['lock', 'read', 'write', 'watch'] }],
  });
  const opened = await call(address, '/v1/sessions', { tls: null, method: 'POST', body: { ttlMs: 5000 } });
  t.equal(opened.status, 200, opened.text);
  const session = (opened.json as { session: number }).session;
  const lock = await call(address, '/v1/locks/a/acquire', { tls: null, method: 'POST', body: { session } });
  t.equal(lock.status, 200, lock.text);
  const bearer = await call(address, '/v1/whoami', { tls: null, bearer: 'anything' });
  t.equal(bearer.status, 401);
  t.match(bearer.json, { code: 'UNAUTHENTICATED', message: /insecure .* takes no credentials/ });
  const login = await call(address, '/v1/auth/login', {
    tls: null,
    method: 'POST',
    body: { user: 'root', password: 'x' },
  });
  t.equal(login.status, 401);
  t.ok(h.logged('http request refused', 'insecure').length >= 2, 'both refusals logged');
  await t.rejects(call(address, '/v1/whoami', { tls: { ca: 'not used' } }), 'no TLS on an insecure node');
});
