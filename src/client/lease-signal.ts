/**
 * An AbortSignal that is checked whenever it is read. A signal is normally only aborted by a
 * timer or an event, and a process that was paused (SIGSTOP, a long GC, a VM migration) runs its
 * own callbacks in whatever order the timers fell due when it resumes: code reading
 * `signal.aborted` just after the resume would see a stale `false`. With `checkFirst` run before
 * every read of `aborted` and `reason` and every `throwIfAborted()` (it aborts the signal, through
 * its controller, when its deadline has passed on the clock), the first read after the deadline
 * already says true.
 */
const abortedOf = getter('aborted');
const reasonOf = getter('reason');

function getter(name: 'aborted' | 'reason'): (signal: AbortSignal) => unknown {
  const descriptor = Object.getOwnPropertyDescriptor(AbortSignal.prototype, name);
  const get = descriptor?.get;
  if (get === undefined) throw new Error(`AbortSignal.prototype.${name} is not a getter on this platform`);
  return (signal) => get.call(signal);
}

/** Patches `signal` in place (its own properties shadow the prototype's) and returns it. */
export function checkedOnRead(signal: AbortSignal, checkFirst: () => void): AbortSignal {
  Object.defineProperties(signal, {
    aborted: {
      configurable: true,
      get(): boolean {
        checkFirst();
        return abortedOf(signal) === true;
      },
    },
    reason: {
      configurable: true,
      get(): unknown {
        checkFirst();
        return reasonOf(signal);
      },
    },
    throwIfAborted: {
      configurable: true,
      value(): void {
        checkFirst();
        if (abortedOf(signal) === true) throw reasonOf(signal);
      },
    },
  });
  return signal;
}

/** Whether `signal` is aborted, without running its check (for the code that runs the check). */
export function abortedNow(signal: AbortSignal): boolean {
  return abortedOf(signal) === true;
}
