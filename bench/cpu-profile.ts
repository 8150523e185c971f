// Reads the `.cpuprofile` files that `node --cpu-prof` writes and says where a process's CPU went
// inside a time window: self time per category (the Raft core, the socket layer, msgpackr, level,
// garbage collection, …), so a benchmark can print "µs per commit" for each. A profile's sample
// timestamps are µs of the machine's monotonic clock (CLOCK_MONOTONIC, the clock behind
// `process.hrtime`), so a window measured in the benchmark process selects the same stretch of
// time in every node's profile.

/** The parts of a V8 CPU profile this reader needs (the JSON `node --cpu-prof` writes). */
export interface CpuProfile {
  readonly nodes: readonly {
    readonly id: number;
    readonly callFrame: { readonly functionName: string; readonly url: string };
  }[];
  readonly startTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Checks the shape of parsed JSON before it is read as a profile. */
export function asCpuProfile(value: unknown, where: string): CpuProfile {
  const v = value as Partial<CpuProfile> | null;
  if (
    v === null ||
    typeof v !== 'object' ||
    !Array.isArray(v.nodes) ||
    !Array.isArray(v.samples) ||
    !Array.isArray(v.timeDeltas) ||
    typeof v.startTime !== 'number' ||
    v.samples.length !== v.timeDeltas.length
  )
    throw new Error(`${where} is not a V8 CPU profile (nodes, samples, timeDeltas, startTime)`);
  return v as CpuProfile;
}

/**
 * The category of a sampled function, by where its code lives. Native functions (no URL) keep
 * their own name: `writev`, `writeBuffer` and the like are the system calls' doorways.
 */
export function categoryOf(functionName: string, url: string): string {
  if (url === '') {
    if (functionName === '(idle)') return 'idle';
    if (functionName === '(garbage collector)') return 'garbage collection';
    if (functionName === '(program)') return 'V8 and native (program)';
    return `native ${functionName || '(anonymous)'}`;
  }
  const path = url.replace(/^file:\/\//, '');
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (pkg !== null) return `package ${pkg[1]}`;
  const own = /\/(?:src|dist\/src)\/([^/]+)\//.exec(path);
  if (own !== null) return `src/${own[1]}`;
  if (path.startsWith('node:')) {
    // node:_tls_wrap, node:internal/tls/secure-context, node:internal/streams/writable, …
    const module = path
      .slice('node:'.length)
      .replace(/^internal\//, '')
      .replace(/^_/, '');
    if (/^(tls|crypto)/.test(module)) return 'Node.js tls';
    if (/^(net|stream)/.test(module)) return 'Node.js sockets and streams';
    if (/^(timers|process\/task_queues)/.test(module)) return 'Node.js timers and ticks';
    if (/^fs/.test(module)) return 'Node.js fs';
    return 'Node.js other';
  }
  return 'other';
}

/** µs of self time per category in a window, and the busy total (everything but idle). */
export interface ProfileBreakdown {
  readonly busyMicros: number;
  readonly byCategory: ReadonlyMap<string, number>;
}

/**
 * Self time per category of the samples whose timestamps fall in [fromMicros, toMicros). A
 * sample's time delta is the time since the previous sample, charged to the sampled function.
 */
export function breakdown(profile: CpuProfile, fromMicros: number, toMicros: number): ProfileBreakdown {
  const categoryById = new Map<number, string>();
  for (const node of profile.nodes) {
    categoryById.set(node.id, categoryOf(node.callFrame.functionName, node.callFrame.url));
  }
  const byCategory = new Map<string, number>();
  let busyMicros = 0;
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (at < fromMicros || at >= toMicros) continue;
    const category = categoryById.get(profile.samples[i] ?? -1) ?? 'other';
    if (category === 'idle') continue;
    busyMicros += delta;
    byCategory.set(category, (byCategory.get(category) ?? 0) + delta);
  }
  return { busyMicros, byCategory };
}

/**
 * One line per category, largest first, in µs per operation: "src/raft 12.3, Node.js tls 9.1, …".
 * Categories under `minShare` of the busy time are summed into "the rest".
 */
export function formatBreakdown(result: ProfileBreakdown, operations: number, minShare = 0.03): string {
  const ops = Math.max(1, operations);
  const sorted = [...result.byCategory].sort((a, b) => b[1] - a[1]);
  const shown = sorted.filter(([, micros]) => micros >= minShare * result.busyMicros);
  const rest = sorted.filter(([, micros]) => micros < minShare * result.busyMicros).reduce((s, [, m]) => s + m, 0);
  const parts = shown.map(([name, micros]) => `${name} ${(micros / ops).toFixed(1)}`);
  if (rest > 0) parts.push(`the rest ${(rest / ops).toFixed(1)}`);
  return `${(result.busyMicros / ops).toFixed(0)} µs busy per op: ${parts.join(', ')}`;
}
