import { assert } from '../util/assert.js';
import type { LockRecord, Waiter } from './state.js';

/** Appends a waiter at the tail of the lock's FIFO. O(1). */
export function enqueue(lock: LockRecord, waiter: Waiter): void {
  assert(waiter.queued && waiter.prev === null && waiter.next === null, 'enqueue of a linked waiter');
  waiter.prev = lock.tail;
  if (lock.tail === null) lock.head = waiter;
  else lock.tail.next = waiter;
  lock.tail = waiter;
  lock.waiting++;
}

/** Removes a waiter from anywhere in the queue. O(1). */
export function unlink(lock: LockRecord, waiter: Waiter): void {
  if (!waiter.queued) assert(false, `unlink of waiter ${waiter.id} that is not queued`);
  if (waiter.prev === null) lock.head = waiter.next;
  else waiter.prev.next = waiter.next;
  if (waiter.next === null) lock.tail = waiter.prev;
  else waiter.next.prev = waiter.prev;
  waiter.prev = null;
  waiter.next = null;
  waiter.queued = false;
  lock.waiting--;
  assert(lock.waiting >= 0, 'negative waiter count');
}

/** The queue as an array, head first (for snapshots, queries and checks). */
export function waitersOf(lock: LockRecord): Waiter[] {
  const out: Waiter[] = [];
  for (let w = lock.head; w !== null; w = w.next) out.push(w);
  return out;
}
