/**
 * Who a client connection is, decided once per connection from its verified certificate and its
 * Hello (docs/client-protocol.md, "Authentication"):
 *
 * 1. a verified **user** certificate: that user (it must exist in the applied auth store);
 * 2. a verified **node** certificate of a known member: a forwarding node, acting for others;
 * 3. `auth: { user, password }`: scrypt check against the user's stored hash, rate-limited per
 *    source address and per user; a success is answered with a token;
 * 4. `auth: { token }`: a token this node issued and that is still valid;
 * 5. nothing: refused.
 *
 * Password checks run one at a time (each takes 16 MiB and ~50 ms of a thread-pool thread; the
 * pool also serves the disk), so a flood of logins queues instead of starving the node.
 */
import type { NodeId } from '../raft/types.js';
import { nodeId } from '../raft/types.js';
import type { CertIdentity } from '../security/identity.js';
import type { HelloAuth } from '../protocol/client-protocol.js';
import type { LoginThrottle } from './login-throttle.js';
import type { LoginTokens } from './login-tokens.js';
import { hashPassword, verifyPassword } from './password-hash.js';

/** Who a connection acts as. */
export type ConnectionIdentity =
  /** An insecure node: no authentication, unrestricted (as before security existed). */
  | { readonly kind: 'anonymous' }
  | { readonly kind: 'user'; readonly user: string; readonly via: 'certificate' | 'password' | 'token' }
  /** A member node forwarding its clients' requests; each request names its principal (`as`). */
  | { readonly kind: 'node'; readonly nodeId: NodeId };

export function principalOf(identity: ConnectionIdentity): string | null {
  return identity.kind === 'user' ? identity.user : null;
}

export function describeIdentity(identity: ConnectionIdentity): string {
  switch (identity.kind) {
    case 'anonymous':
      return 'anonymous';
    case 'user':
      return `user ${identity.user} (${identity.via})`;
    case 'node':
      return `node ${identity.nodeId}`;
  }
}

export interface LoginRequest {
  /** The source address (no port): the rate limit's key. */
  readonly source: string;
  /** The verified certificate's identity, or null when none was presented. */
  readonly certificate: CertIdentity | null;
  readonly auth: HelloAuth | undefined;
}

export type LoginOutcome =
  | { readonly ok: true; readonly identity: ConnectionIdentity; readonly token?: string }
  /** `retryAfterMs`: refused by the login back-off without a check (try again after it). */
  | { readonly ok: false; readonly reason: string; readonly retryAfterMs?: number };

/** What a login needs to know of the node and its applied auth store, read at the moment of use. */
export interface LoginDirectory {
  userExists(user: string): boolean;
  /** A user's stored password hash (null: none set); undefined when the user does not exist. */
  passwordHashOf(user: string): string | null | undefined;
  isMember(node: NodeId): boolean;
}

/** Runs asynchronous jobs one at a time, in arrival order. */
class Serial {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(job: () => Promise<T>): Promise<T> {
    const result = this.tail.then(job, job);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

export class Login {
  private readonly scrypt = new Serial();

  constructor(
    private readonly directory: LoginDirectory,
    private readonly throttle: LoginThrottle,
    private readonly tokens: LoginTokens,
    private readonly now: () => number,
  ) {}

  /** A password hash for an admin action (userAdd, userPassword), made in the same queue. */
  hash(password: string): Promise<string> {
    return this.scrypt.run(() => hashPassword(password));
  }

  async login(request: LoginRequest): Promise<LoginOutcome> {
    const { certificate, auth, source } = request;
    if (certificate !== null) return this.byCertificate(certificate);
    if (auth === undefined) {
      return refuse(
        'no credentials: present a client certificate signed by the cluster CA, or auth { user, password } or { token }',
      );
    }
    if ('token' in auth) return this.byToken(auth.token, source);
    return this.byPassword(auth.user, auth.password, source);
  }

  private byCertificate(certificate: CertIdentity): LoginOutcome {
    if (certificate.kind === 'node') {
      // identity.ts accepts only valid node ids in a certificate.
      const node = nodeId(certificate.nodeId);
      if (this.directory.isMember(node)) return { ok: true, identity: { kind: 'node', nodeId: node } };
      return refuse(`node ${certificate.nodeId} (from its certificate) is not a member this node knows`);
    }
    if (!this.directory.userExists(certificate.user)) {
      return refuse(
        `user ${certificate.user} (from its certificate) does not exist; an admin adds it with: raftlock user add ${certificate.user} --no-password`,
      );
    }
    return { ok: true, identity: { kind: 'user', user: certificate.user, via: 'certificate' } };
  }

  private byToken(token: string, source: string): LoginOutcome {
    const now = this.now();
    const wait = this.throttle.waitMs(source, null, now);
    if (wait > 0) return tooMany(wait);
    const checked = this.tokens.check(token, this.directory, now);
    if ('refused' in checked) {
      this.throttle.failed(source, null, now);
      return refuse(checked.refused);
    }
    return { ok: true, identity: { kind: 'user', user: checked.user, via: 'token' } };
  }

  private async byPassword(user: string, password: string, source: string): Promise<LoginOutcome> {
    // The throttle is asked again when this check's turn comes: logins queued behind failures
    // are refused without scrypt work.
    return this.scrypt.run(async () => {
      const wait = this.throttle.waitMs(source, user, this.now());
      if (wait > 0) return tooMany(wait);
      const stored = this.directory.passwordHashOf(user);
      const matches = await verifyPassword(password, stored ?? null);
      const now = this.now();
      // The store may have changed while scrypt ran: the hash checked must still be the user's.
      const current = this.directory.passwordHashOf(user);
      if (!matches || stored === null || stored === undefined || current !== stored) {
        this.throttle.failed(source, user, now);
        return refuse(`wrong user name or password for ${user}`);
      }
      this.throttle.succeeded(source, user);
      const token = this.tokens.issue(user, stored, now);
      return { ok: true, identity: { kind: 'user', user, via: 'password' }, token };
    });
  }
}

function refuse(reason: string): LoginOutcome {
  return { ok: false, reason };
}

function tooMany(waitMs: number): LoginOutcome {
  return { ok: false, reason: `too many failed logins; retry in ${Math.ceil(waitMs / 1000)} s`, retryAfterMs: waitMs };
}
