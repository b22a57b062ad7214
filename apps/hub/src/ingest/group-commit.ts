import type { Alert } from '@peregrine/alert';
import type { FlowJob, FlowProducer } from 'bullmq';
import type { HubKeys } from '../redis/keys.ts';
import type { HubMetrics } from '../metrics.ts';
import type { Router, Routed } from '../routing/router.ts';
import { deliveryJobs, queuedForm } from '../delivery/delivery-jobs.ts';

interface Pending {
  readonly alerts: readonly Alert[];
  readonly everyDestination: boolean;
  readonly receivedAt: number;
  resolve(): void;
  reject(error: Error): void;
}

export interface GroupCommitOptions {
  /** Most alerts in one Redis transaction. */
  readonly maxBatchAlerts: number;
  /** Transactions in flight at once. */
  readonly maxInFlight: number;
  /** A transaction not acknowledged by then fails its requests (they get 503). */
  readonly timeoutMs: number;
  /** Wait this long (ms) for more requests before a write, unless the batch is already full. 0: next event-loop turn. */
  readonly lingerMs: number;
}

/**
 * Durable ingest with group commit. Requests that arrive while earlier writes
 * are in flight share the next write: all their alerts are routed and written
 * to every matched destination queue in ONE MULTI/EXEC (BullMQ FlowProducer
 * `addBulk`), and every request resolves only after Redis acknowledged it.
 * So a 202 means "queued for every destination", and a failure means "queued
 * for none" (the sender retries; nothing is half-accepted).
 *
 * One BullMQ job per alert would cap the hub near 15k alerts/s; here a job
 * carries up to `maxBatch` alerts for one destination, and under load one
 * transaction carries many requests.
 */
export class GroupCommit {
  private queue: Pending[] = [];
  private inFlight = 0;
  private scheduled = false;
  private readonly idle: Array<() => void> = [];

  constructor(
    private readonly producer: FlowProducer,
    private readonly router: Router,
    private readonly keys: HubKeys,
    private readonly metrics: HubMetrics,
    private readonly options: GroupCommitOptions,
  ) {}

  /** Resolves once the alerts are in Redis for every matching destination. */
  submit(alerts: readonly Alert[], everyDestination = false): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ alerts, everyDestination, receivedAt: Date.now(), resolve, reject });
      this.pendingAlerts += alerts.length;
      this.schedule();
    });
  }

  /** Resolves when nothing is waiting or in flight (for graceful shutdown). */
  drained(): Promise<void> {
    if (this.queue.length === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private pendingAlerts = 0;
  private lastWriteRequests = 0;

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.options.maxInFlight) return;
    this.scheduled = true;
    const run = () => {
      this.scheduled = false;
      this.flush();
    };
    // setImmediate: requests parsed in the same event-loop turn join this
    // write. Under load a short linger lets more concurrent requests share a
    // write: fewer, larger jobs, ~15-20% less hub CPU per single-alert request
    // in bench/hub (maxInFlight 1, lingerMs 5 vs 2/0), for that much latency.
    // Linger only under load (the last write carried several requests), so an idle hub answers at once.
    if (this.options.lingerMs > 0 && this.lastWriteRequests > 1 && this.pendingAlerts < this.options.maxBatchAlerts) setTimeout(run, this.options.lingerMs);
    else setImmediate(run);
  }

  private flush(): void {
    while (this.queue.length > 0 && this.inFlight < this.options.maxInFlight) {
      const batch: Pending[] = [];
      let count = 0;
      while (this.queue.length > 0 && (batch.length === 0 || count + this.queue[0].alerts.length <= this.options.maxBatchAlerts)) {
        const next = this.queue.shift() as Pending;
        batch.push(next);
        count += next.alerts.length;
      }
      this.pendingAlerts -= count;
      this.lastWriteRequests = batch.length;
      this.inFlight++;
      void this.write(batch).finally(() => {
        this.inFlight--;
        if (this.queue.length > 0) this.schedule();
        else if (this.inFlight === 0) for (const done of this.idle.splice(0)) done();
      });
    }
  }

  private async write(batch: readonly Pending[]): Promise<void> {
    let routed: Routed;
    try {
      routed = await this.writeRouted(batch);
    } catch (e) {
      // Whatever failed (routing, serialising, Redis), every request in the batch hears about it.
      const error = e instanceof Error ? e : new Error(String(e));
      for (const p of batch) p.reject(error);
      return;
    }
    for (const [destination, alerts] of routed) this.metrics.queued.inc({ destination }, alerts.length);
    for (const p of batch) p.resolve();
  }

  private async writeRouted(batch: readonly Pending[]): Promise<Routed> {
    let alertCount = 0;
    for (const p of batch) alertCount += p.alerts.length;
    this.metrics.writeBatch.observe(alertCount);
    const routed: Routed = new Map();
    for (const p of batch) this.router.route(p.alerts, p.everyDestination, routed);
    const receivedAt = batch[0].receivedAt;
    const flows: FlowJob[] = [];
    // Each alert is encoded once, however many destinations it goes to.
    const encoded = new Map<Alert, string>();
    const encode = (alert: Alert): string => {
      let text = encoded.get(alert);
      if (text === undefined) {
        text = queuedForm(alert);
        encoded.set(alert, text);
      }
      return text;
    };
    for (const route of this.router.routes) {
      const alerts = routed.get(route.destination);
      if (alerts === undefined) continue;
      const queueName = this.keys.queueName(route.destination);
      for (const job of deliveryJobs(alerts, route.maxBatch, receivedAt, encode)) flows.push({ ...job, queueName });
    }
    if (flows.length > 0) await withTimeout(this.producer.addBulk(flows), this.options.timeoutMs);
    return routed;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Redis did not acknowledge the write within ${ms} ms`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
