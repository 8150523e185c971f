// The wait-for graph as SVG: one box per session, an arrow from a waiting session to each session
// holding the lock it waits for, labelled with the lock. Sessions are laid out in columns by how
// far they are from a session that waits for nothing (holders on the right, the longest chains of
// waiters on the left). Every edge on a cycle (a deadlock) and its sessions are drawn in red: the
// cycles the node reports, and any strongly connected component found here from the edges.
import { esc } from './format.js';

const boxW = 92;
const boxH = 24;
const colGap = 200;
const rowGap = 34;
const pad = 12;
const nodesMax = 400;

/**
 * @typedef {{ session: number, lock: string, heldBy: number[] }} WaitEdge
 * @typedef {{ session: number, lock: string }} CycleStep
 * @param {SVGSVGElement} svg
 * @param {HTMLElement} note
 * @param {{ edges: WaitEdge[], cycles: CycleStep[][] }} graph
 */
export function renderWaitGraph(svg, note, graph) {
  /** @type {{ from: number, to: number, lock: string }[]} */
  const edges = [];
  for (const e of graph.edges) for (const h of e.heldBy) edges.push({ from: e.session, to: h, lock: e.lock });
  const sessions = [...new Set(edges.flatMap((e) => [e.from, e.to]))];
  if (sessions.length === 0) {
    svg.innerHTML = '';
    svg.setAttribute('viewBox', '0 0 400 30');
    svg.setAttribute('height', '30');
    note.textContent = 'Nobody waits: no edges.';
    return;
  }
  const shown = new Set(sessions.slice(0, nodesMax));
  const drawn = edges.filter((e) => shown.has(e.from) && shown.has(e.to));
  const onCycle = cycleEdges(drawn, graph.cycles);
  const cycleNodes = new Set([...onCycle].flatMap((k) => k.split('>').map(Number)));
  const column = columns([...shown], drawn);
  const maxCol = Math.max(...column.values());
  /** @type {Map<number, { x: number, y: number }>} */
  const at = new Map();
  const rows = new Map();
  for (const s of [...shown].sort((a, b) => a - b)) {
    const c = column.get(s) ?? 0;
    const r = rows.get(c) ?? 0;
    rows.set(c, r + 1);
    at.set(s, { x: pad + (maxCol - c) * colGap, y: pad + r * rowGap });
  }
  const width = pad * 2 + maxCol * colGap + boxW;
  const height = pad * 2 + (Math.max(...rows.values()) - 1) * rowGap + boxH;
  const holders = new Set(drawn.map((e) => e.to));
  const parts = [
    '<defs>',
    '<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker>',
    '<marker id="arrow-bad" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker>',
    '</defs>',
  ];
  for (const e of drawn) {
    const a = at.get(e.from);
    const b = at.get(e.to);
    if (a === undefined || b === undefined) continue;
    const bad = onCycle.has(`${e.from}>${e.to}`);
    const d = edgePath(a, b);
    parts.push(
      `<path class="edge${bad ? ' cycle' : ''}" d="${d.path}" marker-end="url(#${bad ? 'arrow-bad' : 'arrow'})"><title>s${e.from} waits for ${esc(e.lock)}, held by s${e.to}</title></path>`,
      `<text class="edge-label" x="${d.labelX}" y="${d.labelY}" text-anchor="${d.anchor}">${esc(short(e.lock))}</text>`,
    );
  }
  for (const s of shown) {
    const p = at.get(s);
    if (p === undefined) continue;
    const cls = `node${holders.has(s) ? ' holder' : ''}${cycleNodes.has(s) ? ' cycle' : ''}`;
    parts.push(
      `<g class="${cls}" data-session="${s}"><rect x="${p.x}" y="${p.y}" width="${boxW}" height="${boxH}" rx="4"/>` +
        `<text x="${p.x + boxW / 2}" y="${p.y + 16}" text-anchor="middle">s${s}</text></g>`,
    );
  }
  svg.innerHTML = parts.join('');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('height', String(Math.min(height, 600)));
  const deadlocks = onCycle.size > 0 ? ` Deadlock: ${cycleNodes.size} sessions on a cycle.` : '';
  const cut = sessions.length > nodesMax ? ` Showing ${nodesMax} of ${sessions.length} sessions.` : '';
  note.textContent = `${edges.length} wait edge${edges.length === 1 ? '' : 's'} between ${sessions.length} sessions.${deadlocks}${cut}`;
}

/** @param {string} name */
function short(name) {
  return name.length > 22 ? `${name.slice(0, 21)}…` : name;
}

/**
 * A straight arrow when the target is to the right; a curve below the boxes otherwise (edges
 * back to the left only exist on cycles and between sessions in one column).
 * @param {{ x: number, y: number }} a @param {{ x: number, y: number }} b
 */
function edgePath(a, b) {
  if (b.x > a.x) {
    const x1 = a.x + boxW;
    const y1 = a.y + boxH / 2;
    const x2 = b.x - 2;
    const y2 = b.y + boxH / 2;
    // Labels sit near the waiting end: edges into one holder converge, their starts do not.
    return { path: `M${x1},${y1} L${x2},${y2}`, labelX: x1 + 6, labelY: y1 + (y2 - y1) * 0.12 - 4, anchor: 'start' };
  }
  const x1 = a.x + boxW / 2;
  const y1 = a.y + boxH;
  const x2 = b.x + boxW / 2;
  const y2 = b.y + boxH + 2;
  const dip = Math.max(y1, y2) + 26;
  return {
    path: `M${x1},${y1} C${x1},${dip} ${x2},${dip} ${x2},${y2}`,
    labelX: (x1 + x2) / 2,
    labelY: dip - 2,
    anchor: 'middle',
  };
}

/**
 * Columns: 0 for sessions that wait for nobody; otherwise one more than the largest column of
 * the sessions they wait for, ignoring edges that close a cycle.
 * @param {number[]} nodes @param {{ from: number, to: number }[]} edges
 */
function columns(nodes, edges) {
  /** @type {Map<number, number[]>} */
  const out = new Map();
  for (const e of edges) {
    const list = out.get(e.from);
    if (list === undefined) out.set(e.from, [e.to]);
    else list.push(e.to);
  }
  /** @type {Map<number, number>} */
  const col = new Map();
  const visiting = new Set();
  /** @param {number} start */
  const visit = (start) => {
    // Iterative post-order depth-first search: a long chain of waiters cannot overflow the stack.
    const stack = [{ node: start, next: 0 }];
    visiting.add(start);
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const succ = out.get(top.node) ?? [];
      if (top.next < succ.length) {
        const n = succ[top.next++];
        if (!col.has(n) && !visiting.has(n)) {
          visiting.add(n);
          stack.push({ node: n, next: 0 });
        }
        continue;
      }
      let c = 0;
      for (const n of succ) if (col.has(n)) c = Math.max(c, (col.get(n) ?? 0) + 1);
      col.set(top.node, c);
      visiting.delete(top.node);
      stack.pop();
    }
  };
  for (const n of nodes) if (!col.has(n)) visit(n);
  return col;
}

/**
 * Edges (as "from>to") on a cycle: those of the node's reported cycles, and those inside any
 * strongly connected component (Tarjan's algorithm, iterative).
 * @param {{ from: number, to: number }[]} edges @param {CycleStep[][]} reported
 */
function cycleEdges(edges, reported) {
  const keys = new Set();
  for (const cycle of reported ?? []) {
    for (let i = 0; i < cycle.length; i++) {
      const next = cycle[(i + 1) % cycle.length];
      keys.add(`${cycle[i].session}>${next.session}`);
    }
  }
  const component = stronglyConnected(edges);
  for (const e of edges) {
    const c = component.get(e.from);
    if (c !== undefined && c === component.get(e.to) && (c.size > 1 || e.from === e.to)) keys.add(`${e.from}>${e.to}`);
  }
  return keys;
}

/** @param {{ from: number, to: number }[]} edges @returns {Map<number, Set<number>>} */
function stronglyConnected(edges) {
  /** @type {Map<number, number[]>} */
  const out = new Map();
  for (const e of edges) {
    if (!out.has(e.from)) out.set(e.from, []);
    if (!out.has(e.to)) out.set(e.to, []);
    out.get(e.from)?.push(e.to);
  }
  const index = new Map();
  const low = new Map();
  const onStack = new Set();
  const stack = [];
  const result = new Map();
  let counter = 0;
  for (const root of out.keys()) {
    if (index.has(root)) continue;
    const work = [{ node: root, next: 0 }];
    index.set(root, counter);
    low.set(root, counter++);
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const top = work[work.length - 1];
      const succ = out.get(top.node) ?? [];
      if (top.next < succ.length) {
        const n = succ[top.next++];
        if (!index.has(n)) {
          index.set(n, counter);
          low.set(n, counter++);
          stack.push(n);
          onStack.add(n);
          work.push({ node: n, next: 0 });
        } else if (onStack.has(n)) {
          low.set(top.node, Math.min(low.get(top.node), index.get(n)));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent !== undefined) low.set(parent.node, Math.min(low.get(parent.node), low.get(top.node)));
      if (low.get(top.node) === index.get(top.node)) {
        const members = new Set();
        for (;;) {
          const n = stack.pop();
          onStack.delete(n);
          members.add(n);
          if (n === top.node) break;
        }
        for (const n of members) result.set(n, members);
      }
    }
  }
  return result;
}
