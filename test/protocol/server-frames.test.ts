// The one decoder of what a node sends (decodeServerFrame with src/protocol/answer-schema.ts): every
// answer and push a node sends passes as its typed union, and anything else is refused with its path.
import t from 'tap';
import { decodeServerFrame } from '../../src/protocol/client-protocol.js';
import type { PushEvent, WireResult, WireValue } from '../../src/protocol/client-protocol.js';
import { nodeId } from '../../src/raft/types.js';
import { fencingToken, sessionId } from '../../src/statemachine/ids.js';

const bytes = new Uint8Array([1, 2]);
const s1 = sessionId(1);
const key = { key: 'k', value: bytes, version: 1, createIndex: 2, modifyIndex: 3, ephemeralSession: null };
const permission = { prefix: 'a/', rights: ['lock', 'read'] as const };
const n1 = nodeId('n1');
const status = {
  nodeId: n1,
  clusterId: 'c',
  role: 'leader' as const,
  term: 2,
  leader: n1,
  commit: 5,
  applied: 5,
  lastIndex: 5,
  snapshotIndex: 0,
  voters: [n1],
  learners: [],
  lag: [{ id: n1, behind: 0 }],
  sessions: 1,
  locks: 0,
  waiters: 0,
  connections: 1,
};
const token = fencingToken(4);

// One value of every kind: a new WireValue kind makes this record incomplete, so tsc asks for its sample.
const values: { readonly [K in WireValue['kind']]: Extract<WireValue, { kind: K }> } = {
  tick: { kind: 'tick' },
  session: { kind: 'session', session: s1, ttlMs: 1000 },
  kept: { kind: 'kept', session: s1, deadlineMs: 5000 },
  keptBatch: { kind: 'keptBatch', alive: [s1], expired: [] },
  closed: { kind: 'closed', session: s1 },
  granted: { kind: 'granted', name: 'L', token },
  queued: { kind: 'queued', name: 'L', waiter: 2 },
  released: { kind: 'released', name: 'L' },
  proclaimed: { kind: 'proclaimed', name: 'L', token },
  put: { kind: 'put', key: 'k', version: 1, createIndex: 2, modifyIndex: 3 },
  deleted: { kind: 'deleted', key: 'k', existed: true },
  admin: { kind: 'admin', done: 'userAdd' },
  users: { kind: 'users', users: [{ name: 'alice', roles: ['admin'], password: true }] },
  roles: { kind: 'roles', roles: [{ name: 'r', permissions: [permission] }] },
  whoami: { kind: 'whoami', principal: null, roles: [], admin: true, permissions: [permission] },
  key: { kind: 'key', key },
  fence: { kind: 'fence', lock: 'L', token: 4 },
  leader: { kind: 'leader', name: 'E', leader: { session: s1, token, value: bytes } },
  locks: {
    kind: 'locks',
    locks: [
      {
        name: 'L',
        kind: 'mutex',
        permits: 1,
        holders: [{ session: s1, token, mode: 'x' }],
        waiters: [{ session: sessionId(2), mode: 'x', deadlineMs: 9 }],
        delayUntilMs: 0,
      },
    ],
  },
  keys: { kind: 'keys', keys: [key], next: null },
  sessionInfo: {
    kind: 'sessionInfo',
    session: {
      session: s1,
      clientId: 'c',
      owner: null,
      ttlMs: 1000,
      lastSeenMs: 0,
      deadlineMs: 1000,
      holds: ['L'],
      waits: [],
      ephemeralKeys: [],
    },
  },
  watching: { kind: 'watching', watchId: 1, fromIndex: 7 },
  unwatched: { kind: 'unwatched', watchId: 1 },
  status: { kind: 'status', status },
  members: { kind: 'members', members: [{ id: nodeId('n1'), role: 'voter', peer: 'h:1', client: 'h:2' }] },
  snapshotTaken: { kind: 'snapshotTaken', index: 9 },
  backupChunk: { kind: 'backupChunk', backup: 1, offset: 0, total: 2, bytes },
  accepted: { kind: 'accepted' },
};

const pushes: { readonly [K in PushEvent['kind']]: Extract<PushEvent, { kind: K }> } = {
  granted: { kind: 'granted', session: s1, clientId: 'c', seq: 1, name: 'L', token },
  timeout: { kind: 'timeout', session: s1, clientId: 'c', seq: 1, name: 'L' },
  sessionExpired: { kind: 'sessionExpired', session: s1, clientId: 'c' },
  revoked: { kind: 'revoked', session: s1, clientId: 'c', name: 'L', token, by: 'bob', reason: 'released' },
  event: { kind: 'event', watchId: 1, event: { type: 'put', index: 3, key: 'k', version: 1, value: bytes } },
  watchCancelled: { kind: 'watchCancelled', watchId: 1, code: 'PERMISSION_DENIED', message: 'no' },
};

const response = (result: unknown): unknown => ({ type: 'Response', id: 1, result });

t.test('every answer kind and every push kind a node sends decodes as itself', async (t) => {
  for (const value of Object.values(values)) {
    const decoded = decodeServerFrame(response({ code: 'OK', value }));
    t.same(decoded, { ok: true, value: { type: 'Response', id: 1, result: { code: 'OK', value } } }, value.kind);
  }
  for (const push of Object.values(pushes)) {
    t.same(decodeServerFrame({ type: 'Push', push }), { ok: true, value: { type: 'Push', push } }, push.kind);
  }
});

t.test('a wrong or missing field, an unknown kind or code is refused with its path', async (t) => {
  const refused = (frame: unknown, path: RegExp, what: string): void => {
    const decoded = decodeServerFrame(frame);
    t.match(decoded, { ok: false, error: path }, what);
  };
  const ok = (value: unknown): unknown => response({ code: 'OK', value });
  refused(ok({ kind: 'kept', session: 1 }), /\$\.result\.value\.deadlineMs: missing/, 'kept without deadlineMs');
  refused(ok({ kind: 'later' }), /\$\.result\.value\.kind: unknown kind/, 'unknown value kind');
  refused(ok({ ...values.keys, keys: [{ ...key, value: 'text' }] }), /\.keys\[0\]\.value: expected bytes/, 'key view');
  refused(ok({ ...values.status, status: { ...status, role: 'boss' } }), /\.status\.role/, 'status role');
  refused(response({ code: 'DEADLOCK', message: 'm' }), /\$\.result\.cycle: missing/, 'DEADLOCK without its cycle');
  refused(response({ code: 'VERSION_MISMATCH', message: 'm', version: -1 }), /\$\.result\.version/, 'its version');
  refused(response({ code: 'LATER', message: 'm' }), /\$\.result\.code: unknown result code/, 'unknown code');
  refused({ type: 'Push', push: { ...pushes.granted, token: '4' } }, /\$\.push\.token/, 'granted push token');
  refused({ type: 'Push', push: { ...pushes.revoked, reason: 'bored' } }, /\$\.push\.reason/, 'revoke reason');
  const event = { type: 'put', index: 1, key: 'k' };
  refused({ type: 'Push', push: { ...pushes.event, event } }, /\$\.push\.event\.version: missing/, 'watch event');
  refused({ type: 'Push', push: { kind: 'later' } }, /\$\.push\.kind: unknown kind/, 'unknown push kind');
});

t.test('extra fields are ignored; two absences read as their defaults', async (t) => {
  const extra = decodeServerFrame(response({ code: 'OK', value: { ...values.granted, since: 3 } }));
  t.ok(extra.ok, 'a field a newer node adds does not cut the client off');
  const notLeader = decodeServerFrame(response({ code: 'NOT_LEADER', message: 'm' }));
  const expected: WireResult = { code: 'NOT_LEADER', message: 'm', leader: null, leaderClient: null };
  t.same(notLeader, { ok: true, value: { type: 'Response', id: 1, result: expected } }, 'NOT_LEADER: leader unknown');
  const { permissions: _omitted, ...older } = values.whoami;
  const whoami = decodeServerFrame(response({ code: 'OK', value: older }));
  const result = { code: 'OK', value: { ...older, permissions: [] } };
  t.same(whoami, { ok: true, value: { type: 'Response', id: 1, result } }, 'whoami of an older node: no permissions');
});
