/**
 * The node-local token table: a password login is answered with a token (32 random bytes,
 * base64url) that a later connection to the same node may present instead of the password, so
 * reconnecting costs no scrypt work. A token names its user and expires after `ttlMs`; it dies
 * early when its user is deleted or its user's password changes (the table remembers the hash the
 * login was checked against). Tokens live in this process only: another node, or this one after a
 * restart, refuses them, and the client logs in with its password again.
 */
import { randomBytes } from 'node:crypto';

export const defaultTokenTtlMs = 10 * 60_000;
const tokensMax = 10_000;

interface TokenEntry {
  readonly user: string;
  /** The user's password hash the login was checked against. */
  readonly passwordHash: string;
  readonly expiresAtMs: number;
}

/** What the table needs to know about the applied auth store. */
export interface TokenOwnerCheck {
  /** The user's current password hash; undefined when the user no longer exists. */
  passwordHashOf(user: string): string | null | undefined;
}

export class LoginTokens {
  /** Insertion order is issue order, so the oldest token is evicted first when the table is full. */
  private readonly tokens = new Map<string, TokenEntry>();

  constructor(private readonly ttlMs: number = defaultTokenTtlMs) {}

  issue(user: string, passwordHash: string, nowMs: number): string {
    const token = randomBytes(32).toString('base64url');
    this.tokens.set(token, { user, passwordHash, expiresAtMs: nowMs + this.ttlMs });
    while (this.tokens.size > tokensMax) {
      const oldest = this.tokens.keys().next().value;
      if (oldest === undefined) break;
      this.tokens.delete(oldest);
    }
    return token;
  }

  /** The user a token stands for, or why not. An expired or stale token is forgotten. */
  check(token: string, auth: TokenOwnerCheck, nowMs: number): { readonly user: string } | { readonly refused: string } {
    const entry = this.tokens.get(token);
    if (entry === undefined)
      return {
        refused: 'unknown token (tokens are valid only at the node that issued them); log in with the password',
      };
    if (nowMs >= entry.expiresAtMs) {
      this.tokens.delete(token);
      return { refused: 'the token has expired; log in with the password' };
    }
    const current = auth.passwordHashOf(entry.user);
    if (current !== entry.passwordHash) {
      this.tokens.delete(token);
      const why =
        current === undefined ? `user ${entry.user} no longer exists` : `user ${entry.user}'s password has changed`;
      return { refused: `the token is no longer valid: ${why}` };
    }
    return { user: entry.user };
  }

  /** After the auth store changed: drop tokens of deleted users and of changed passwords. */
  prune(auth: TokenOwnerCheck): void {
    for (const [token, entry] of this.tokens) {
      if (auth.passwordHashOf(entry.user) !== entry.passwordHash) this.tokens.delete(token);
    }
  }

  get size(): number {
    return this.tokens.size;
  }
}
