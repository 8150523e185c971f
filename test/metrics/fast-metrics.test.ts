// The hot-path counters and histograms render as valid Prometheus text through a prom-client
// Registry: cumulative buckets, +Inf equal to _count, labels escaped, per-registry isolation.
import { Registry } from 'prom-client';
import t from 'tap';
import { FastCounter, FastHistogram } from '../../src/metrics/fast-metrics.js';
import { parsePrometheusText, valueOf } from './fixtures/prom-text.js';

void t.test('counters by zero, one and two labels', async (t) => {
  const registry = new Registry();
  const plain = new FastCounter(registry, 'x_total', 'Plain.');
  const one = new FastCounter(registry, 'y_total', 'One label.', ['kind']);
  const two = new FastCounter(registry, 'z_total', 'Two labels.', ['op', 'code']);
  plain.at0().value += 3;
  one.at1('mutex').value += 1;
  one.at1('mutex').value += 1;
  one.at1('weird "quoted"\\ \nname').value += 1;
  two.at2('acquire', 'OK').value += 5;
  two.at2('acquire', 'BUSY').value += 1;
  two.at2('release', 'OK').value += 4;
  t.equal(one.at1('mutex'), one.at1('mutex'), 'a series is made once and then found');
  const parsed = parsePrometheusText(await registry.metrics());
  t.equal(parsed.get('x_total')?.type, 'counter');
  t.equal(valueOf(parsed, 'x_total'), 3);
  t.equal(valueOf(parsed, 'y_total', { kind: 'mutex' }), 2);
  t.equal(valueOf(parsed, 'y_total', { kind: 'weird "quoted"\\ \nname' }), 1, 'label values escaped and read back');
  t.equal(valueOf(parsed, 'z_total', { op: 'acquire' }), 6);
  t.equal(valueOf(parsed, 'z_total', { code: 'OK' }), 9);
  t.equal(two.total(), 10);
  t.throws(() => plain.at1('a'), /exactly one label/);
  t.throws(() => one.at2('a', 'b'), /exactly two labels/);
  t.throws(() => two.at0(), /has labels/);
});

void t.test('histograms: buckets, sum, count; reset keeps the series handles working', async (t) => {
  const registry = new Registry();
  registry.setDefaultLabels({ node: 'n1' });
  const h = new FastHistogram(registry, 'd_seconds', 'Durations.', [0.1, 1, 10], ['op']);
  const a = h.at1('a');
  for (const v of [0.05, 0.1, 0.5, 2, 20]) a.observe(v);
  let parsed = parsePrometheusText(await registry.metrics());
  t.equal(parsed.get('d_seconds')?.type, 'histogram');
  t.equal(valueOf(parsed, 'd_seconds_bucket', { op: 'a', le: '0.1' }), 2, 'a value on a bound counts in that bucket');
  t.equal(valueOf(parsed, 'd_seconds_bucket', { op: 'a', le: '1' }), 3);
  t.equal(valueOf(parsed, 'd_seconds_bucket', { op: 'a', le: '10' }), 4);
  t.equal(valueOf(parsed, 'd_seconds_bucket', { op: 'a', le: '+Inf' }), 5);
  t.equal(valueOf(parsed, 'd_seconds_count', { op: 'a', node: 'n1' }), 5, "the registry's default labels apply");
  t.equal(valueOf(parsed, 'd_seconds_sum', { op: 'a' }), 22.65);
  registry.resetMetrics();
  a.observe(3);
  parsed = parsePrometheusText(await registry.metrics());
  t.equal(valueOf(parsed, 'd_seconds_count', { op: 'a' }), 1);
  t.equal(valueOf(parsed, 'd_seconds_bucket', { op: 'a', le: '1' }), 0);
  t.throws(() => new FastHistogram(new Registry(), 'bad', 'Bad.', [1, 1]), /must increase/);
});

void t.test('two registries hold separate metrics of the same name', async (t) => {
  const first = new Registry();
  const second = new Registry();
  new FastCounter(first, 'same_total', 'Same.').at0().value += 1;
  new FastCounter(second, 'same_total', 'Same.').at0().value += 7;
  t.equal(valueOf(parsePrometheusText(await first.metrics()), 'same_total'), 1);
  t.equal(valueOf(parsePrometheusText(await second.metrics()), 'same_total'), 7);
});
