// The locks table: every lock, semaphore, rwlock and election under the prefix, with its holders
// (session, fencing token, mode, how long held) and its waiters in queue order.
import { duration, esc } from './format.js';

/**
 * @typedef {{ session: number, token: number, lastToken?: number, mode: string, grantedAtMs: number, heldForMs: number }} Holder
 * @typedef {{ session: number, mode: string, deadlineMs: number, waitedForMs: number }} Waiter
 * @typedef {{ name: string, kind: string, permits: number, holders: Holder[], waiters: Waiter[] }} LockView
 */

/**
 * @param {HTMLElement} tbody
 * @param {LockView[]} locks
 * @param {{ prefix: string }} at
 */
export function renderLocks(tbody, locks, at) {
  const rows = [];
  for (const lock of locks) {
    const kind = lock.kind === 'semaphore' ? `semaphore (${lock.permits})` : lock.kind;
    const holders = lock.holders.map((h) => holderChip(h)).join('');
    const waiters = lock.waiters.map((w, i) => waiterChip(w, i + 1)).join('');
    rows.push(
      `<div class="lock-row" role="row" data-lock="${esc(lock.name)}"><span role="cell" class="name">${esc(lock.name)}</span><span role="cell">${esc(kind)}</span>` +
        `<span role="cell" class="holders">${holders || '<span class="muted">free</span>'}</span>` +
        `<span role="cell" class="waiters">${waiters || '<span class="muted">none</span>'}</span></div>`,
    );
  }
  tbody.innerHTML =
    rows.length > 0
      ? rows.join('')
      : `<div class="lock-row muted" role="row"><span role="cell">no locks${at.prefix === '' ? '' : ` under ${esc(JSON.stringify(at.prefix))}`}</span></div>`;
}

/**
 * One holder: session, fencing token (a run of turns shows the tokens its grant reserved, first to
 * last), mode, how long held.
 * @param {Holder} h
 */
export function holderChip(h) {
  const held = duration(h.heldForMs);
  const mode = h.mode === '' || h.mode === 'exclusive' ? '' : ` · ${esc(h.mode)}`;
  const run = typeof h.lastToken === 'number';
  const tokens = run ? `${h.token}–${h.lastToken}` : `${h.token}`;
  const title = run
    ? `session ${h.session} holds it for a run of turns, fencing tokens ${tokens}`
    : `session ${h.session} holds it with fencing token ${h.token}`;
  return (
    `<span class="chip holder" data-session="${h.session}" data-token="${h.token}" title="${title}">` +
    `s${h.session} · <span class="tok">#${tokens}</span>${mode} · ${held}</span>`
  );
}

/** @param {Waiter} w @param {number} place */
function waiterChip(w, place) {
  const mode = w.mode === '' || w.mode === 'exclusive' ? '' : ` ${esc(w.mode)}`;
  return `<span class="chip waiter" data-session="${w.session}" title="number ${place} in the queue, waiting for ${duration(w.waitedForMs)}"><span class="ord">${place}.</span>s${w.session}${mode}</span>`;
}
