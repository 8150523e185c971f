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
async function runGet(key: string, options: ClusterOptions): Promise<number> {
  const { client } = await sessionlessClient(options);
  try {
    const view = await client.kv.get(key);
    if (view === null) throw new CliExit(exitCodes.refused, `no key ${key}`);
    if (options.json === true) print(toJson(view));
    else print(showBytes(view.value));
    return exitCodes.ok;
  } finally {
    client.abandon();
  }
}

async function runPut(key: string, value: string, options: WriteOptions): Promise<number> {
  const client = await openClient(options);
  try {
    const put = await client.kv.put(key, value, writeOptions(options));
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
  value: string,
  options: ClusterOptions,
): Promise<number> {
  const client = await openClient(options);
  try {
    const result = await client.kv.cas(key, version, value);
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

export function registerKvCommands(program: Command): void {
  const kv = program.command('kv').description('the versioned key/value store: get, put, cas, del');
  clusterOptions(
    kv.command('get').description('print a key’s value').argument('<key>'),
    true,
  ).action(action(runGet));
  clusterOptions(
    conditional(kv.command('put').description('write a key').argument('<key>').argument('<value>')),
    true,
  ).action(action(runPut));
  clusterOptions(
    kv
      .command('cas')
      .description('write a key only if it is at VERSION (0: only if absent); exit 1 otherwise')
      .argument('<key>')
      .argument('<version>', 'expected version', integerOption)
      .argument('<value>'),
    true,
  ).action(action(runCas));
  clusterOptions(
    conditional(
      kv.command('del').description('delete a key (exit 1 if it did not exist)').argument('<key>'),
    ),
    true,
  ).action(action(runDelete));
}
