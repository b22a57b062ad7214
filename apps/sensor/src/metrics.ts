/**
 * The sensor's Prometheus metrics, in a registry of its own (several sensors
 * in one process in tests do not collide). Counters the probe, the state
 * tables, the outputs and the container registry already keep are read at
 * scrape time, so nothing is counted twice per event; only alerts and batch
 * timings are observed as they happen. Labels are bounded: syscall names,
 * rule names of the loaded rules, priorities, output kinds.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Alert } from '@peregrine/alert';

/** What a scrape reads from the running sensor. */
export interface SensorSnapshot {
  /** Cumulative records per syscall from the probe (`sched` = fork/exec/exit). */
  readonly eventsByType: Readonly<Record<string, number>>;
  readonly eventsEvaluated: number;
  readonly kernelDrops: number;
  readonly userDrops: number;
  readonly malformedRecords: number;
  readonly processes: number;
  readonly fds: number;
  readonly evictedProcesses: number;
  readonly containers: { readonly entries: number; readonly known: number; readonly lookups: number; readonly lookupFailures: number } | undefined;
  /** Per output kind (stdout, file, hub): its stats(). */
  readonly outputs: Readonly<Record<string, Record<string, number>>>;
  readonly rulesLoaded: number;
  readonly rulesGeneration: number;
  readonly reloadFailures: number;
}

/** Sets a counter to a cumulative value read elsewhere (prom-client counters only go up by inc). */
function setCumulative(c: Counter<string>, labels: Record<string, string>, value: number, seen: Map<string, number>): void {
  const key = JSON.stringify(labels);
  const before = seen.get(key) ?? 0;
  if (value > before) c.inc(labels, value - before);
  seen.set(key, Math.max(before, value));
}

export class SensorMetrics {
  readonly registry = new Registry();
  readonly alerts: Counter<'rule' | 'priority'>;
  readonly batchSeconds: Histogram<string>;
  readonly batchEvents: Histogram<string>;
  readonly reloads: Counter<'result'>;

  constructor(snapshot: () => SensorSnapshot) {
    const r = [this.registry];
    this.alerts = new Counter({ name: 'peregrine_sensor_alerts_total', help: 'Alerts raised, by rule and priority', labelNames: ['rule', 'priority'], registers: r });
    this.batchSeconds = new Histogram({
      name: 'peregrine_sensor_batch_evaluation_seconds',
      help: 'Time to walk one probe batch: state updates and rule evaluation of its events',
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: r,
    });
    this.batchEvents = new Histogram({
      name: 'peregrine_sensor_batch_events',
      help: 'Events per probe batch',
      buckets: [1, 10, 100, 1000, 5000, 10000, 50000],
      registers: r,
    });
    this.reloads = new Counter({ name: 'peregrine_sensor_rules_reloads_total', help: 'Rules reloads, by result (ok, failed: the old rules stayed)', labelNames: ['result'], registers: r });

    const seen = new Map<string, number>();
    // One collect reads the snapshot and sets everything; it hangs on the first of these metrics, so the others are fresh when read.
    const collect = (): void => {
      const s = snapshot();
      for (const [type, n] of Object.entries(s.eventsByType)) setCumulative(events, { type }, n, seen);
      setCumulative(evaluated, {}, s.eventsEvaluated, seen);
      setCumulative(drops, { where: 'kernel' }, s.kernelDrops, seen);
      setCumulative(drops, { where: 'user' }, s.userDrops, seen);
      setCumulative(malformed, {}, s.malformedRecords, seen);
      setCumulative(evicted, {}, s.evictedProcesses, seen);
      table.set({ table: 'processes' }, s.processes);
      table.set({ table: 'fds' }, s.fds);
      if (s.containers) {
        table.set({ table: 'containers' }, s.containers.entries);
        setCumulative(lookups, { result: 'ok' }, s.containers.lookups - s.containers.lookupFailures, seen);
        setCumulative(lookups, { result: 'failed' }, s.containers.lookupFailures, seen);
      }
      for (const [output, stats] of Object.entries(s.outputs)) {
        for (const [stat, n] of Object.entries(stats)) outputAlerts.set({ output, stat }, n);
      }
      const hub = s.outputs.hub;
      spoolBytes.set(hub?.spoolBytes ?? 0);
      spoolAlerts.set(hub?.spoolAlerts ?? 0);
      spoolAge.set(hub?.spoolOldestAgeSeconds ?? 0);
      rules.set(s.rulesLoaded);
      generation.set(s.rulesGeneration);
    };
    const events = new Counter({ name: 'peregrine_sensor_events_total', help: 'Events the probe captured, by evt.type (sched = fork/exec/exit state records)', labelNames: ['type'], registers: r, collect });
    const evaluated = new Counter({ name: 'peregrine_sensor_events_evaluated_total', help: 'Syscall events evaluated against the rules', registers: r });
    const drops = new Counter({ name: 'peregrine_sensor_drops_total', help: 'Events lost, by where: kernel (ring full) or user (reader behind, whenBehind: drop)', labelNames: ['where'], registers: r });
    const malformed = new Counter({ name: 'peregrine_sensor_malformed_records_total', help: 'Records the decoder could not read (skipped)', registers: r });
    const table = new Gauge({ name: 'peregrine_sensor_state_entries', help: 'State table sizes', labelNames: ['table'], registers: r });
    const evicted = new Counter({ name: 'peregrine_sensor_state_evicted_total', help: 'Process entries dropped to stay within the bound', registers: r });
    const lookups = new Counter({ name: 'peregrine_sensor_container_lookups_total', help: 'Container metadata lookups, by result', labelNames: ['result'], registers: r });
    const outputAlerts = new Gauge({ name: 'peregrine_sensor_output_alerts', help: 'Per output: counters of its stats() (written, sent, spooled, dropped, refused, …)', labelNames: ['output', 'stat'], registers: r });
    const spoolBytes = new Gauge({ name: 'peregrine_sensor_spool_bytes', help: 'Unsent bytes in the hub output\'s on-disk spool', registers: r });
    const spoolAlerts = new Gauge({ name: 'peregrine_sensor_spool_alerts', help: 'Alerts waiting in the spool', registers: r });
    const spoolAge = new Gauge({ name: 'peregrine_sensor_spool_oldest_age_seconds', help: 'Age of the oldest alert waiting in the spool (0 when empty)', registers: r });
    const rules = new Gauge({ name: 'peregrine_sensor_rules_loaded', help: 'Enabled rules in force', registers: r });
    const generation = new Gauge({ name: 'peregrine_sensor_rules_generation', help: 'Rule set generation in force (1 at start, +1 per successful reload)', registers: r });

    collectDefaultMetrics({ register: this.registry, prefix: 'peregrine_sensor_' });
  }

  observeAlert(alert: Alert): void {
    this.alerts.inc({ rule: alert.rule, priority: alert.priority });
  }
}

/** What /healthz answers: 200 when the probe runs, 503 otherwise. */
export interface Health {
  readonly ok: boolean;
  readonly [key: string]: unknown;
}

/** /metrics and /healthz on one port (loopback by default). */
export async function startMetricsServer(
  metrics: SensorMetrics,
  health: () => Health,
  host: string,
  port: number,
): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${(err as Error).message}\n`),
      );
      return;
    }
    if (path === '/healthz') {
      const h = health();
      res.writeHead(h.ok ? 200 : 503, { 'content-type': 'application/json' }).end(`${JSON.stringify(h)}\n`);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: the sensor serves /metrics and /healthz\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    server,
    url: `http://${shownHost}:${addr.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
