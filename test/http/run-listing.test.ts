// A run of turns in the HTTP listing and on the dashboard: GET /v1/locks serializes a holder's
// lastToken (its response schema names it, and Fastify drops what the schema does not), and the
// holder chip, rendered as text without a browser, shows a plain hold's fencing token or a run's
// tokens first to last (docs/http.md).
import Fastify from 'fastify';
import t from 'tap';
import { schemasFor } from '../../src/http/schemas.js';
import { defaultLockMachineConfig } from '../../src/statemachine/config.js';
// @ts-expect-error: the dashboard's modules are plain browser JavaScript without declarations.
import { holderChip } from '../../src/http/dashboard/locks.js';

const chip = holderChip as (h: {
  session: number;
  token: number;
  lastToken?: number;
  mode: string;
  grantedAtMs: number;
  heldForMs: number;
}) => string;

t.test('a holder chip: its token, or a run’s first to last', async (t) => {
  const plain = chip({ session: 7, token: 40, mode: 'exclusive', grantedAtMs: 0, heldForMs: 1500 });
  t.match(plain, /<span class="tok">#40<\/span>/);
  t.match(plain, /title="session 7 holds it with fencing token 40"/);
  const run = chip({ session: 7, token: 40, lastToken: 43, mode: 'exclusive', grantedAtMs: 0, heldForMs: 1500 });
  t.match(run, /<span class="tok">#40–43<\/span>/);
  t.match(run, /title="session 7 holds it for a run of turns, fencing tokens 40–43"/);
  t.match(run, /data-token="40"/, 'the hold is still the one under its first token');
});

t.test('GET /v1/locks keeps a run’s lastToken: the response schema names it', async (t) => {
  const app = Fastify();
  t.teardown(() => app.close());
  const s = schemasFor(defaultLockMachineConfig);
  const holder = { session: 7, token: 40, mode: 'exclusive', grantedAtMs: 0, heldForMs: 5 };
  const lock = { name: 'L', kind: 'mutex', permits: 1, waiters: [], delayUntilMs: 0 };
  app.get('/locks', { schema: { response: { 200: { type: 'array', items: s.lockDetail } } } }, async () => [
    { ...lock, holders: [{ ...holder, lastToken: 43 }] },
    { ...lock, name: 'M', holders: [holder] },
  ]);
  const reply = await app.inject({ method: 'GET', url: '/locks' });
  t.same(
    (JSON.parse(reply.body) as { holders: { lastToken?: number }[] }[]).map((l) => l.holders[0]?.lastToken),
    [43, undefined],
    'serialized for the run, absent for the single grant',
  );
});
