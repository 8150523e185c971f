// The live event stream: grants, releases, expiries, timeouts, revocations and leader changes as
// the node reports them over SSE, newest first, the last few hundred kept.
import { clock, esc } from './format.js';

const kept = 300;

/**
 * One line for an event of /v1/events (named by its SSE event type). Unknown types are shown with
 * their fields, so a newer node's events still appear on an older page.
 * @param {string} type @param {Record<string, unknown>} e
 * @returns {{ kind: string, text: string }}
 */
export function describeEvent(type, e) {
  const s = (v) => `s${esc(v)}`;
  switch (type) {
    case 'grant':
      return { kind: 'grant', text: `${esc(e.lock)} → ${s(e.session)} token #${esc(e.token)}` };
    case 'release':
      return { kind: 'release', text: `${esc(e.lock)} released by ${s(e.session)}` };
    case 'leader':
      return {
        kind: 'elected',
        text: `election ${esc(e.lock)} led by ${s(e.session)} token #${esc(e.token)}${typeof e.text === 'string' && e.text !== '' ? ` (${esc(e.text)})` : ''}`,
      };
    case 'sessionExpired':
      return { kind: 'expiry', text: `session ${s(e.session)} expired` };
    case 'leaderChanged':
      return {
        kind: 'leader',
        text: `${e.leader === null ? 'no leader' : `${esc(e.leader)} leads the cluster`}, term ${esc(e.term)}`,
      };
    case 'closed':
    case 'cancelled':
      return { kind: 'stream', text: `the node ended the stream: ${esc(e.reason ?? e.message ?? '')}` };
    default: {
      const fields = Object.entries(e)
        .map(([k, v]) => `${esc(k)}=${esc(typeof v === 'object' ? JSON.stringify(v) : v)}`)
        .join(' ');
      return { kind: esc(type), text: fields };
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
    const e =
      data !== null && typeof data === 'object' ? /** @type {Record<string, unknown>} */ (data) : { value: data };
    const { kind, text } = describeEvent(type, e);
    const li = document.createElement('li');
    li.dataset.kind = kind;
    li.innerHTML = `<time>${clock(atMs)}</time><span class="k k-${kind}">${kind}</span> ${text}`;
    this.list.prepend(li);
    while (this.list.childElementCount > kept) this.list.lastElementChild?.remove();
  }
}
