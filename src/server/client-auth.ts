/**
 * The node's side of client authentication and revocation (docs/security.md, "Client
 * connections"): checks a Hello (cluster, then credentials: see login.ts), hashes the passwords of
 * admin actions, and when the applied auth store changes, closes the connections of deleted users,
 * cancels watches whose principal lost the watch right, and drops stale tokens.
 *
 * On an insecure node nobody authenticates: every connection is `anonymous` (unrestricted), and a
 * Hello carrying credentials is refused, so a client never believes it is protected when it is not.
 */
import type { NodeId } from '../raft/types.js';
import type { AdminAction, AdminCommand } from '../statemachine/auth-types.js';
import { userExists } from '../statemachine/authorize.js';
import { passwordHashOf } from '../statemachine/queries.js';
import type { LockState } from '../statemachine/state.js';
import type { ClientHello, HelloAuth } from '../protocol/client-protocol.js';
import { checkClientHello } from '../protocol/client-protocol.js';
import type { ErrorFrame } from '../protocol/handshake.js';
import { errorFrame } from '../protocol/handshake.js';
import type { Result } from '../util/result.js';
import { err, ok } from '../util/result.js';
import type { CertIdentity } from '../security/identity.js';
import type { ConnectionIdentity, LoginDirectory, LoginOutcome } from './login.js';
import { describeIdentity, Login } from './login.js';
import type { LoginThrottleOptions } from './login-throttle.js';
import { LoginThrottle } from './login-throttle.js';
import { defaultTokenTtlMs, LoginTokens } from './login-tokens.js';
import type { Logger } from '../util/logger.js';
import type { ClientConnection } from './server-connection.js';
import { watchDenial } from '../node/edge-access.js';
import { cancelRefusedWatches } from './watch-revocation.js';

export interface ClientAuthOptions {
  /** A secure node: TLS on the client port and authentication required. */
  readonly secure: boolean;
  readonly clusterId: string;
  readonly log: Logger;
  /** The applied state, read at the moment of each check. */
  readonly state: () => LockState;
  readonly isMember: (node: NodeId) => boolean;
  readonly now: () => number;
  readonly throttle?: Partial<LoginThrottleOptions>;
  readonly tokenTtlMs?: number;
}

export interface HelloOutcome {
  readonly hello: ClientHello;
  readonly identity: ConnectionIdentity;
  readonly token?: string;
}

export class ClientAuth {
  private readonly login: Login;
  private readonly tokens: LoginTokens;
  private readonly directory: LoginDirectory;

  constructor(private readonly options: ClientAuthOptions) {
    this.directory = {
      userExists: (user) => userExists(options.state().auth, user),
      passwordHashOf: (user) =>
        userExists(options.state().auth, user) ? passwordHashOf(options.state(), user) : undefined,
      isMember: options.isMember,
    };
    this.tokens = new LoginTokens(options.tokenTtlMs);
    this.login = new Login(this.directory, new LoginThrottle(options.throttle), this.tokens, options.now);
  }

  get secure(): boolean {
    return this.options.secure;
  }

  /** The Hello's verdict; a refusal is logged with the address, the claimed identity and why. */
  async hello(connection: ClientConnection, value: unknown): Promise<Result<HelloOutcome, ErrorFrame>> {
    const checked = checkClientHello(value, this.options.clusterId);
    if (!checked.ok) {
      this.refused(connection, describeClaim(connection, null), checked.error.message);
      return checked;
    }
    const hello = checked.value;
    const claimed = describeClaim(connection, hello);
    if (!this.options.secure) {
      if (hello.auth !== undefined) {
        const reason =
          'this node is insecure (plaintext, no authentication) and takes no credentials; connect without them, or secure the cluster';
        this.refused(connection, claimed, reason);
        return err(errorFrame('UNAUTHENTICATED', reason));
      }
      return ok({ hello, identity: { kind: 'anonymous' } });
    }
    const source = connection.slot.source;
    const outcome = await this.login.login({ source, certificate: connection.certificate, auth: hello.auth });
    if (!outcome.ok) {
      this.refused(connection, claimed, outcome.reason);
      return err(errorFrame('UNAUTHENTICATED', outcome.reason));
    }
    this.options.log.debug('client authenticated', {
      remote: connection.remote,
      as: describeIdentity(outcome.identity),
    });
    return ok({ hello, identity: outcome.identity, ...(outcome.token === undefined ? {} : { token: outcome.token }) });
  }

  /** How long a token from a password login stays valid. */
  get tokenTtlMs(): number {
    return this.options.tokenTtlMs ?? defaultTokenTtlMs;
  }

  /**
   * The credentials of one HTTP request (src/http): the same precedence, checks, tokens and login
   * back-off as a Hello (login.ts). A member's node certificate acts for nobody here (the HTTP
   * port has no `as`). A refusal is logged with the address, the claim and why.
   */
  async authenticate(claim: {
    readonly remote: string;
    readonly source: string;
    readonly certificate: CertIdentity | null;
    readonly auth: HelloAuth | undefined;
  }): Promise<LoginOutcome> {
    const { certificate, auth } = claim;
    const parts: string[] = [];
    if (certificate !== null)
      parts.push(
        certificate.kind === 'node'
          ? `certificate of node ${certificate.nodeId}`
          : `certificate of user ${certificate.user}`,
      );
    if (auth !== undefined) parts.push('token' in auth ? 'a token' : `password of user ${auth.user}`);
    const claimed = parts.length === 0 ? 'nothing' : parts.join(', ');
    const refuse = (outcome: Extract<LoginOutcome, { ok: false }>): LoginOutcome => {
      this.options.log.warn('http request refused', { remote: claim.remote, claimed, reason: outcome.reason });
      return outcome;
    };
    if (!this.options.secure) {
      if (auth === undefined) return { ok: true, identity: { kind: 'anonymous' } };
      return refuse({
        ok: false,
        reason:
          'this node is insecure (plain HTTP, no authentication) and takes no credentials; send none, or secure the cluster',
      });
    }
    if (certificate === null && auth === undefined) {
      return refuse({
        ok: false,
        reason:
          'no credentials: present a client certificate signed by the cluster CA, or Authorization: Bearer <token> (from POST /v1/auth/login)',
      });
    }
    const outcome = await this.login.login({ source: claim.source, certificate, auth });
    if (!outcome.ok) return refuse(outcome);
    if (outcome.identity.kind === 'node') {
      return refuse({
        ok: false,
        reason: 'a node certificate acts for nobody on the HTTP port; use a user certificate or credentials',
      });
    }
    return outcome;
  }

  /** The action as it is proposed: passwords replaced by fresh scrypt hashes. */
  async prepare(action: AdminAction): Promise<AdminCommand> {
    switch (action.type) {
      case 'userAdd': {
        const passwordHash = action.password === null ? null : await this.login.hash(action.password);
        return { type: 'userAdd', user: action.user, passwordHash };
      }
      case 'userPassword':
        return { type: 'userPassword', user: action.user, passwordHash: await this.login.hash(action.password) };
      default:
        return action;
    }
  }

  /**
   * Whether the connection's user still exists (every request asks). A deleted user's connection
   * is closed with UNAUTHENTICATED, and the closing is logged.
   */
  stillValid(connection: ClientConnection): boolean {
    const identity = connection.identity;
    if (identity?.kind !== 'user' || userExists(this.options.state().auth, identity.user)) return true;
    this.revoke(connection, `user ${identity.user} no longer exists`);
    return false;
  }

  /**
   * The applied auth store changed: close deleted users' connections, cancel watches that lost
   * their right, forget tokens that no longer stand for their user's current password.
   */
  enforce(connections: Iterable<ClientConnection>, watchesChanged: (connection: ClientConnection) => void): void {
    this.tokens.prune(this.directory);
    const state = this.options.state();
    for (const connection of [...connections]) {
      if (!connection.isOpen || !this.stillValid(connection)) continue;
      const principal = connection.principal;
      if (principal === null) continue;
      const refusal = (prefix: string): string | null => watchDenial(state, principal, prefix);
      if (cancelRefusedWatches(connection, principal, refusal, this.options.log)) watchesChanged(connection);
    }
  }

  private revoke(connection: ClientConnection, reason: string): void {
    this.options.log.warn('client connection closed', { remote: connection.remote, reason });
    connection.fail('UNAUTHENTICATED', reason);
  }

  private refused(connection: ClientConnection, claimed: string, reason: string): void {
    this.options.log.warn('client connection refused', { remote: connection.remote, claimed, reason });
  }
}

/** Who a connection claims to be, for the log: certificate, then credentials (never a password). */
function describeClaim(connection: ClientConnection, hello: ClientHello | null): string {
  const parts: string[] = [];
  const id = connection.certificate;
  if (id !== null)
    parts.push(id.kind === 'node' ? `certificate of node ${id.nodeId}` : `certificate of user ${id.user}`);
  const auth = hello?.auth;
  if (auth !== undefined) parts.push('token' in auth ? 'a token' : `password of user ${auth.user}`);
  if (hello !== null) parts.push(`client ${JSON.stringify(hello.client)}`);
  return parts.length === 0 ? 'nothing' : parts.join(', ');
}
