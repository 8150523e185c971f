/**
 * Real node processes for the chaos run, controlled by PID: start with output to a log file,
 * SIGKILL (and wait until the process is gone), SIGSTOP/SIGCONT, restart with the same command.
 * Each run is a `NodeProcess` of src/server/node-process.ts tethered `kill-on-exit`: a failed run
 * leaves nothing behind, and a node paused by the nemesis still dies with this process.
 */
import { superviseProcess } from '../server/node-process.js';
import type { NodeExit, NodeProcess, ProcessCommand } from '../server/node-process.js';

export type ProcessSpec = ProcessCommand & {
  /** stdout and stderr are appended here. */
  readonly logPath: string;
};

export type ProcessState = 'running' | 'paused' | 'exited';

/** One node of the chaos cluster across its restarts. */
export class ManagedProcess {
  private run: NodeProcess | null = null;
  private paused = false;
  /** How the last run ended. */
  lastExit: NodeExit | null = null;
  starts = 0;

  constructor(
    readonly name: string,
    private readonly spec: ProcessSpec,
  ) {}

  get pid(): number | null {
    return this.run?.running === true ? (this.run.pid ?? null) : null;
  }

  get state(): ProcessState {
    if (this.run === null || !this.run.running) return 'exited';
    return this.paused ? 'paused' : 'running';
  }

  /** Starts the process (again); it must not be running. */
  start(): void {
    if (this.run?.running === true) throw new Error(`${this.name} is already running (pid ${this.pid ?? '?'})`);
    const { logPath, ...command } = this.spec;
    const run = superviseProcess(this.name, command, {
      output: { kind: 'file', path: logPath },
      tether: 'kill-on-exit',
    });
    this.run = run;
    this.paused = false;
    this.starts++;
    void run.exited.then((exit) => {
      this.lastExit = exit;
    });
  }

  /** SIGKILL, then waits until the process has exited. A no-op if it is not running. */
  async kill(): Promise<void> {
    if (this.run === null) return;
    this.lastExit = await this.run.kill();
  }

  /** SIGSTOP: the process keeps its sockets but does nothing (the classic lock hazard). */
  pause(): void {
    if (this.state !== 'running') return;
    this.run?.signal('SIGSTOP');
    this.paused = true;
  }

  resume(): void {
    if (this.state !== 'paused') return;
    this.run?.signal('SIGCONT');
    this.paused = false;
  }

  /** Resolves when the current run ends (at once if not running). */
  async waitExit(): Promise<void> {
    await this.run?.exited;
  }
}
