/**
 * MessagePack encoding of frame payloads. One explicitly configured Packr: plain maps
 * (`useRecords: false`, so every frame decodes on its own with no shared structure state across
 * messages or reconnects) and copied binaries (`copyBuffers: true`, so entry data that Raft keeps
 * in its log never pins or aliases the socket's frame buffer).
 */
import { Packr } from 'msgpackr';
import type { Message } from '../raft/messages.js';
import type { Result } from '../util/result.js';
import { err, ok } from '../util/result.js';
import { validateMessage } from '../protocol/message-schema.js';

const packr = new Packr({
  useRecords: false,
  copyBuffers: true,
  mapsAsObjects: true,
  moreTypes: false,
  structuredClone: false,
  bundleStrings: false,
  int64AsType: 'number',
});

/** Why a payload is not acceptable. `path` points at the offending field for INVALID_MESSAGE. */
export type DecodeError =
  | { readonly code: 'INVALID_MSGPACK'; readonly message: string }
  | { readonly code: 'INVALID_MESSAGE'; readonly path: string; readonly message: string };

export function describeDecodeError(error: DecodeError): string {
  switch (error.code) {
    case 'INVALID_MSGPACK':
      return `invalid MessagePack: ${error.message}`;
    case 'INVALID_MESSAGE':
      return `invalid message at ${error.path}: ${error.message}`;
  }
}

/** Encodes any plain wire value (messages, hello and error frames) as one MessagePack payload. */
export function encodePayload(value: unknown): Uint8Array {
  return packr.pack(value);
}

/**
 * Decodes one MessagePack value that must fill the payload exactly. Never throws: msgpackr throws
 * on truncation but returns a sentinel object for byte 0xC1, so callers must still validate.
 */
export function decodePayload(payload: Uint8Array): Result<unknown, DecodeError> {
  try {
    // unpack() rejects trailing bytes after the first value, so a frame is one value.
    return ok(packr.unpack(payload) as unknown);
  } catch (error: unknown) {
    const message = error instanceof Error ? error.message : String(error);
    return err({ code: 'INVALID_MSGPACK', message });
  }
}

export function encodeMessage(message: Message): Uint8Array {
  return encodePayload(message);
}

/**
 * Payload → a Message that satisfies every rule of the wire schema, or why it does not. Binary
 * fields (`entries[].data`, InstallSnapshot `data`) come back as plain Uint8Arrays that own
 * exactly their bytes, never views into the payload, so Raft may keep them in its log.
 */
export function decodeMessage(payload: Uint8Array): Result<Message, DecodeError> {
  const decoded = decodePayload(payload);
  if (!decoded.ok) return decoded;
  return messageFromDecoded(decoded.value);
}

/**
 * Validates a value fresh from `decodePayload` against the Message union. Takes ownership of
 * `value`: its byte fields are re-typed in place from msgpackr's Buffers to plain Uint8Arrays
 * (same memory), because a Buffer's `slice()` is a view where a Uint8Array's is a copy.
 */
export function messageFromDecoded(value: unknown): Result<Message, DecodeError> {
  const bad = validateMessage(value);
  if (bad !== null) return err({ code: 'INVALID_MESSAGE', path: bad.path, message: bad.reason });
  const message = value as Message;
  if (message.type === 'AppendEntries') {
    for (const entry of message.entries) {
      if (entry.kind === 'command') ownBytes(entry, entry.data);
    }
  } else if (message.type === 'InstallSnapshot') {
    ownBytes(message, message.data);
  }
  return ok(message);
}

function ownBytes(holder: { readonly data: Uint8Array }, data: Uint8Array): void {
  if (data.constructor === Uint8Array) return;
  const plain = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  (holder as { data: Uint8Array }).data = plain;
}
