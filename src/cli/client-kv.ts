import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import type { PutOptions } from '../client/types.js';
import type { ClusterOptions } from './client-common.js';
import {
  action,
  CliExit,
  clusterOptions,
  exitCodes,
  integerOption,
  openClient,
  print,
  sessionlessClient,
  showBytes,
  toJson,
} from './client-common.js';

interface WriteOptions extends ClusterOptions {
  readonly ifVersion?: number;
  readonly fence?: { readonly lock: string; readonly token: number };
}

/** Where a written value comes from: the argument, `-` (stdin) or --file; --base64 decodes it. */
interface ValueOptions {
  readonly file?: string;
  readonly base64?: boolean;
}

/** `kv get` output: raw bytes to a file, or base64 on stdout. */
interface ReadOptions extends ClusterOptions {
  readonly output?: string;
  readonly base64?: boolean;
}

interface ListOptions extends ClusterOptions {
  readonly limit: number;
  readonly after?: string;
}

/** The Unicode replacement character: what Node makes of argument bytes that are not UTF-8. */
const replacement = '\uFFFD';

async function readStdin(): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function decodeBase64(text: string, from: string): Uint8Array {
  const compact = text.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 !== 0) {
    throw new CliExit(exitCodes.usage, `${from} is not base64 (--base64 was given)`);
  }
  return Buffer.from(compact, 'base64');
}

/**
 * The bytes to write. An argument reaches us already decoded as UTF-8, with bytes that were not
 * UTF-8 turned into U+FFFD; writing that would silently change the value, so it is refused.
 */
async function valueBytes(value: string | undefined, options: ValueOptions): Promise<Uint8Array> {
  if (options.file !== undefined && value !== undefined) {
    throw new CliExit(exitCodes.usage, 'give the value either as an argument or with --file, not both');
  }
  if (options.file === undefined && value === undefined) {
    throw new CliExit(exitCodes.usage, 'missing value: give VALUE, - (read standard input) or --file PATH');
  }
  let bytes: Uint8Array;
  let from: string;
  if (options.file !== undefined) {
    from = options.file;
    try {
      bytes = await readFile(options.file);
    } catch (error: unknown) {
      throw new CliExit(exitCodes.usage, `cannot read --file ${options.file}: ${(error as Error).message}`);
    }
  } else if (value === '-') {
    from = 'standard input';
    bytes = await readStdin();
  } else {
    const text = value ?? '';
    if (options.base64 === true) return decodeBase64(text, 'VALUE');
    if (text.includes(replacement)) {
      throw new CliExit(
        exitCodes.usage,
        'VALUE is not valid UTF-8 (or holds U+FFFD); pass binary values with --file PATH, - (standard input) or --base64',
      );
    }
    return new TextEncoder().encode(text);
  }
  return options.base64 === true ? decodeBase64(Buffer.from(bytes).toString('latin1'), from) : bytes;
}

function fenceOption(text: string): { lock: string; token: number } {
  const at = text.lastIndexOf(':');
  const token = Number(text.slice(at + 1));
  if (at <= 0 || !Number.isSafeInteger(token) || token < 0) {
    throw new InvalidArgumentError('write it as LOCK:TOKEN');
  }
  return { lock: text.slice(0, at), token };
}

function writeOptions(options: WriteOptions): PutOptions {
  return {
    ...(options.ifVersion === undefined ? {} : { ifVersion: options.ifVersion }),
    ...(options.fence === undefined ? {} : { fence: options.fence }),
  };
}

/** `kv get KEY`: prints the value (exit 1 if the key does not exist). */
async function runGet(key: string, options: ReadOptions): Promise<number> {
  const { client } = await sessionlessClient(options);
  try {
    const view = await client.kv.get(key);
    if (view === null) throw new CliExit(exitCodes.refused, `no key ${key}`);
    if (options.output !== undefined) await writeFile(options.output, view.value);
    else if (options.json === true)
      print(toJson(options.base64 === true ? { ...view, value: base64(view.value) } : view));
    else if (options.base64 === true) print(base64(view.value));
    else print(showBytes(view.value));
    return exitCodes.ok;
  } finally {
    client.abandon();
  }
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

/** `kv list PREFIX`: one `KEY<TAB>VALUE` line per key; a continuation hint on stderr when more remain. */
async function runList(prefix: string, options: ListOptions): Promise<number> {
  const { client } = await sessionlessClient(options);
  try {
    const page = await client.kv.list(prefix, {
      limit: options.limit,
      ...(options.after === undefined ? {} : { after: options.after }),
    });
    if (options.json === true) {
      print(toJson(page));
    } else {
      for (const view of page.keys) print(`${view.key}\t${showBytes(view.value)}`);
      if (page.next !== null) {
        process.stderr.write(
          `raftlock: more keys after ${page.next}: continue with --after ${JSON.stringify(page.next)}\n`,
        );
      }
    }
    return exitCodes.ok;
  } finally {
    client.abandon();
  }
}

function listLimit(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1 || value > 1000) {
    throw new InvalidArgumentError(`${JSON.stringify(text)} is not an integer from 1 to 1000`);
  }
  return value;
}

async function runPut(key: string, value: string | undefined, options: WriteOptions & ValueOptions): Promise<number> {
  const bytes = await valueBytes(value, options);
  const client = await openClient(options);
  try {
    const put = await client.kv.put(key, bytes, writeOptions(options));
    print(options.json === true ? toJson({ key, ...put }) : `${key} version ${put.version}`);
    return exitCodes.ok;
  } finally {
    await client.close();
  }
}

/** `kv cas KEY VERSION VALUE`: exit 1 (and the current version) when the version differs. */
async function runCas(
  key: string,
  version: number,
  value: string | undefined,
  options: ClusterOptions & ValueOptions,
): Promise<number> {
  const bytes = await valueBytes(value, options);
  const client = await openClient(options);
  try {
    const result = await client.kv.cas(key, version, bytes);
    if (options.json === true) print(toJson({ key, ...result }));
    else if (result.ok) print(`${key} version ${result.version}`);
    else process.stderr.write(`raftlock: ${key} is at version ${result.version}, not ${version}\n`);
    return result.ok ? exitCodes.ok : exitCodes.refused;
  } finally {
    await client.close();
  }
}

async function runDelete(key: string, options: WriteOptions): Promise<number> {
  const client = await openClient(options);
  try {
    const existed = await client.kv.delete(key, writeOptions(options));
    if (options.json === true) print(toJson({ key, existed }));
    else print(existed ? `deleted ${key}` : `no key ${key}`);
    return existed ? exitCodes.ok : exitCodes.refused;
  } finally {
    await client.close();
  }
}

function conditional(command: Command): Command {
  return command
    .option('--if-version <n>', 'only if the key is at version n (0: absent)', integerOption)
    .option('--fence <lock:token>', 'only if token is a current grant of lock', fenceOption);
}

function valueSource(command: Command): Command {
  return command
    .option('--file <path>', 'write the bytes of this file')
    .option('--base64', 'the value (argument, standard input or file) is base64 text');
}

export function registerKvCommands(program: Command): void {
  const kv = program.command('kv').description('the versioned key/value store: get, put, cas, del, list');
  clusterOptions(
    kv
      .command('get')
      .description('print a key’s value')
      .argument('<key>')
      .option('--output <file>', 'write the value’s bytes to FILE instead of printing it')
      .option('--base64', 'print the value as base64'),
    true,
  ).action(action(runGet));
  clusterOptions(
    kv
      .command('list')
      .description('list keys starting with PREFIX with their values, in key order')
      .argument('<prefix>')
      .option('--limit <n>', 'at most n keys (1 to 1000)', listLimit, 100)
      .option('--after <key>', 'start after this key (the continuation printed by the previous page)'),
    true,
  ).action(action(runList));
  clusterOptions(
    valueSource(
      conditional(
        kv
          .command('put')
          .description('write a key')
          .argument('<key>')
          .argument('[value]', 'the value; - reads standard input'),
      ),
    ),
    true,
  ).action(action(runPut));
  clusterOptions(
    valueSource(
      kv
        .command('cas')
        .description('write a key only if it is at VERSION (0: only if absent); exit 1 otherwise')
        .argument('<key>')
        .argument('<version>', 'expected version', integerOption)
        .argument('[value]', 'the value; - reads standard input'),
    ),
    true,
  ).action(action(runCas));
  clusterOptions(
    conditional(
      kv
        .command('del')
        .alias('delete') // Consul's and ZooKeeper's word for it
        .description('delete a key (exit 1 if it did not exist)')
        .argument('<key>'),
    ),
    true,
  ).action(action(runDelete));
}
