/**
 * The wire schema of the Raft `Message` union (src/raft/messages.ts), one table row per field.
 * The mapped types below make the compiler reject a table that misses or invents a field, so a
 * new field in messages.ts is a compile error here until its one-line check is added.
 */
import type { Message, MessageType } from '../raft/messages.js';
import type { ConfChange, Entry } from '../raft/types.js';
import type { Check, SchemaViolation } from './schema.js';
import {
  arrayOf,
  boolean,
  bytes,
  exactObject,
  isPlainObject,
  literal,
  nodeId,
  nullable,
  refine,
  string,
  taggedUnion,
  uint,
  violation,
  within,
  describeValue,
} from './schema.js';

/** ReadIndex contexts are host-chosen ids; a bound keeps a hostile peer from sending megabytes. */
export const readContextLengthMax = 256;

type HeaderKey = 'type' | 'from' | 'to' | 'term';
/** One check per field of T except the keys checked elsewhere (the tag, the shared header). */
type FieldsOf<T, Omitted extends string> = { readonly [K in Exclude<keyof T, Omitted>]-?: Check };
type MessageTable = {
  readonly [K in MessageType]: FieldsOf<Extract<Message, { type: K }>, HeaderKey>;
};
type EntryTable = { readonly [K in Entry['kind']]: FieldsOf<Extract<Entry, { kind: K }>, 'kind'> };
type ConfChangeTable = {
  readonly [K in ConfChange['type']]: FieldsOf<Extract<ConfChange, { type: K }>, 'type'>;
};

const confChangeFields: ConfChangeTable = {
  addLearner: { node: nodeId },
  addMember: { node: nodeId, peer: string(256), client: string(256) },
  promoteLearner: { node: nodeId },
  removeNode: { node: nodeId },
};

const entryFields: EntryTable = {
  noop: { term: uint, index: uint },
  command: { term: uint, index: uint, data: bytes },
  config: { term: uint, index: uint, change: taggedUnion('type', confChangeFields) },
};

/** ConfState.addresses: members added with their addresses (also read from a backup's header). */
export const addressedMembers: Check = arrayOf(exactObject({ node: nodeId, peer: string(256), client: string(256) }));
const confFields = { voters: arrayOf(nodeId), learners: arrayOf(nodeId) };
/** `addresses` is written only when a member was added with its addresses (ConfState). */
const confShape = exactObject(confFields);
const confShapeWithAddresses = exactObject({ ...confFields, addresses: addressedMembers });

const confState = refine(
  (value) => (isPlainObject(value) && Object.hasOwn(value, 'addresses') ? confShapeWithAddresses : confShape)(value),
  (value) => {
    const voters = value['voters'] as readonly string[];
    const learners = value['learners'] as readonly string[];
    const seen = new Set<string>();
    for (const id of [...voters, ...learners]) {
      if (seen.has(id)) return violation(`node ${id} listed twice in voters/learners`);
      seen.add(id);
    }
    const addressed = new Set<string>();
    const addresses = (value['addresses'] ?? []) as readonly { readonly node: string }[];
    for (const [i, { node }] of addresses.entries()) {
      if (!seen.has(node)) return within(`.addresses[${i}].node`, violation(`${node} is not a member`));
      if (addressed.has(node)) return within(`.addresses[${i}].node`, violation(`${node} listed twice`));
      addressed.add(node);
    }
    return null;
  },
);

const snapshotMeta = exactObject({ index: uint, term: uint, conf: confState });
const readContext = string(readContextLengthMax);

const messageFields: MessageTable = {
  RequestVote: { preVote: boolean, lastIndex: uint, lastTerm: uint, transfer: boolean },
  RequestVoteResponse: { preVote: boolean, granted: boolean },
  AppendEntries: {
    prevIndex: uint,
    prevTerm: uint,
    entries: arrayOf(taggedUnion('kind', entryFields)),
    commit: uint,
  },
  AppendEntriesResponse: { accepted: boolean, index: uint, hintIndex: uint, hintTerm: uint },
  Heartbeat: { commit: uint, context: nullable(readContext) },
  HeartbeatResponse: { context: nullable(readContext) },
  InstallSnapshot: {
    meta: snapshotMeta,
    offset: uint,
    data: bytes,
    totalBytes: uint,
    done: boolean,
  },
  InstallSnapshotResponse: { snapshotIndex: uint, nextOffset: uint, done: boolean },
  TimeoutNow: {},
  ReadIndex: { context: readContext },
  ReadIndexResponse: { context: readContext, index: nullable(uint) },
};

type Rule = (message: Readonly<Record<string, unknown>>) => SchemaViolation | null;

/**
 * Cross-field rules checked once here so the core can trust them (etcd's logSlice "gateway"):
 * AppendEntries carries a contiguous run right after prevIndex whose terms never decrease, start at
 * or after prevTerm and never exceed the sender's term (Raft §5.3, Figure 2).
 */
const messageRules: { readonly [K in MessageType]?: Rule } = {
  AppendEntries: (message) => {
    const entries = message['entries'] as readonly Entry[];
    let index = message['prevIndex'] as number;
    let termFloor = message['prevTerm'] as number;
    const termCeiling = message['term'] as number;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i] as Entry;
      index += 1;
      const at = `.entries[${i}]`;
      if (entry.index !== index) return within(`${at}.index`, violation(`expected ${index}`));
      if (entry.term < termFloor) return within(`${at}.term`, violation('term decreases'));
      if (entry.term > termCeiling) return within(`${at}.term`, violation('above message term'));
      termFloor = entry.term;
    }
    if (!Number.isSafeInteger(index)) return within('.entries', violation('index overflow'));
    return null;
  },
  InstallSnapshot: (message) => {
    const end = (message['offset'] as number) + (message['data'] as Uint8Array).byteLength;
    if (end > (message['totalBytes'] as number)) {
      return within('.data', violation('chunk ends past totalBytes'));
    }
    return null;
  },
};

const messageChecks: ReadonlyMap<string, Check> = new Map(
  (Object.keys(messageFields) as MessageType[]).map((type) => {
    const header = { type: literal(type), from: nodeId, to: nodeId, term: uint };
    const shape = exactObject({ ...header, ...messageFields[type] });
    const rule = messageRules[type];
    const checked = refine(shape, (message) => {
      if (message['from'] === message['to']) {
        return within('.to', violation('message addressed to its sender'));
      }
      return rule === undefined ? null : rule(message);
    });
    return [type, checked] as const;
  }),
);

/**
 * Accepts `value` only if it is exactly one member of the Message union: known type, every field
 * present with the right type, no extra field, node ids valid, integers safe and non-negative,
 * plus the cross-field rules above.
 */
export function validateMessage(value: unknown): SchemaViolation | null {
  if (!isPlainObject(value)) return { path: '$', reason: 'expected an object' };
  const type = value['type'];
  const check = typeof type === 'string' ? messageChecks.get(type) : undefined;
  if (check === undefined) {
    return { path: '$.type', reason: `unknown message type ${describeValue(type)}` };
  }
  const bad = check(value);
  return bad === null ? null : within('$', bad);
}

export function isMessage(value: unknown): value is Message {
  return validateMessage(value) === null;
}
