/**
 * Real node processes for the chaos run, controlled by PID: start with output to a log file,
 * SIGKILL (and wait until the process is gone), SIGSTOP/SIGCONT, restart with the same command.
 * Every process started here is killed when this process exits, so a failed run leaves nothing
 * behind.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';

export type ProcessSpec = {
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** stdout and stderr are appended here. */
  readonly logPath: string;
};

const running = new Set<ManagedProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const p of running) p.killNow();
  });
}

export type ProcessState = 'running' | 'paused' | 'exited';

export class ManagedProcess {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private paused = false;
  /** How the last run ended: an exit code or a signal name. */
  lastExit: { code: number | null; signal: string | null } | null = null;
  starts = 0;

  constructor(
    readonly name: string,
    private readonly spec: ProcessSpec,
  ) {}

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  get state(): ProcessState {
    if (this.child === null) return 'exited';
    return this.paused ? 'paused' : 'running';
  }

  /** Starts the process (again); it must not be running. */
  start(): void {
    if (this.child !== null) throw new Error(`${this.name} is already running (pid ${this.pid ?? '?'})`);
    installExitHook();
    const log = openSync(this.spec.logPath, 'a');
    try {
      const child = spawn(this.spec.command, [...this.spec.args], {
        cwd: this.spec.cwd,
        env: { ...process.env, ...this.spec.env },
        stdio: ['ignore', log, log],
      });
      this.child = child;
      this.paused = false;
      this.starts++;
      running.add(this);
      this.exited = new Promise((resolve) => {
        child.once('exit', (code, signal) => {
          this.lastExit = { code, signal };
          if (this.child === child) this.child = null;
          running.delete(this);
          resolve();
        });
        child.once('error', (error) => {
          this.lastExit = { code: null, signal: `spawn failed: ${error.message}` };
          if (this.child === child) this.child = null;
          running.delete(this);
          resolve();
        });
      });
    } finally {
      closeSync(log);
    }
  }

  /** SIGKILL, then waits until the process has exited. A no-op if it is not running. */
  async kill(): Promise<void> {
    this.killNow();
    await this.exited;
  }

  /** SIGSTOP: the process keeps its sockets but does nothing (the classic lock hazard). */
  pause(): void {
    if (this.child === null || this.paused) return;
    this.child.kill('SIGSTOP');
    this.paused = true;
  }

  resume(): void {
    if (this.child === null || !this.paused) return;
    this.child.kill('SIGCONT');
    this.paused = false;
  }

  /** Resolves when the current run ends (at once if not running). */
  waitExit(): Promise<void> {
    return this.exited;
  }

  /** @internal synchronous kill for the exit hook. */
  killNow(): void {
    const child = this.child;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    // A stopped process still dies of SIGKILL; no SIGCONT needed.
    child.kill('SIGKILL');
  }
}
