/**
 * The chaos test's operation history: every client operation is an `invoke` event followed by at
 * most one `complete` event, written as JSON lines (one file per client process; the reader merges
 * files). Times are microseconds of the machine's monotonic clock (`process.hrtime`, which is
 * CLOCK_MONOTONIC and so comparable across processes on one machine), never wall-clock time.
 *
 * Outcomes, as the checkers read them:
 * - `ok`: the operation took effect exactly once, somewhere between its invoke and complete times,
 *   and returned `result`. A refusal that depends on the state (a CAS conflict, a busy try-acquire,
 *   a fenced write refused for a stale token, NOT_HOLDER) is an `ok` with that result: the
 *   refusal is itself an observation to check.
 * - `fail`: the operation certainly had no effect (refused before it was proposed, e.g. NOT_LEADER
 *   or a connection that was never opened). The checkers drop it.
 * - `unknown`: the client gave up (a timeout, a lost connection after sending). The operation may
 *   have taken effect at any time after its invocation, even after the client gave up, so its
 *   completion time is treated as +∞. An invoke with no completion at all (the client process
 *   died) reads as `unknown`.
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { err, ok } from '../util/result.js';
import type { Result } from '../util/result.js';

/** One client operation, as invoked. Owners are session-scoped names chosen by the client. */
export type ChaosOp =
  | { readonly type: 'lock.acquire'; readonly lock: string; readonly owner: string }
  | { readonly type: 'lock.release'; readonly lock: string; readonly owner: string; readonly token: number }
  | { readonly type: 'sem.acquire'; readonly sem: string; readonly owner: string; readonly limit: number }
  | { readonly type: 'sem.release'; readonly sem: string; readonly owner: string; readonly limit: number }
  /**
   * The owner's session ended (expired or closed). Invoked at the send time of the last keepalive
   * the client saw acknowledged, completed when the client learned of the loss: the session ended
   * somewhere in between, releasing everything it held.
   */
  | { readonly type: 'session.end'; readonly owner: string }
  | { readonly type: 'kv.put'; readonly key: string; readonly value: string; readonly ifVersion: number | null }
  | { readonly type: 'kv.get'; readonly key: string }
  | { readonly type: 'kv.delete'; readonly key: string; readonly ifVersion: number | null }
  | { readonly type: 'fence.write'; readonly resource: string; readonly token: number; readonly value: string };

/** What an `ok` operation returned; the tag names the operation type it answers. */
export type ChaosResult =
  | { readonly type: 'lock.acquire'; readonly token: number }
  | { readonly type: 'lock.release'; readonly released: boolean }
  | { readonly type: 'sem.acquire'; readonly acquired: boolean }
  | { readonly type: 'sem.release'; readonly released: boolean }
  | { readonly type: 'session.end' }
  /** `version` is the key's new version when `ok`, the key's current version when refused. */
  | { readonly type: 'kv.put'; readonly ok: boolean; readonly version: number }
  /** An absent key reads as `value: null, version: 0`. */
  | { readonly type: 'kv.get'; readonly value: string | null; readonly version: number }
  | { readonly type: 'kv.delete'; readonly deleted: boolean }
  | { readonly type: 'fence.write'; readonly accepted: boolean };

/** What every event line carries: the operation's id, the client process that wrote it, and when. */
type EventStamp = {
  readonly id: string;
  readonly process: string;
  readonly atUs: number;
};

export type InvokeEvent = EventStamp & { readonly kind: 'invoke'; readonly op: ChaosOp };

/** How an operation ended: its result, or the error of a certain failure or of an unknown outcome. */
export type Outcome =
  | { readonly outcome: 'ok'; readonly result: ChaosResult }
  | { readonly outcome: 'fail'; readonly error: string }
  | { readonly outcome: 'unknown'; readonly error: string };

export type CompleteEvent = EventStamp & { readonly kind: 'complete' } & Outcome;

export type HistoryEvent = InvokeEvent | CompleteEvent;

/** One operation with its invocation and completion joined. `completeUs` is +∞ when unknown. */
export type HistoryOp = {
  readonly id: string;
  readonly process: string;
  readonly op: ChaosOp;
  readonly invokeUs: number;
  readonly completeUs: number;
} & Outcome;

/** Microseconds of the machine-wide monotonic clock. */
export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/**
 * Appends events to a JSON-lines file with one synchronous write per event, so that a client
 * killed mid-run leaves every event it had recorded (at worst a torn last line, which the reader
 * reports with its file and line).
 */
export class HistoryWriter {
  private readonly fd: number;
  private nextId = 0;
  private closed = false;

  constructor(
    readonly path: string,
    readonly process: string,
    private readonly clock: () => number = monotonicUs,
  ) {
    this.fd = openSync(path, 'a');
  }

  /** Records an invocation now (or at `atUs`) and returns its id. */
  invoke(op: ChaosOp, atUs: number = this.clock()): string {
    const id = `${this.process}:${this.nextId++}`;
    this.write({ kind: 'invoke', id, process: this.process, atUs, op });
    return id;
  }

  ok(id: string, result: ChaosResult): void {
    this.write({ kind: 'complete', id, process: this.process, atUs: this.clock(), outcome: 'ok', result });
  }

  fail(id: string, error: string): void {
    this.write({ kind: 'complete', id, process: this.process, atUs: this.clock(), outcome: 'fail', error });
  }

  unknown(id: string, error: string): void {
    this.write({ kind: 'complete', id, process: this.process, atUs: this.clock(), outcome: 'unknown', error });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }

  private write(event: HistoryEvent): void {
    if (this.closed) throw new Error(`history ${this.path} is closed`);
    writeSync(this.fd, `${JSON.stringify(event)}\n`);
  }
}

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const isStr = (v: unknown): v is string => typeof v === 'string';
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isBool = (v: unknown): v is boolean => typeof v === 'boolean';
const isVersionBound = (v: unknown): v is number | null => v === null || isNum(v);

/**
 * For each member of a union tagged by `type`, a check for each of its other fields: the compiler
 * makes the table name every field of every member, so a field added to an operation cannot go
 * unchecked when a history file is read back.
 */
type FieldChecks<U extends { readonly type: string }> = {
  readonly [T in U['type']]: {
    readonly [F in Exclude<keyof Extract<U, { readonly type: T }>, 'type'>]-?: (v: unknown) => boolean;
  };
};

const isStrOrNull = (v: unknown): v is string | null => v === null || isStr(v);

const opChecks: FieldChecks<ChaosOp> = {
  'lock.acquire': { lock: isStr, owner: isStr },
  'lock.release': { lock: isStr, owner: isStr, token: isNum },
  'sem.acquire': { sem: isStr, owner: isStr, limit: isNum },
  'sem.release': { sem: isStr, owner: isStr, limit: isNum },
  'session.end': { owner: isStr },
  'kv.put': { key: isStr, value: isStr, ifVersion: isVersionBound },
  'kv.get': { key: isStr },
  'kv.delete': { key: isStr, ifVersion: isVersionBound },
  'fence.write': { resource: isStr, token: isNum, value: isStr },
};

const resultChecks: FieldChecks<ChaosResult> = {
  'lock.acquire': { token: isNum },
  'lock.release': { released: isBool },
  'sem.acquire': { acquired: isBool },
  'sem.release': { released: isBool },
  'session.end': {},
  'kv.put': { ok: isBool, version: isNum },
  'kv.get': { value: isStrOrNull, version: isNum },
  'kv.delete': { deleted: isBool },
  'fence.write': { accepted: isBool },
};

/**
 * `v` as the member its `type` names, when every field of that member passes its check; fields
 * the member does not have are left behind. Null for anything else.
 */
function parseTagged<U extends { readonly type: string }>(checks: FieldChecks<U>, v: unknown): U | null {
  if (!isRecord(v) || !isStr(v['type']) || !Object.hasOwn(checks, v['type'])) return null;
  const fields: Record<string, (v: unknown) => boolean> = checks[v['type'] as U['type']];
  const parsed: Json = { type: v['type'] };
  for (const [name, check] of Object.entries(fields)) {
    if (!check(v[name])) return null;
    parsed[name] = v[name];
  }
  // Every field of the member named by `type` was checked above (FieldChecks lists them all).
  return parsed as U;
}

/** Validates one decoded JSON value as a history event. */
export function parseEvent(value: unknown): Result<HistoryEvent, string> {
  if (!isRecord(value)) return err('not an object');
  const { kind, id, process, atUs } = value;
  if (!isStr(id) || !isStr(process) || !isNum(atUs)) return err('missing id, process or atUs');
  if (kind === 'invoke') {
    const op = parseTagged(opChecks, value['op']);
    return op === null ? err(`bad op ${JSON.stringify(value['op'])}`) : ok({ kind, id, process, atUs, op });
  }
  if (kind !== 'complete') return err(`bad kind ${JSON.stringify(kind)}`);
  const outcome = value['outcome'];
  if (outcome === 'ok') {
    const result = parseTagged(resultChecks, value['result']);
    return result === null
      ? err(`bad result ${JSON.stringify(value['result'])}`)
      : ok({ kind, id, process, atUs, outcome, result });
  }
  if (outcome === 'fail' || outcome === 'unknown') {
    const error = value['error'];
    return isStr(error) ? ok({ kind, id, process, atUs, outcome, error }) : err('missing error');
  }
  return err(`bad outcome ${JSON.stringify(outcome)}`);
}

/** Parses JSON-lines text; `source` names the file in error messages. Blank lines are skipped. */
export function parseHistoryText(text: string, source: string): Result<HistoryEvent[], string> {
  const events: HistoryEvent[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]?.trim() ?? '';
    if (line === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      return err(`${source}:${i + 1}: not JSON`);
    }
    const event = parseEvent(value);
    if (!event.ok) return err(`${source}:${i + 1}: ${event.error}`);
    events.push(event.value);
  }
  return ok(events);
}

/**
 * Joins invocations with their completions. Errors: a completion without an invocation, two
 * events for one id, a completion before its invocation, or a result tagged for another op type.
 */
export function joinEvents(events: readonly HistoryEvent[]): Result<HistoryOp[], string> {
  const invokes = new Map<string, InvokeEvent>();
  const completes = new Map<string, CompleteEvent>();
  for (const event of events) {
    const table = event.kind === 'invoke' ? invokes : completes;
    if (table.has(event.id)) return err(`two ${event.kind} events for ${event.id}`);
    if (event.kind === 'invoke') invokes.set(event.id, event);
    else completes.set(event.id, event);
  }
  for (const id of completes.keys()) {
    if (!invokes.has(id)) return err(`completion of ${id} without an invocation`);
  }
  const ops: HistoryOp[] = [];
  for (const inv of invokes.values()) {
    const done = completes.get(inv.id);
    const base = { id: inv.id, process: inv.process, op: inv.op, invokeUs: inv.atUs };
    if (done === undefined) {
      ops.push({ ...base, completeUs: Infinity, outcome: 'unknown', error: 'never completed' });
      continue;
    }
    if (done.atUs < inv.atUs) return err(`${inv.id} completed before it was invoked`);
    switch (done.outcome) {
      case 'ok':
        if (done.result.type !== inv.op.type) {
          return err(`${inv.id}: a ${done.result.type} result for a ${inv.op.type} op`);
        }
        ops.push({ ...base, completeUs: done.atUs, outcome: 'ok', result: done.result });
        break;
      case 'fail':
        ops.push({ ...base, completeUs: done.atUs, outcome: 'fail', error: done.error });
        break;
      case 'unknown':
        ops.push({ ...base, completeUs: Infinity, outcome: 'unknown', error: done.error });
        break;
    }
  }
  ops.sort((a, b) => a.invokeUs - b.invokeUs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return ok(ops);
}

/** Reads and joins one or more history files (one per client process). */
export function readHistory(paths: readonly string[]): Result<HistoryOp[], string> {
  const all: HistoryEvent[] = [];
  for (const path of paths) {
    const parsed = parseHistoryText(readFileSync(path, 'utf8'), path);
    if (!parsed.ok) return parsed;
    all.push(...parsed.value);
  }
  return joinEvents(all);
}
