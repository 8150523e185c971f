// The sessions table: each live session with its client, owner, TTL and the time left before it
// expires unless kept alive; writers get a button that closes a session (ending its holds).
import { count, duration, esc } from './format.js';

/**
 * @typedef {{ session: number, clientId: string, owner: string | null, ttlMs: number, lastSeenMs: number, deadlineMs: number, expiresInMs: number, holds: string[], waits: string[] }} SessionView
 * @param {HTMLElement} tbody
 * @param {HTMLElement} counter
 * @param {SessionView[]} sessions
 * @param {{ writable: boolean }} at
 */
export function renderSessions(tbody, counter, sessions, at) {
  counter.textContent = `(${count(sessions.length)})`;
  const rows = sessions.map((s) => {
    const left = s.expiresInMs;
    const tenths = Math.max(0, Math.min(10, Math.round((left / s.ttlMs) * 10)));
    const low = left < s.ttlMs / 4 ? ' low' : '';
    const close = at.writable
      ? `<button type="button" class="small" data-close="${s.session}" title="close session ${s.session}: its holds are released">close</button>`
      : '';
    return (
      `<tr data-session="${s.session}"><td class="mono">s${s.session}</td><td class="mono" title="${esc(s.clientId)}">${esc(shortId(s.clientId))}</td>` +
      `<td>${s.owner === null ? '<span class="muted">–</span>' : esc(s.owner)}</td><td class="num">${duration(s.ttlMs)}</td>` +
      `<td class="nowrap"><span class="ttl-bar ttl-w${tenths}${low}"><i></i></span>${duration(left)}</td>` +
      `<td class="name">${list(s.holds)}</td><td class="name">${list(s.waits)}</td><td>${close}</td></tr>`
    );
  });
  tbody.innerHTML = rows.length > 0 ? rows.join('') : '<tr><td colspan="8" class="muted">no sessions</td></tr>';
}

/** Client ids are often UUIDs: the first part tells them apart on screen (the whole id is the tooltip). @param {string} id */
function shortId(id) {
  return id.length > 10 ? `${id.slice(0, 8)}…` : id;
}

/** @param {string[]} names */
function list(names) {
  if (names.length === 0) return '<span class="muted">–</span>';
  const head = names.slice(0, 3).map(esc).join(', ');
  return names.length > 3 ? `${head} <span class="muted">+${names.length - 3}</span>` : head;
}
