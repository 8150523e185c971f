// The dashboard's entry point: decides between the login form and the live view, then keeps each
// panel fresh on its own loop over the node's JSON routes (sooner when the event stream reports a
// change, so a slow listing never holds up another panel) and scrapes /metrics once a second for
// the charts.
import { ApiError, followEvents, forgetToken, getJson, getText, login, send, token } from './api.js';
import { Charts } from './charts.js';
import { LeaderHistory, renderMembers } from './cluster.js';
import { EventLog } from './events.js';
import { count } from './format.js';
import { renderLocks } from './locks.js';
import { Poller } from './poller.js';
import { renderSessions } from './sessions.js';
import { renderWaitGraph } from './waitgraph.js';

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
/** Locks drawn at first, and added per "show more": a page stays quick with any number of locks. */
const locksPage = 1000;
/** The API's largest listing. */
const locksLimitMax = 10000;
const sessionsLimit = 10000;
/** Each panel reloads at most this often, and waits twice as long as its last load took (at most maxMs). */
const pace = { minMs: 500, factor: 2, maxMs: 5000 };
/** A burst of events (a handoff is a release and a grant) makes one reload. */
const eventDelayMs = 50;

const view = {
  running: false,
  writable: false,
  prefix: new URLSearchParams(location.search).get('prefix') ?? '',
  locksShown: locksPage,
  /** @type {AbortController | null} */
  stop: null,
  /** @type {Poller[]} */
  pollers: [],
  /** Panels drawn since the page loaded (for the `raftlock:ready` mark). */
  drawn: new Set(),
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
  clearProblem('whoami');
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
  $('who').textContent =
    who.principal === null ? 'insecure cluster: no authentication' : `signed in as ${who.principal}`;
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
        for (const poller of view.pollers) poller.kick(eventDelayMs);
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
  void scrapeLoop(view.stop.signal);
  view.pollers = [
    new Poller(loadCluster, pace),
    new Poller(loadLocks, pace),
    new Poller(loadSessions, pace),
    new Poller(loadWaitGraph, pace),
  ];
  for (const poller of view.pollers) poller.start();
}

function stopView() {
  view.running = false;
  view.stop?.abort();
  view.stop = null;
  for (const poller of view.pollers) poller.stop();
  view.pollers = [];
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

/** A promise that never rejects: its settled result, as Promise.allSettled gives them. */
function settle(promise) {
  return promise.then(
    (value) => ({ status: 'fulfilled', value }),
    (reason) => ({ status: 'rejected', reason }),
  );
}

/** @param {() => boolean} isNewest */
async function loadCluster(isNewest) {
  const [status, members] = await Promise.all([settle(getJson('v1/status')), settle(getJson('v1/members'))]);
  return (
    isNewest() &&
    show('cluster', status, members, (s, m) => {
      $('node').textContent = `node ${s.nodeId} of ${s.clusterId}`;
      view.leaders.observe(Date.now(), s.leader, s.term);
      renderMembers($('members'), $('members-note'), m, s);
      view.leaders.render(
        /** @type {SVGSVGElement} */ (/** @type {unknown} */ ($('leader-timeline'))),
        $('leader-changes'),
        Date.now(),
      );
    })
  );
}

/** @param {() => boolean} isNewest */
async function loadLocks(isNewest) {
  const prefix = encodeURIComponent(view.prefix);
  const shown = view.locksShown;
  // The status's count of every lock says how many a page of them leaves out.
  const [locks, status] = await Promise.all([
    settle(getJson(`v1/locks?prefix=${prefix}&limit=${shown}`)),
    settle(getJson('v1/status')),
  ]);
  return (
    isNewest() &&
    show('locks', locks, status, (l, s) => {
      const total = view.prefix === '' ? s.locks : null;
      renderLocks($('lock-rows'), l, { prefix: view.prefix });
      const full = l.length >= shown;
      $('lock-count').textContent = `(${total !== null ? count(total) : `${count(l.length)}${full ? '+' : ''}`})`;
      $('lock-more-text').textContent = full
        ? `Showing the first ${count(l.length)}${total !== null ? ` of ${count(total)}` : ''} in name order; narrow them with the prefix filter.`
        : '';
      $('lock-more').hidden = !full;
      $('lock-more-button').hidden = !full || shown >= locksLimitMax;
    })
  );
}

/** @param {() => boolean} isNewest */
async function loadSessions(isNewest) {
  const sessions = await settle(getJson(`v1/sessions?limit=${sessionsLimit}`));
  return (
    isNewest() &&
    show('sessions', sessions, null, (s) =>
      renderSessions($('session-rows'), $('session-count'), s, { writable: view.writable }),
    )
  );
}

/** @param {() => boolean} isNewest */
async function loadWaitGraph(isNewest) {
  const graph = await settle(getJson('v1/waitgraph'));
  return (
    isNewest() &&
    show('waitgraph', graph, null, (g) =>
      renderWaitGraph(/** @type {SVGSVGElement} */ (/** @type {unknown} */ ($('graph'))), $('graph-note'), g),
    )
  );
}

/** Reloads every panel soon (after a filter change, a "show more", a closed session). */
function soon() {
  for (const poller of view.pollers) poller.kick(eventDelayMs);
}

/**
 * Draws a panel from one or two settled fetches, or names its problem in the footer (a 401 ends
 * the view and asks for a login). Returns whether the panel was drawn.
 * @param {string} name @param {{ status: string, value?: any, reason?: unknown }} a @param {{ status: string, value?: any, reason?: unknown } | null} b @param {(a: any, b: any) => void} draw
 */
function show(name, a, b, draw) {
  if (!view.running) return false;
  const failed = [a, b].find((r) => r !== null && r.status === 'rejected');
  if (failed !== undefined) {
    if (failed.reason instanceof ApiError && failed.reason.status === 401) refused(failed.reason);
    else problem(name, failed.reason);
    return false;
  }
  try {
    draw(a.value, b === null ? null : b.value);
    clearProblem(name);
    // The first time every panel has been drawn: the figure bench/dashboard.ts reads.
    if (!view.drawn.has(name)) {
      view.drawn.add(name);
      performance.mark(`raftlock:drawn:${name}`);
      if (view.drawn.size === 4) performance.mark('raftlock:ready');
    }
    return true;
  } catch (error) {
    // A panel that cannot draw what the node answered is a bug of the page: logged as one too.
    console.error(`the ${name} panel failed to draw`, error);
    problem(name, error);
    return false;
  }
}

/** Names what went wrong with a panel in the footer, until it works again. */
function problem(name, error) {
  const message =
    error instanceof ApiError
      ? `${error.code}: ${error.message}`
      : error instanceof Error
        ? error.message
        : String(error);
  view.problems.set(name, `${name}: ${message}`);
  $('problem').textContent = [...view.problems.values()].join(' · ');
}

/** @param {string} name */
function clearProblem(name) {
  if (view.problems.delete(name)) $('problem').textContent = [...view.problems.values()].join(' · ');
}

/** Scrapes /metrics once a second for the charts until `signal` (this view's) aborts. @param {AbortSignal} signal */
async function scrapeLoop(signal) {
  while (!signal.aborted) {
    try {
      const text = await getText('metrics');
      if (signal.aborted) return;
      view.charts?.add(text, Date.now());
      clearProblem('metrics');
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
  view.locksShown = locksPage;
  const url = new URL(location.href);
  if (view.prefix === '') url.searchParams.delete('prefix');
  else url.searchParams.set('prefix', view.prefix);
  history.replaceState(null, '', url);
  if (typing !== null) clearTimeout(typing);
  typing = setTimeout(soon, 200);
});

$('lock-more-button').addEventListener('click', () => {
  view.locksShown = Math.min(locksLimitMax, view.locksShown + locksPage);
  soon();
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
