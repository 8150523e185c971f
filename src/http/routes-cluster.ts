/** Who am I, logging in, this node's status, the members, the leader, the wait-for graph. */
import { principalLengthMax, rights } from '../protocol/client-protocol.js';
import { answer, refusalOutcome } from './commands.js';
import { unauthenticated } from './errors.js';
import type { Route, RouteContext } from './route.js';
import { json, refused, route } from './route.js';
import { array, integer, nullable, object, text } from './schemas.js';

export function clusterRoutes(ctx: RouteContext): Route[] {
  const { gateway, schemas: s } = ctx;
  const nodeIdSchema = text(64, 'a node id');
  const nodeIdList = array(nodeIdSchema);
  const address = text(300, 'host:port');
  const status = object(
    {
      nodeId: nodeIdSchema,
      clusterId: text(128),
      role: { type: 'string', enum: ['follower', 'preCandidate', 'candidate', 'leader'] },
      term: integer(0),
      leader: nullable(nodeIdSchema),
      commit: integer(0),
      applied: integer(0),
      lastIndex: integer(0),
      snapshotIndex: integer(0),
      voters: nodeIdList,
      learners: nodeIdList,
      lag: array(
        object({ id: nodeIdSchema, behind: integer(0) }, ['id', 'behind']),
        'leader only: entries each member is behind',
      ),
      sessions: integer(0),
      locks: integer(0),
      waiters: integer(0),
      connections: integer(0),
    },
    [
      'nodeId',
      'clusterId',
      'role',
      'term',
      'leader',
      'commit',
      'applied',
      'lastIndex',
      'snapshotIndex',
      'voters',
      'learners',
      'lag',
      'sessions',
      'locks',
      'waiters',
      'connections',
    ],
  );
  const member = object(
    {
      id: nodeIdSchema,
      role: { type: 'string', enum: ['voter', 'learner'] },
      peer: address,
      client: address,
      http: nullable(address),
    },
    ['id', 'role', 'peer', 'client', 'http'],
  );
  const cycleStep = object({ session: s.session, lock: s.name }, ['session', 'lock']);
  return [
    route<Record<string, never>, Record<string, never>, { user: string; password: string }>({
      method: 'POST',
      url: '/v1/auth/login',
      operationId: 'login',
      summary: 'Log in with a password: a token for `Authorization: Bearer <token>` on this node',
      description:
        'The token is valid on this node only, for expiresInMs, and while the user and its password stay. ' +
        'Failed logins are rate-limited per address and per user (429 with Retry-After).',
      tag: 'auth',
      public: true,
      schema: {
        body: object({ user: s.user, password: s.password }, ['user', 'password']),
        response: object({ principal: text(principalLengthMax), token: text(128), expiresInMs: integer(0) }, [
          'principal',
          'token',
          'expiresInMs',
        ]),
      },
      handle: async (call) => {
        const outcome = await gateway.login(call.body.user, call.body.password, call.remote);
        if (!outcome.ok) return refused(unauthenticated(outcome.message, outcome.retryAfterMs));
        return json({ principal: outcome.principal, token: outcome.token, expiresInMs: outcome.expiresInMs });
      },
    }),
    route({
      method: 'GET',
      url: '/v1/whoami',
      operationId: 'whoami',
      summary:
        'Who the caller acts as, its roles, whether it is an admin, and what its roles allow (principal null: an insecure node)',
      tag: 'auth',
      schema: {
        response: object(
          {
            principal: nullable(text(principalLengthMax)),
            roles: array(text(principalLengthMax)),
            admin: { type: 'boolean' },
            permissions: array(
              object({ prefix: s.prefix, rights: array({ type: 'string', enum: [...rights] }) }, ['prefix', 'rights']),
              'what its roles allow, merged by prefix (an admin: every right on "")',
            ),
          },
          ['principal', 'roles', 'admin', 'permissions'],
        ),
      },
      handle: async (call) => {
        const result = await gateway.request(call.principal, { kind: 'whoami' }, call.remote);
        return answer(gateway, result, 'whoami', (v) => ({
          principal: v.principal,
          roles: v.roles,
          admin: v.admin,
          permissions: v.permissions,
        }));
      },
    }),
    route({
      method: 'GET',
      url: '/v1/status',
      operationId: 'status',
      summary: "This node's view: role, term, leader, commit and applied index, members, counts",
      tag: 'cluster',
      schema: { response: status },
      handle: async (call) => {
        const result = await gateway.request(call.principal, { kind: 'status' }, call.remote);
        return answer(gateway, result, 'status', (v) => v.status);
      },
    }),
    route({
      method: 'GET',
      url: '/v1/members',
      operationId: 'members',
      summary: 'The members (voters, then learners) with their peer, client and HTTP addresses',
      tag: 'cluster',
      schema: { response: array(member) },
      handle: async (call) => {
        const result = await gateway.request(call.principal, { kind: 'members', action: 'list' }, call.remote);
        return answer(gateway, result, 'members', (v) =>
          v.members.map((m) => ({ ...m, http: gateway.httpAddress(m.id) })),
        );
      },
    }),
    route({
      method: 'GET',
      url: '/v1/leader',
      operationId: 'leader',
      summary: 'The leader this node knows (null while there is none) and where it serves clients and HTTP',
      tag: 'cluster',
      schema: {
        response: object(
          {
            leader: nullable(nodeIdSchema),
            term: integer(0),
            leaderClient: nullable(address),
            leaderHttp: nullable(address),
          },
          ['leader', 'term', 'leaderClient', 'leaderHttp'],
        ),
      },
      handle: async (call) => {
        const [statusResult, membersResult] = await Promise.all([
          gateway.request(call.principal, { kind: 'status' }, call.remote),
          gateway.request(call.principal, { kind: 'members', action: 'list' }, call.remote),
        ]);
        if (membersResult.code !== 'OK') return refusalOutcome(gateway, membersResult);
        const members = membersResult.value.kind === 'members' ? membersResult.value.members : [];
        return answer(gateway, statusResult, 'status', (v) => {
          const leader = v.status.leader;
          return {
            leader,
            term: v.status.term,
            leaderClient: members.find((m) => m.id === leader)?.client ?? null,
            leaderHttp: leader === null ? null : gateway.httpAddress(leader),
          };
        });
      },
    }),
    route<Record<string, never>, { prefix?: string }>({
      method: 'GET',
      url: '/v1/waitgraph',
      operationId: 'waitGraph',
      summary: 'The wait-for graph: who waits for which lock held by whom, and any deadlock cycle',
      description: 'Only locks the caller may read (read or lock on the name) are shown.',
      tag: 'locks',
      schema: {
        querystring: object({ prefix: s.prefix }),
        response: object(
          {
            edges: array(
              object({ session: s.session, lock: s.name, heldBy: array(s.session) }, ['session', 'lock', 'heldBy']),
            ),
            cycles: array(
              array(cycleStep),
              "each: session waits for lock, held by the next step's session (the last by the first)",
            ),
          },
          ['edges', 'cycles'],
        ),
      },
      handle: async (call) => {
        const listing = await gateway.waitGraph(call.principal, call.query.prefix ?? '', call.remote);
        return listing.ok ? json(listing.value) : refusalOutcome(gateway, listing.refusal);
      },
    }),
  ];
}
