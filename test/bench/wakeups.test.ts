// The wake-ups bench/commit-cost.ts prints per commit are read from the right line of a thread's
// /proc status file (voluntary switches, not the involuntary ones beside them), per process, and a
// process that cannot be read is left out rather than counted as zero. No timing is asserted.
import t from 'tap';
import { mainThreadWakeups, parseVoluntarySwitches } from '../../bench/wakeups.js';

const status = (voluntary: number, involuntary: number): string =>
  `Name:\tnode\nState:\tS (sleeping)\nThreads:\t11\nvoluntary_ctxt_switches:\t${voluntary}\nnonvoluntary_ctxt_switches:\t${involuntary}\n`;

t.test('the voluntary switches are read, not the involuntary ones', async (t) => {
  t.equal(parseVoluntarySwitches(status(1234, 99)), 1234);
  t.equal(parseVoluntarySwitches('Name:\tnode\n'), null, 'a status without the line gives no figure');
});

t.test('each process is sampled from its main thread, and an unreadable one is left out', async (t) => {
  const read: number[] = [];
  const sample = mainThreadWakeups((pid) => {
    read.push(pid);
    if (pid === 3) throw new Error('ENOENT');
    return status(pid * 10, 1);
  }, true)([1, 2, 3]);
  t.same(read, [1, 2, 3]);
  t.same(sample === null ? null : [...sample], [
    [1, 10],
    [2, 20],
  ]);
  t.equal(mainThreadWakeups(() => status(1, 1), false)([1]), null, 'no /proc: no sample');
});
