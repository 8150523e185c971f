/**
 * One supervisor for `raftlock start` child processes, shared by `raftlock up` (launcher.ts), the
 * chaos run (src/chaos/processes.ts) and the end-to-end tests (test/e2e/fixtures/procs.ts): start a
 * node, know when it serves (its ready line), signal it by PID, stop it gracefully (SIGTERM, then
 * SIGKILL after a grace period), kill it, and say how it ended, naming the signal.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { cliCommand } from './cli-command.js';

/** The line a node prints on stdout once it serves (src/cli/start.ts writes it). */
export const readyLinePrefix = 'raftlock node';

/** Where a node's stdout and stderr go. */
export type NodeOutput =
  /** Read here line by line (and scanned for the ready line); `keep` also retains the text for `output()`. */
  | { readonly kind: 'lines'; readonly onLine?: (line: string) => void; readonly keep?: boolean }
  /** Appended to a file by the node itself, so the log survives whatever this process does. */
  | { readonly kind: 'file'; readonly path: string };

/**
 * How a node is tied to this process so that none outlives it:
 * - `stdin`: the node holds a pipe from this process on its stdin and stops gracefully when it closes
 *   (`--stop-on-stdin-close`), even when this process dies of SIGKILL or a test runner's timeout;
 * - `kill-on-exit`: SIGKILLed from this process's exit handler (for nodes that are SIGSTOPped on purpose
 *   and so would not notice a closed pipe).
 */
export type NodeTether = 'stdin' | 'kill-on-exit';

/** A program to run: its executable, arguments and additions to this process's environment. */
export interface ProcessCommand {
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
}

/** How a supervised process is run. */
export interface SuperviseOptions {
  readonly output: NodeOutput;
  readonly tether: NodeTether;
  /**
   * Its own process group: a terminal's Ctrl-C then reaches this process only, which stops each node
   * once (a second signal would make a node exit at once).
   */
  readonly ownProcessGroup?: boolean;
}

export interface NodeProcessOptions extends SuperviseOptions {
  readonly node: string;
  /** The cluster.yml the node reads. */
  readonly configFile: string;
  readonly logLevel: string;
  /** `text` unless told. */
  readonly logFormat?: string;
  /** Added to this process's environment. */
  readonly env?: Readonly<Record<string, string>>;
}

/** How a node process ended. */
export type NodeExit =
  | { readonly kind: 'exited'; readonly code: number }
  | { readonly kind: 'killed'; readonly signal: NodeJS.Signals }
  | { readonly kind: 'failed'; readonly error: string };

export function describeExit(exit: NodeExit): string {
  switch (exit.kind) {
    case 'exited':
      return `exited with code ${exit.code}`;
    case 'killed':
      return `killed by ${exit.signal}`;
    case 'failed':
      return `failed to start: ${exit.error}`;
  }
}

const killOnExit = new Set<NodeProcess>();
let exitHookInstalled = false;

function tetherToExit(proc: NodeProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const p of killOnExit) p.signal('SIGKILL');
    });
  }
  killOnExit.add(proc);
  void proc.exited.then(() => killOnExit.delete(proc));
}

/** One run of one node process: started by `startNodeProcess`, controlled by its PID. */
export class NodeProcess {
  /** Resolves once the node printed its ready line; rejects if it ends first (the error names how). */
  readonly ready: Promise<void>;
  readonly exited: Promise<NodeExit>;
  private ended: NodeExit | null = null;
  private text = '';

  /** @internal use `startNodeProcess`. */
  constructor(
    readonly name: string,
    private readonly child: ChildProcess,
    output: NodeOutput,
  ) {
    this.exited = new Promise((resolve) => {
      const end = (exit: NodeExit): void => {
        if (this.ended !== null) return;
        this.ended = exit;
        resolve(exit);
      };
      child.once('exit', (code, signal) =>
        end(signal !== null ? { kind: 'killed', signal } : { kind: 'exited', code: code ?? 0 }),
      );
      child.once('error', (error) => end({ kind: 'failed', error: error.message }));
    });
    this.ready = new Promise<void>((resolve, reject) => {
      if (output.kind === 'lines') {
        const onLine = (line: string, stdout: boolean): void => {
          if (output.keep === true) this.text += `${line}\n`;
          output.onLine?.(line);
          if (stdout && line.startsWith(readyLinePrefix)) resolve();
        };
        if (child.stdout !== null) createInterface({ input: child.stdout }).on('line', (line) => onLine(line, true));
        if (child.stderr !== null) createInterface({ input: child.stderr }).on('line', (line) => onLine(line, false));
      }
      // After 'close', not 'exit': by then every line it printed has been read.
      child.once('close', () => {
        const exit: NodeExit = this.ended ?? { kind: 'failed', error: 'closed without an exit' };
        const printed = output.kind === 'lines' && output.keep === true ? `:\n${this.text}` : '';
        reject(new Error(`${name} ${describeExit(exit)} before it was ready${printed}`));
      });
    });
    // A caller that only cares about the exit need not handle the refusal of readiness.
    this.ready.catch(() => undefined);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** True until the process has ended. */
  get running(): boolean {
    return this.ended === null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** How the process ended, or null while it runs. */
  get exit(): NodeExit | null {
    return this.ended;
  }

  /** Everything it printed so far, when its output is read with `keep`. */
  output(): string {
    return this.text;
  }

  /** Sends `signal` to the process by PID; a no-op once it has ended. */
  signal(signal: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (pid === undefined || !this.running) return;
    try {
      process.kill(pid, signal);
    } catch {
      // It ended between the check and the signal.
    }
  }

  /** Closes a `stdin`-tethered node's lifeline, as if this process had died: the node stops gracefully. */
  closeLifeline(): void {
    this.child.stdin?.end();
  }

  /** SIGKILL, then waits until the process is gone. A stopped (SIGSTOP) process dies of it too. */
  async kill(): Promise<NodeExit> {
    this.signal('SIGKILL');
    return this.exited;
  }

  /** SIGTERM (the node closes its connections and storage), SIGKILL if still running after `graceMs`. */
  async stop(graceMs: number): Promise<NodeExit> {
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * The command line of `raftlock start` for one node, run with the CLI this code runs as (see
 * `cliCommand`); `stopOnStdinClose` for a node tethered by its stdin.
 */
export function nodeStartCommand(
  options: Pick<NodeProcessOptions, 'node' | 'configFile' | 'logLevel' | 'logFormat' | 'env'>,
  stopOnStdinClose: boolean,
): ProcessCommand {
  const cli = cliCommand();
  const args = [
    ...cli.args,
    'start',
    '--node',
    options.node,
    '--config',
    options.configFile,
    '--log-level',
    options.logLevel,
    '--log-format',
    options.logFormat ?? 'text',
    ...(stopOnStdinClose ? ['--stop-on-stdin-close'] : []),
  ];
  return { command: cli.command, args, ...(options.env === undefined ? {} : { env: options.env }) };
}

/** Spawns `raftlock start --node …` for one node and supervises it. */
export function startNodeProcess(options: NodeProcessOptions): NodeProcess {
  return superviseProcess(options.node, nodeStartCommand(options, options.tether === 'stdin'), options);
}

/**
 * Spawns `run` and supervises it as a node process (`name` is what errors call it). Node processes come
 * from `startNodeProcess`; this entry also serves programs standing in for a node in tests.
 */
export function superviseProcess(name: string, run: ProcessCommand, options: SuperviseOptions): NodeProcess {
  const stdin = options.tether === 'stdin' ? 'pipe' : 'ignore';
  const spawnOptions = {
    env: { ...process.env, ...run.env },
    detached: options.ownProcessGroup ?? false,
    ...(run.cwd === undefined ? {} : { cwd: run.cwd }),
  };
  let child: ChildProcess;
  if (options.output.kind === 'file') {
    const log = openSync(options.output.path, 'a');
    try {
      child = spawn(run.command, [...run.args], { ...spawnOptions, stdio: [stdin, log, log] });
    } finally {
      closeSync(log);
    }
  } else {
    child = spawn(run.command, [...run.args], { ...spawnOptions, stdio: [stdin, 'pipe', 'pipe'] });
  }
  const proc = new NodeProcess(name, child, options.output);
  if (options.tether === 'kill-on-exit') tetherToExit(proc);
  return proc;
}
