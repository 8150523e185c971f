/**
 * Gauges read at each scrape from a sample of the node (its applied state, its Raft status, its
 * connection count), which is null until the node has one: a gauge then keeps its last value
 * rather than reporting a made-up zero. The lock, Raft, storage and client metrics all declare
 * their plain gauges through this one place.
 */
import type { Registry } from 'prom-client';
import { Gauge } from 'prom-client';

/** A gauge `name` that reads its value from the sample. */
export type SampledGauge<S> = (name: string, help: string, read: (sample: S) => number) => void;

/** Declares gauges on `registry` that read `sample()` when scraped. */
export function sampledGauges<S>(registry: Registry, sample: () => S | null): SampledGauge<S> {
  const registers = [registry];
  return (name, help, read) => {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        const s = sample();
        if (s !== null) this.set(read(s));
      },
    });
  };
}
