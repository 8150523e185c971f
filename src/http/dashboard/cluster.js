// The cluster panel: every member with its role, term, commit and applied index and how far it is
// behind the leader, and a timeline of who led when (from status polls and leader-change events).
import { clock, count, duration, esc } from './format.js';

/**
 * @typedef {{ id: string, role: 'voter' | 'learner', peer: string, client: string, http: string | null }} MemberView
 * @typedef {{ nodeId: string, clusterId: string, role: string, term: number, leader: string | null, commit: number, applied: number, lag: { id: string, behind: number }[] }} NodeStatus
 */

/** The timeline spans what this page has seen, from one minute up to ten. */
const timelineMinMs = 60 * 1000;
const timelineMaxMs = 10 * 60 * 1000;
const palette = ['#2f6fde', '#1f8a4c', '#b36b00', '#8e44ad', '#00838f', '#c2185b', '#5d4037'];

/**
 * Every member: this node's own role, term, commit and applied index; the leader's role; and, on
 * the leader (which alone tracks its followers), how many entries each member is behind it.
 * @param {HTMLElement} tbody
 * @param {HTMLElement} note
 * @param {MemberView[]} members
 * @param {NodeStatus} self this node's status
 */
export function renderMembers(tbody, note, members, self) {
  const behind = new Map(self.lag.map((l) => [l.id, l.behind]));
  const isLeader = self.role === 'leader';
  const rows = members.map((m) => {
    const mine = m.id === self.nodeId;
    const role = mine ? self.role : m.id === self.leader ? 'leader' : null;
    const lag = behind.get(m.id);
    const roleCell = role === null ? '<td class="muted">–</td>' : `<td class="role-${esc(role)}">${esc(role)}</td>`;
    const num = (v) => (v === undefined ? '<td class="num muted">–</td>' : `<td class="num">${count(v)}</td>`);
    const toApply =
      mine && self.commit > self.applied
        ? ` <span class="muted small">(${count(self.commit - self.applied)} to apply)</span>`
        : '';
    const lagCell =
      m.id === self.leader && isLeader
        ? '<td class="num">0</td>'
        : lag === undefined
          ? '<td class="num muted">–</td>'
          : `<td class="num${lag > 100 ? ' lagging' : ''}">${count(lag)}</td>`;
    const name =
      mine || m.http === null
        ? esc(m.id)
        : `<a href="${esc(dashboardUrl(m.http))}" title="this member's dashboard">${esc(m.id)}</a>`;
    return (
      `<tr data-node="${esc(m.id)}"><td class="mono">${name}${mine ? ' <span class="muted small">(this node)</span>' : ''}</td>` +
      `<td>${esc(m.role)}</td>${roleCell}${num(mine || m.id === self.leader ? self.term : undefined)}` +
      `${num(mine ? self.commit : undefined)}<td class="num">${mine ? count(self.applied) : '–'}${toApply}</td>${lagCell}<td class="mono">${esc(m.client)}</td></tr>`
    );
  });
  tbody.innerHTML = rows.join('');
  const leader = members.find((m) => m.id === self.leader);
  if (isLeader) note.textContent = 'This node leads: "behind leader" is each member\'s distance from its log.';
  else if (leader === undefined)
    note.textContent = 'No leader is known: the cluster is electing one or has lost its quorum.';
  else {
    const where = leader.http === null ? '' : ` (${dashboardUrl(leader.http)})`;
    note.textContent = `The leader, ${leader.id}, tracks how far each member is behind: see its dashboard${where}.`;
  }
}

/** @param {string} http `host:port` */
function dashboardUrl(http) {
  return `${location.protocol}//${http}/`;
}

/** Who led when: a change is recorded when the leader or the term differs from the last one. */
export class LeaderHistory {
  constructor() {
    /** @type {{ atMs: number, leader: string | null, term: number }[]} */
    this.changes = [];
    /** @type {Map<string, string>} */
    this.colors = new Map();
  }

  /** @param {number} atMs @param {string | null} leader @param {number} term @returns {boolean} whether it changed */
  observe(atMs, leader, term) {
    const last = this.changes[this.changes.length - 1];
    if (last !== undefined && last.leader === leader && last.term >= term) return false;
    if (last !== undefined && term < last.term) return false;
    this.changes.push({ atMs, leader, term });
    if (this.changes.length > 500) this.changes.shift();
    return true;
  }

  /** @param {string | null} id */
  color(id) {
    if (id === null) return '#c9ced6';
    let c = this.colors.get(id);
    if (c === undefined) {
      c = palette[this.colors.size % palette.length];
      this.colors.set(id, c);
    }
    return c;
  }

  /** @param {SVGSVGElement} svg @param {HTMLElement} list @param {number} nowMs */
  render(svg, list, nowMs) {
    const first = this.changes[0]?.atMs ?? nowMs;
    const spanMs = Math.min(timelineMaxMs, Math.max(timelineMinMs, nowMs - first));
    const from = nowMs - spanMs;
    const width = Math.max(200, svg.clientWidth || 600);
    const x = (t) => ((Math.max(t, from) - from) / spanMs) * width;
    const parts = [];
    this.changes.forEach((c, i) => {
      const end = this.changes[i + 1]?.atMs ?? nowMs;
      if (end < from) return;
      const x0 = x(c.atMs);
      const w = Math.max(1, x(end) - x0);
      const label = c.leader === null ? 'no leader' : `${c.leader} (term ${c.term})`;
      parts.push(
        `<rect x="${x0.toFixed(1)}" y="2" width="${w.toFixed(1)}" height="16" fill="${this.color(c.leader)}"><title>${esc(label)} from ${clock(c.atMs)}</title></rect>`,
      );
      if (w > 90) parts.push(`<text x="${(x0 + 4).toFixed(1)}" y="14" fill="#fff" font-size="11">${esc(label)}</text>`);
    });
    parts.push(
      `<text x="0" y="27" font-size="9" fill="#6a7282">${clock(from).slice(0, 8)}</text><text x="${width}" y="27" font-size="9" fill="#6a7282" text-anchor="end">now</text>`,
    );
    svg.setAttribute('viewBox', `0 0 ${width} 28`);
    svg.innerHTML = parts.join('');
    list.innerHTML = this.changes
      .slice(-50)
      .reverse()
      .map((c, i) => {
        const since = i === 0 ? ` · for ${duration(nowMs - c.atMs)}` : '';
        const who = c.leader === null ? 'no leader' : `<b class="mono">${esc(c.leader)}</b> leads`;
        return `<li>${clock(c.atMs)} ${who}, term ${c.term}${since}</li>`;
      })
      .join('');
  }
}
