import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Why a request or alert was refused (label `reason`). */
export type RejectReason = 'invalid_json' | 'invalid_alert' | 'unauthorized' | 'too_large' | 'unavailable' | 'unsupported_encoding';

/**
 * The hub's Prometheus metrics, in a registry of its own so several hubs in
 * one process (tests) do not collide. Destination labels come from the
 * configuration, so cardinality is bounded by it; no per-rule or per-pod labels.
 */
export class HubMetrics {
  readonly registry = new Registry();
  readonly received = new Counter({ name: 'peregrine_hub_alerts_received_total', help: 'Alerts accepted (202) at ingest', labelNames: ['endpoint'], registers: [this.registry] });
  readonly rejected = new Counter({ name: 'peregrine_hub_requests_rejected_total', help: 'Ingest requests refused, by reason', labelNames: ['reason'], registers: [this.registry] });
  readonly queued = new Counter({ name: 'peregrine_hub_alerts_queued_total', help: 'Alerts written to a destination queue', labelNames: ['destination'], registers: [this.registry] });
  readonly delivered = new Counter({ name: 'peregrine_hub_alerts_delivered_total', help: 'Alerts a sink reported delivered', labelNames: ['destination'], registers: [this.registry] });
  readonly failed = new Counter({ name: 'peregrine_hub_delivery_failures_total', help: 'Failed delivery attempts (alerts), by kind', labelNames: ['destination', 'kind'], registers: [this.registry] });
  readonly deadLettered = new Counter({ name: 'peregrine_hub_alerts_dead_lettered_total', help: 'Alerts moved to the dead-letter set', labelNames: ['destination'], registers: [this.registry] });
  readonly suppressed = new Counter({ name: 'peregrine_hub_alerts_suppressed_total', help: 'Alerts suppressed by a destination throttle', labelNames: ['destination'], registers: [this.registry] });
  readonly latency = new Histogram({
    name: 'peregrine_hub_delivery_latency_seconds',
    help: 'Time from ingest (202) to a sink reporting delivery',
    labelNames: ['destination'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });
  readonly writeBatch = new Histogram({
    name: 'peregrine_hub_ingest_write_alerts',
    help: 'Alerts per Redis transaction at ingest (group commit: requests that arrive together share one write)',
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000],
    registers: [this.registry],
  });
  readonly queueDepth: Gauge<'destination' | 'state'>;

  constructor(jobCounts: () => Promise<Array<{ destination: string; counts: Record<string, number> }>>) {
    this.queueDepth = new Gauge({
      name: 'peregrine_hub_queue_jobs',
      help: 'Jobs (batches of alerts) in each destination queue, by state',
      labelNames: ['destination', 'state'],
      registers: [this.registry],
      // Every hub process reads the same Redis counts: a multi-process hub reports them once, not summed.
      aggregator: 'max',
      async collect() {
        try {
          for (const { destination, counts } of await jobCounts()) {
            for (const [state, n] of Object.entries(counts)) this.set({ destination, state }, n);
          }
        } catch {
          // Redis away: keep the last values; /readyz reports the outage.
        }
      },
    });
    collectDefaultMetrics({ register: this.registry, prefix: 'peregrine_hub_' });
  }
}
