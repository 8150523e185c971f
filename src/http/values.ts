/**
 * Values over JSON: bytes travel as base64 (`value`), or as UTF-8 text (`text`) when the caller
 * prefers; answers carry both (text null when the bytes are not UTF-8).
 */
import type { WatchEvent } from '../statemachine/results.js';
import type { KeyView, LeaderView } from '../statemachine/queries.js';
import type { Result } from '../util/result.js';
import { err, ok } from '../util/result.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function base64Of(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** The bytes as text when they are valid UTF-8, else null. */
export function textOf(bytes: Uint8Array): string | null {
  try {
    return utf8.decode(bytes);
  } catch {
    return null;
  }
}

/** A value given as `{ value }` (base64) or `{ text }`: exactly one of them (`required` false: neither is the empty value). */
export function valueOfBody(
  body: { readonly value?: string; readonly text?: string },
  required: boolean,
): Result<Uint8Array, string> {
  if (body.value !== undefined && body.text !== undefined) return err('body: give value (base64) or text, not both');
  if (body.text !== undefined) return ok(new TextEncoder().encode(body.text));
  if (body.value !== undefined) {
    // The schema's pattern admits only the base64 alphabet; its length must also be whole quads.
    if (body.value.length % 4 !== 0) return err('body/value: base64 length must be a multiple of 4');
    return ok(new Uint8Array(Buffer.from(body.value, 'base64')));
  }
  return required ? err('body: missing value (base64) or text') : ok(new Uint8Array(0));
}

export function keyBody(view: KeyView): Record<string, unknown> {
  return {
    key: view.key,
    value: base64Of(view.value),
    text: textOf(view.value),
    version: view.version,
    createIndex: view.createIndex,
    modifyIndex: view.modifyIndex,
    ephemeralSession: view.ephemeralSession,
  };
}

export function leaderBody(view: LeaderView): Record<string, unknown> {
  return { session: view.session, token: view.token, value: base64Of(view.value), text: textOf(view.value) };
}

/** A watch event as JSON: values in base64 and as text. */
export function eventBody(event: WatchEvent): Record<string, unknown> {
  if (event.type === 'put' || event.type === 'leader') {
    return { ...event, value: base64Of(event.value), text: textOf(event.value) };
  }
  return { ...event };
}
