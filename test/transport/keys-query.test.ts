// The `keys` read query at the node's door: its shape and the bounds of its limit.
import t from 'tap';
import { defaultLockMachineConfig } from '../../src/statemachine/config.js';
import { validateOp } from '../../src/protocol/client-protocol.js';

void t.test('a keys query is checked before it reaches the state machine', async (t) => {
  const check = (query: unknown) => validateOp({ kind: 'read', query }, defaultLockMachineConfig);
  t.ok(check({ kind: 'keys', prefix: 'a/', after: null, limit: 1 }).ok);
  t.ok(check({ kind: 'keys', prefix: 'a/', after: 'a/b', limit: 1000 }).ok);
  t.match(check({ kind: 'keys', prefix: 'a/', after: null, limit: 0 }), {
    ok: false,
    error: /op.query.limit: must be from 1 to 1000/,
  });
  t.match(check({ kind: 'keys', prefix: 'a/', after: null, limit: 1001 }), { ok: false, error: /op.query.limit/ });
  t.match(
    check({ kind: 'keys', prefix: 'a/', limit: 5 }),
    { ok: false, error: /after/ },
    'after is required (null: from the first)',
  );
  t.match(check({ kind: 'keys', prefix: 'a/', after: 7, limit: 5 }), { ok: false, error: /after/ });
});
