/**
 * Versioned keys with compare-and-set, one register per key. An absent key has version 0; a put
 * returns the key's new version, which must exceed every version the key had since it was last
 * created (a per-key counter that starts again at 1 after a delete, as raftlock's and etcd's
 * `version` do, and a global revision both qualify), and `ifVersion` makes it conditional (0: only
 * if absent). Once the key may have been deleted, the next creation may start from 1 again.
 * A refused conditional put reports the key's current version; a get returns value and version.
 *
 * Unknown outcomes make the state partly unknown (the version after an unknown put; after an
 * ambiguous conditional one, whether the key exists and which of the written values it holds);
 * later reads pin it down again. A read of a value that was never written is always a violation. The state never claims more than
 * the history proves, so an unknown outcome can never cause a false alarm.
 */
import { assertNever } from '../../../util/assert.js';
import { accept, refuse } from '../model.js';
import type { Model, Operation, StepResult } from '../model.js';

export type KvInput =
  | { readonly type: 'put'; readonly key: string; readonly value: string; readonly ifVersion: number | null }
  | { readonly type: 'get'; readonly key: string }
  | { readonly type: 'delete'; readonly key: string; readonly ifVersion: number | null };

export type KvOutput =
  | { readonly type: 'put'; readonly ok: boolean; readonly version: number }
  | { readonly type: 'get'; readonly value: string | null; readonly version: number }
  | { readonly type: 'delete'; readonly deleted: boolean };

export type KvState = {
  readonly present: 'yes' | 'no' | 'maybe';
  /** The values the key may hold when present: sorted, and only ever values that were written. */
  readonly values: readonly string[];
  /** The current version when `exact`; otherwise a lower bound of it (if present). */
  readonly version: number;
  readonly exact: boolean;
  /** Every later new version must exceed this (0 whenever the key may be absent). */
  readonly floor: number;
};

/** A deleted key may be created again from version 1, so an absent key has no floor. */
const absent = (): KvState => ({ present: 'no', values: [], version: 0, exact: true, floor: 0 });
const union = (values: readonly string[], value: string): string[] => [...new Set([...values, value])].sort();

/** Could the key's current version be `v`? */
function canBe(s: KvState, v: number): boolean {
  switch (s.present) {
    case 'no':
      return v === 0;
    case 'yes':
      return s.exact ? v === s.version : v >= s.version && v >= 1;
    case 'maybe':
      return v === 0 || v >= Math.max(1, s.version);
    default:
      return assertNever(s.present, 'presence');
  }
}

/** Could the key's current version be something other than `v`? */
function canBeOther(s: KvState, v: number): boolean {
  if (s.present === 'no') return v !== 0;
  if (s.present === 'yes' && s.exact) return v !== s.version;
  return true;
}

/** The state after observing the current version (and the value, when given). */
function observe(s: KvState, version: number, value: string | null | undefined): KvState {
  if (version === 0) return absent();
  const values = value !== undefined && value !== null ? [value] : s.values;
  return { present: 'yes', values, version, exact: true, floor: Math.max(s.floor, version) };
}

function putStep(
  s: KvState,
  input: Extract<KvInput, { type: 'put' }>,
  output: KvOutput | undefined,
): StepResult<KvState> {
  const cond = input.ifVersion;
  const mayMatch = cond === null || canBe(s, cond);
  const mayMiss = cond !== null && canBeOther(s, cond);
  if (output === undefined) {
    if (!mayMatch) return accept(s);
    const written: KvState = {
      present: 'yes',
      values: [input.value],
      version: s.floor + 1,
      exact: false,
      floor: s.floor + 1,
    };
    if (!mayMiss) return accept(written);
    // Either outcome is possible: keep only what both share.
    const present = s.present === 'yes' ? 'yes' : 'maybe';
    return accept({
      present,
      values: union(s.values, input.value),
      version: s.present === 'yes' ? s.version : 0,
      exact: false,
      floor: present === 'yes' ? s.floor : 0,
    });
  }
  if (output.type !== 'put') return refuse(`a ${output.type} result for a put`);
  if (output.ok) {
    if (!mayMatch) return refuse(`ifVersion ${cond ?? ''} cannot match: ${describe(s)}`);
    if (!(output.version > s.floor))
      return refuse(`new version ${output.version} is not above ${s.floor}, which the key had before`);
    return accept({
      present: 'yes',
      values: [input.value],
      version: output.version,
      exact: true,
      floor: output.version,
    });
  }
  if (!mayMiss)
    return refuse(
      cond === null ? 'an unconditional put cannot be refused' : `ifVersion ${cond} matches, so the put must succeed`,
    );
  if (output.version === cond)
    return refuse(`refused although the reported version ${output.version} equals ifVersion`);
  if (!canBe(s, output.version)) return refuse(`reported version ${output.version} but ${describe(s)}`);
  return accept(observe(s, output.version, undefined));
}

function getStep(s: KvState, output: KvOutput | undefined): StepResult<KvState> {
  if (output === undefined) return accept(s);
  if (output.type !== 'get') return refuse(`a ${output.type} result for a get`);
  if ((output.version === 0) !== (output.value === null))
    return refuse(`read version ${output.version} with value ${JSON.stringify(output.value)}`);
  if (!canBe(s, output.version)) return refuse(`read version ${output.version} but ${describe(s)}`);
  if (output.value !== null && !s.values.includes(output.value)) {
    return refuse(`read ${JSON.stringify(output.value)} but ${describe(s)}`);
  }
  return accept(observe(s, output.version, output.value));
}

function deleteStep(
  s: KvState,
  input: Extract<KvInput, { type: 'delete' }>,
  output: KvOutput | undefined,
): StepResult<KvState> {
  const cond = input.ifVersion;
  const mayDelete = s.present !== 'no' && (cond === null || (cond !== 0 && canBe(s, cond)));
  const mayKeep = s.present !== 'yes' || (cond !== null && canBeOther(s, cond));
  if (output === undefined) {
    if (!mayDelete) return accept(s);
    if (!mayKeep || cond === null) return accept(absent());
    return accept({
      present: 'maybe',
      values: s.values,
      version: s.present === 'yes' ? s.version : 0,
      exact: false,
      floor: 0,
    });
  }
  if (output.type !== 'delete') return refuse(`a ${output.type} result for a delete`);
  if (output.deleted) return mayDelete ? accept(absent()) : refuse(`cannot delete: ${describe(s)}`);
  if (!mayKeep) return refuse(`the delete must succeed: ${describe(s)}`);
  return accept(cond === null ? absent() : s);
}

function describe(s: KvState): string {
  const value = s.values.length === 1 ? JSON.stringify(s.values[0]) : `one of ${JSON.stringify(s.values)}`;
  switch (s.present) {
    case 'no':
      return 'the key is absent';
    case 'yes':
      return `the key holds ${value} at version ${s.exact ? '' : '>= '}${s.version}`;
    case 'maybe':
      return `the key is absent or holds ${value} at version >= ${Math.max(1, s.version)}`;
    default:
      return assertNever(s.present, 'presence');
  }
}

export const kvModel: Model<KvState, KvInput, KvOutput> = {
  name: 'versioned keys',
  init: () => absent(),
  step: (s, input, output) => {
    switch (input.type) {
      case 'put':
        return putStep(s, input, output);
      case 'get':
        return getStep(s, output);
      case 'delete':
        return deleteStep(s, input, output);
      default:
        return assertNever(input, 'kv input');
    }
  },
  hash: (s) => JSON.stringify([s.present, s.values, s.version, s.exact, s.floor]),
  equal: (a, b) =>
    a.present === b.present &&
    a.version === b.version &&
    a.exact === b.exact &&
    a.floor === b.floor &&
    a.values.length === b.values.length &&
    a.values.every((v, i) => v === b.values[i]),
  unknownFirst: true,
  // A read whose answer never came changes nothing and observed nothing: it cannot matter.
  reduce: (ops: readonly Operation<KvInput, KvOutput>[]) =>
    ops.filter((op) => !(op.input.type === 'get' && op.output === undefined)),
  partitionKey: (input) => input.key,
  describeOperation: (input, output) => {
    let out = '?';
    if (output !== undefined) {
      if (output.type === 'put')
        out = output.ok ? `ok, version ${output.version}` : `refused, version ${output.version}`;
      else if (output.type === 'get') out = `${JSON.stringify(output.value)} at version ${output.version}`;
      else out = output.deleted ? 'deleted' : 'not deleted';
    }
    const cond = 'ifVersion' in input && input.ifVersion !== null ? `, ifVersion ${input.ifVersion}` : '';
    switch (input.type) {
      case 'put':
        return `put(${input.key}, ${JSON.stringify(input.value)}${cond}) -> ${out}`;
      case 'get':
        return `get(${input.key}) -> ${out}`;
      case 'delete':
        return `delete(${input.key}${cond}) -> ${out}`;
      default:
        return assertNever(input, 'kv input');
    }
  },
  describeState: describe,
};
