// The live event stream: grants, releases, expiries, timeouts, revocations and leader changes as
// the node reports them over SSE, newest first, the last few hundred kept.
import { clock, esc } from './format.js';

const kept = 300;

/**
 * One line for an event. Unknown kinds are shown with their fields, so a newer node's events are
 * still visible to an older page.
 * @param {string} type @param {Record<string, unknown>} e
 * @returns {{ kind: string, text: string }}
 */
export function describeEvent(type, e) {
  const kind = String(e.kind ?? e.type ?? type);
  const s = (v) => (v === undefined || v === null ? '?' : `s${v}`);
  switch (kind) {
    case 'grant':
    case 'granted':
      return { kind: 'grant', text: `${esc(e.lock ?? e.name)} → ${s(e.session)} token #${esc(e.token)}` };
    case 'release':
    case 'released':
      return { kind: 'release', text: `${esc(e.lock ?? e.name)} released by ${s(e.session)}` };
    case 'expiry':
    case 'expired':
    case 'sessionExpired':
      return { kind: 'expiry', text: `session ${s(e.session)} expired${e.clientId === undefined ? '' : ` (client ${esc(e.clientId)})`}` };
    case 'timeout':
      return { kind: 'timeout', text: `${s(e.session)} stopped waiting for ${esc(e.lock ?? e.name)}` };
    case 'revoked':
      return { kind: 'revoked', text: `${esc(e.lock ?? e.name)} taken from ${s(e.session)}${e.by ? ` by ${esc(e.by)}` : ''}` };
    case 'leader':
    case 'leaderChange':
    case 'leaderChanged':
      return { kind: 'leader', text: `${e.leader === null || e.leader === undefined ? 'no leader' : `${esc(e.leader)} leads`}${e.term === undefined ? '' : `, term ${esc(e.term)}`}` };
    default: {
      const fields = Object.entries(e)
        .filter(([k]) => k !== 'kind' && k !== 'type')
        .map(([k, v]) => `${esc(k)}=${esc(typeof v === 'object' ? JSON.stringify(v) : v)}`)
        .join(' ');
      return { kind: esc(kind), text: fields };
    }
  }
}

export class EventLog {
  /** @param {HTMLOListElement} list */
  constructor(list) {
    this.list = list;
  }

  /** @param {string} type @param {unknown} data @param {number} atMs */
  add(type, data, atMs) {
    const e = data !== null && typeof data === 'object' ? /** @type {Record<string, unknown>} */ (data) : { value: data };
    const { kind, text } = describeEvent(type, e);
    const li = document.createElement('li');
    li.dataset.kind = kind;
    li.innerHTML = `<time>${clock(atMs)}</time><span class="k k-${kind}">${kind}</span> ${text}`;
    this.list.prepend(li);
    while (this.list.childElementCount > kept) this.list.lastElementChild?.remove();
  }
}
