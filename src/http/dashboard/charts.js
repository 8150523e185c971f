// Throughput and latency charts (uPlot, served by the node from its own package) fed by scraping
// the node's /metrics once a second: rates and quantiles come from the difference of two scrapes.
import { buckets, parseMetrics, quantileBetween, total } from './metrics.js';

const windowPoints = 300; // five minutes at one scrape a second
const requests = 'raftlock_client_requests_total';
const grants = 'raftlock_lock_grants_total';
const latency = 'raftlock_client_request_duration_seconds';

export class Charts {
  /** @param {HTMLElement} throughputBox @param {HTMLElement} latencyBox */
  constructor(throughputBox, latencyBox) {
    /** @type {number[][]} */
    this.rates = [[], [], []];
    /** @type {number[][]} */
    this.lat = [[], [], []];
    this.previous = null;
    const UPlot = globalThis.uPlot;
    if (UPlot === undefined) {
      throughputBox.textContent = 'charts unavailable: the chart library did not load';
      this.throughput = null;
      this.latency = null;
      return;
    }
    const width = Math.max(300, throughputBox.clientWidth || 520);
    const axes = (unit) => [{}, { label: unit, size: 56 }];
    this.throughput = new UPlot(
      {
        title: 'throughput',
        width,
        height: 170,
        axes: axes('per second'),
        scales: { x: { time: true } },
        series: [
          {},
          { label: 'requests/s', stroke: '#2f6fde', width: 1.5, value: (_, v) => fmt(v) },
          { label: 'grants/s', stroke: '#1f8a4c', width: 1.5, value: (_, v) => fmt(v) },
        ],
      },
      this.rates,
      throughputBox,
    );
    this.latency = new UPlot(
      {
        title: 'request latency',
        width,
        height: 170,
        axes: axes('ms'),
        // Logarithmic: a p50 of a millisecond and a p99 of a second both stay readable.
        scales: { x: { time: true }, y: { distr: 3, log: 10 } },
        series: [
          {},
          { label: 'p50 ms', stroke: '#2f6fde', width: 1.5, value: (_, v) => fmt(v) },
          { label: 'p99 ms', stroke: '#c62828', width: 1.5, value: (_, v) => fmt(v) },
        ],
      },
      this.lat,
      latencyBox,
    );
    new ResizeObserver(() => {
      const w = Math.max(300, throughputBox.clientWidth);
      this.throughput?.setSize({ width: w, height: 170 });
      this.latency?.setSize({ width: w, height: 170 });
    }).observe(throughputBox);
  }

  /** Adds one scrape of the metrics text taken at `atMs`. @param {string} text @param {number} atMs */
  add(text, atMs) {
    const m = parseMetrics(text);
    const now = { atMs, requests: total(m, requests), grants: total(m, grants), latency: buckets(m, latency) };
    const before = this.previous;
    this.previous = now;
    if (before === null || this.throughput === null) return;
    const seconds = (atMs - before.atMs) / 1000;
    if (seconds <= 0) return;
    const t = atMs / 1000;
    push(this.rates, [
      t,
      Math.max(0, now.requests - before.requests) / seconds,
      Math.max(0, now.grants - before.grants) / seconds,
    ]);
    const p50 = quantileBetween(before.latency, now.latency, 0.5);
    const p99 = quantileBetween(before.latency, now.latency, 0.99);
    // A log scale cannot show 0: anything under 10 µs is drawn at 10 µs.
    const ms = (q) => (q === null ? null : Math.max(0.01, q * 1000));
    push(this.lat, [t, ms(p50), ms(p99)]);
    this.throughput.setData(this.rates);
    this.latency?.setData(this.lat);
  }
}

/** @param {(number | null)[][]} columns @param {(number | null)[]} row */
function push(columns, row) {
  row.forEach((v, i) => columns[i].push(v));
  if (columns[0].length > windowPoints) for (const c of columns) c.shift();
}

/** @param {number | null} v */
function fmt(v) {
  if (v === null || v === undefined) return '–';
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}
