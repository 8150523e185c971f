// The dashboard's entry point: decides between the login form and the live view, then keeps every
// panel fresh by polling the node's JSON routes (sooner when the event stream reports a change)
// and scraping /metrics once a second for the charts.
import { ApiError, followEvents, forgetToken, getJson, getText, login, send, token } from './api.js';
import { Charts } from './charts.js';
import { LeaderHistory, renderMembers } from './cluster.js';
import { EventLog } from './events.js';
import { renderLocks } from './locks.js';
import { renderSessions } from './sessions.js';
import { renderWaitGraph } from './waitgraph.js';

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const locksLimit = 10000;
const sessionsLimit = 10000;
const refreshMinMs = 500;

const view = {
  running: false,
  writable: false,
  selfId: '',
  prefix: new URLSearchParams(location.search).get('prefix') ?? '',
  /** @type {AbortController | null} */
  stop: null,
  /** @type {ReturnType<typeof setTimeout> | null} */
  timer: null,
  refreshing: false,
  again: false,
  leaders: new LeaderHistory(),
  /** @type {EventLog | null} */
  events: null,
  /** @type {Charts | null} */
  charts: null,
  problems: new Map(),
};

/** Whether `who` may change anything: insecure (no principal), admin, or lock/write somewhere. */
function canWrite(who) {
  if (who.principal === null || who.admin === true) return true;
  const permissions = Array.isArray(who.permissions) ? who.permissions : [];
  return permissions.some((p) => Array.isArray(p.rights) && (p.rights.includes('lock') || p.rights.includes('write')));
}

async function boot() {
  let who;
  try {
    who = await getJson('v1/whoami');
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return showLogin('');
    problem('whoami', error);
    setTimeout(boot, 2000);
    return;
  }
  view.problems.delete('whoami');
  start(who);
}

/** @param {string} message */
function showLogin(message) {
  stopView();
  $('main').hidden = true;
  $('login').hidden = false;
  $('logout').hidden = true;
  $('who').textContent = '';
  $('readonly').hidden = true;
  $('login-error').textContent = message;
  /** @type {HTMLInputElement} */ ($('login-form').querySelector('[name=user]')).focus();
}

$('login-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = new FormData(/** @type {HTMLFormElement} */ (event.target));
  $('login-error').textContent = '';
  try {
    await login(String(form.get('user')), String(form.get('password')));
    /** @type {HTMLFormElement} */ (event.target).reset();
    await boot();
  } catch (error) {
    $('login-error').textContent = error instanceof Error ? error.message : String(error);
  }
});

$('logout').addEventListener('click', () => {
  forgetToken();
  showLogin('Logged out.');
});

function start(who) {
  $('login').hidden = true;
  $('main').hidden = false;
  view.writable = canWrite(who);
  $('who').textContent = who.principal === null ? 'insecure cluster: no authentication' : `signed in as ${who.principal}`;
  $('readonly').hidden = view.writable;
  $('logout').hidden = token() === null;
  /** @type {HTMLInputElement} */ ($('lock-prefix')).value = view.prefix;
  view.events ??= new EventLog(/** @type {HTMLOListElement} */ ($('event-list')));
  view.charts ??= new Charts($('chart-throughput'), $('chart-latency'));
  view.running = true;
  view.stop = new AbortController();
  followEvents(
    'v1/events',
    {
      onEvent: (type, data) => {
        if (type === 'watching') return;
        view.events?.add(type, data, Date.now());
        if (type === 'leaderChanged') view.leaders.observe(Date.now(), data.leader, data.term);
        soon();
      },
      onState: (open, why) => {
        $('event-state').textContent = open ? '(live)' : `(reconnecting: ${why})`;
        $('link').textContent = open ? 'live' : 'reconnecting';
        $('link').className = open ? 'pill ok' : 'pill warn';
      },
      onRefused: (error) => refused(error),
    },
    view.stop.signal,
  );
  scrapeLoop();
  refresh();
}

function stopView() {
  view.running = false;
  view.stop?.abort();
  view.stop = null;
  if (view.timer !== null) clearTimeout(view.timer);
  view.timer = null;
}

/** @param {ApiError} error */
function refused(error) {
  if (error.status === 401) {
    forgetToken();
    showLogin(`${error.message} Log in again.`);
  } else {
    problem('events', error);
  }
}

/** Refreshes within ~100 ms (coalescing a burst of events), or right after a running refresh. */
function soon() {
  if (!view.running) return;
  if (view.refreshing) {
    view.again = true;
    return;
  }
  if (view.timer !== null) clearTimeout(view.timer);
  view.timer = setTimeout(refresh, 100);
}

async function refresh() {
  if (!view.running) return;
  view.timer = null;
  view.refreshing = true;
  const began = performance.now();
  const prefix = encodeURIComponent(view.prefix);
  const [status, members, locks, sessions, graph] = await Promise.allSettled([
    getJson('v1/status'),
    getJson('v1/members'),
    getJson(`v1/locks?prefix=${prefix}&limit=${locksLimit}`),
    getJson(`v1/sessions?limit=${sessionsLimit}`),
    getJson('v1/waitgraph'),
  ]);
  const nowMs = Date.now();
  for (const r of [status, members, locks, sessions, graph]) {
    if (r.status === 'rejected' && r.reason instanceof ApiError && r.reason.status === 401) {
      view.refreshing = false;
      return refused(r.reason);
    }
  }
  show('cluster', status, members, (s, m) => {
    view.selfId = s.nodeId;
    $('node').textContent = `node ${s.nodeId} of ${s.clusterId}`;
    view.leaders.observe(nowMs, s.leader, s.term);
    renderMembers($('members'), $('members-note'), m, s);
  });
  view.leaders.render(/** @type {SVGSVGElement} */ (/** @type {unknown} */ ($('leader-timeline'))), $('leader-changes'), nowMs);
  show('locks', locks, null, (l) => {
    $('lock-count').textContent = `(${l.length.toLocaleString('en-US')}${l.length >= locksLimit ? '+' : ''})`;
    renderLocks($('lock-rows'), $('lock-more'), l, { limit: locksLimit, prefix: view.prefix });
  });
  show('sessions', sessions, null, (s) => {
    renderSessions($('session-rows'), $('session-count'), s, { writable: view.writable });
  });
  show('waitgraph', graph, null, (g) => {
    renderWaitGraph(/** @type {SVGSVGElement} */ (/** @type {unknown} */ ($('graph'))), $('graph-note'), g);
  });
  view.refreshing = false;
  // The first complete render, for load-time measurements (bench/dashboard.ts reads this mark).
  const complete = [status, members, locks, sessions, graph].every((r) => r.status === 'fulfilled');
  if (complete && performance.getEntriesByName('raftlock:ready').length === 0) performance.mark('raftlock:ready');
  if (!view.running) return;
  // A refresh that took long (many thousands of locks) is not repeated back to back.
  const waitMs = view.again ? 0 : Math.max(refreshMinMs, 3 * (performance.now() - began));
  view.again = false;
  view.timer = setTimeout(refresh, waitMs);
  document.body.dataset.refreshed = String(Date.now());
}


/**
 * Renders a panel from one or two settled fetches, or names its problem in the footer.
 * @param {string} name @param {PromiseSettledResult<any>} a @param {PromiseSettledResult<any> | null} b @param {(a: any, b: any) => void} draw
 */
function show(name, a, b, draw) {
  const failed = [a, b].find((r) => r !== null && r.status === 'rejected');
  if (failed !== undefined) return problem(name, /** @type {PromiseRejectedResult} */ (failed).reason);
  try {
    draw(/** @type {PromiseFulfilledResult<any>} */ (a).value, b === null ? null : /** @type {PromiseFulfilledResult<any>} */ (b).value);
    view.problems.delete(name);
  } catch (error) {
    view.problems.set(name, `${name}: ${error instanceof Error ? error.message : String(error)}`);
  }
  $('problem').textContent = [...view.problems.values()].join(' · ');
}

function problem(name, error) {
  const message = error instanceof ApiError ? `${error.code}: ${error.message}` : error instanceof Error ? error.message : String(error);
  view.problems.set(name, `${name}: ${message}`);
  $('problem').textContent = [...view.problems.values()].join(' · ');
}

async function scrapeLoop() {
  while (view.running) {
    try {
      const text = await getText('metrics');
      view.charts?.add(text, Date.now());
      view.problems.delete('metrics');
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return refused(error);
      problem('metrics', error);
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

let typing = null;
$('lock-prefix').addEventListener('input', (event) => {
  view.prefix = /** @type {HTMLInputElement} */ (event.target).value;
  const url = new URL(location.href);
  if (view.prefix === '') url.searchParams.delete('prefix');
  else url.searchParams.set('prefix', view.prefix);
  history.replaceState(null, '', url);
  if (typing !== null) clearTimeout(typing);
  typing = setTimeout(soon, 200);
});

$('session-rows').addEventListener('click', async (event) => {
  const button = /** @type {HTMLElement} */ (event.target).closest('button[data-close]');
  if (button === null) return;
  const id = button.getAttribute('data-close');
  if (!confirm(`Close session s${id}? Its locks are released and its waits end.`)) return;
  try {
    await send('DELETE', `v1/sessions/${encodeURIComponent(id ?? '')}`);
    soon();
  } catch (error) {
    problem('close session', error);
  }
});

boot();
