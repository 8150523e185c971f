// The order a node writes one drain's pushes and answers in (src/node/server-push.ts): hold
// endings (revoked, sessionExpired) first, then the answers, then everything else in log order,
// across connections too. An entry that expires a session and then grants its lock to a new
// request answers that grant: the old holder's push must still be written first.
import t from 'tap';
import type { ClientConnection } from '../../src/server/server-connection.js';
import { PushRoutes } from '../../src/node/server-push.js';
import type { FencingToken, SessionId } from '../../src/statemachine/ids.js';
import type { Notification } from '../../src/statemachine/results.js';
import type { PushEvent } from '../../src/protocol/client-protocol.js';

function fakeConnection(name: string, written: string[]): ClientConnection {
  const fake = {
    isForwarder: false,
    clientIds: new Set<string>(),
    sessions: new Set<number>(),
    watches: new Map<number, { id: number; prefix: string; cursor: number }>(),
    push: (push: PushEvent) =>
      written.push(`${name}:${push.kind === 'event' ? `event:${push.event.type}` : push.kind}`),
  };
  return fake as unknown as ClientConnection;
}

const s = (n: number): SessionId => n as SessionId;
const tok = (n: number): FencingToken => n as FencingToken;

void t.test('hold endings go out before the answers and the other pushes of the same drain', async (t) => {
  const written: string[] = [];
  const holder = fakeConnection('holder', written);
  const other = fakeConnection('other', written);
  const routes = new PushRoutes();
  routes.bindClient(holder, 'h');
  routes.bindSession(holder, 1);
  routes.bindClient(other, 'o');
  other.watches.set(1, { id: 1, prefix: '', cursor: 0 });
  routes.watchesChanged(other);
  const drain: Notification[] = [
    { kind: 'granted', session: s(3), clientId: 'o', seq: 9, name: 'A', token: tok(7) },
    { kind: 'event', event: { type: 'release', index: 8, lock: 'L', session: s(1) } },
    { kind: 'sessionExpired', session: s(1), clientId: 'h' },
    { kind: 'revoked', session: s(1), clientId: 'h', name: 'M', token: tok(5), by: null, reason: 'released' },
  ];
  routes.route(
    drain,
    8,
    () => true,
    () => written.push('other:answer granting L'),
  );
  t.same(written, [
    'holder:sessionExpired',
    'holder:revoked',
    'other:answer granting L',
    'other:granted',
    'other:event:release',
  ]);
  // Breaking check: answering before route() (as the node did) puts the answer first.
});

void t.test('a drain without notifications still answers', async (t) => {
  const written: string[] = [];
  new PushRoutes().route(
    [],
    3,
    () => true,
    () => written.push('answer'),
  );
  t.same(written, ['answer']);
});
