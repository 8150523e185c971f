import type { Brand } from '../util/brand.js';

/** A session's id: the log index of the entry that opened it, so unique forever and equal everywhere. */
export type SessionId = Brand<number, 'SessionId'>;
/**
 * A grant's fencing token: `max(index of the granting entry, previous token + 1)`. It equals the
 * log index whenever an entry makes one grant and stays strictly increasing across all grants when
 * one entry makes several (a session expiry that frees many locks).
 */
export type FencingToken = Brand<number, 'FencingToken'>;

export function sessionId(value: number): SessionId {
  return value as SessionId;
}

export function fencingToken(value: number): FencingToken {
  return value as FencingToken;
}

/** UTF-8 length of a string, or -1 when it holds a lone surrogate (not encodable as UTF-8). */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return -1;
      bytes += 4;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) return -1;
    else bytes += 3;
  }
  return bytes;
}
