import { createHash, randomUUID } from 'node:crypto';
import type { Alert } from '@peregrine/alert';
import { Queue, Worker } from 'bullmq';
import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import type { AlertOutcome, DeliveryResult, Sink } from '@peregrine/sinks';
import type { DeliveryConfig, ThrottleConfig } from '../config/schema.ts';
import type { HubMetrics } from '../metrics.ts';
import type { RedisClient } from '../redis/connection.ts';
import type { HubKeys } from '../redis/keys.ts';
import { RetryableDeliveryError, retryDelayMs } from './backoff.ts';
import type { DeadLetterEntry, DeadLetterStore } from './dead-letter.ts';
import { SUMMARY_JOB, deliveryJobOptions, queuedAlertObject } from './job-data.ts';
import type { DeliveryJobData, QueuedAlert } from './job-data.ts';
import { deliveryJobs, queuedForm } from './delivery-jobs.ts';
import { Throttle } from './throttle.ts';

export interface DestinationWorkerOptions {
  readonly name: string;
  readonly sink: Sink;
  readonly delivery: DeliveryConfig;
  readonly throttle?: ThrottleConfig;
  readonly keys: HubKeys;
  /** Shared non-blocking connection (BullMQ duplicates it for its blocking reads). */
  readonly connection: RedisClient;
  readonly metrics: HubMetrics;
  readonly deadLetters: DeadLetterStore;
  readonly logger: Logger;
  /** A job whose hub died is picked up again after about this long (ms). */
  readonly lockDurationMs: number;
}

/**
 * Delivery to one destination: its own BullMQ queue and worker, so a slow or
 * dead receiver only backs up its own queue. Owns retries (backoff + jitter,
 * Retry-After), the per-attempt timeout, the concurrency limit, throttling
 * and the hand-off to the dead-letter set: once here, not in each sink.
 */
export class DestinationWorker {
  readonly queue: Queue;
  private worker: Worker | undefined;
  private readonly throttle: Throttle | undefined;
  private readonly labels: { destination: string };
  private readonly latency: { observe(seconds: number): void };

  constructor(private readonly o: DestinationWorkerOptions) {
    this.labels = { destination: o.name };
    this.latency = o.metrics.latency.labels(o.name);
    this.queue = new Queue(o.keys.queueName(o.name), { connection: o.connection, prefix: o.keys.prefix });
    this.queue.on('error', (err) => o.logger.error({ err }, 'queue error'));
    this.throttle = o.throttle === undefined ? undefined : new Throttle(o.throttle, o.name, o.keys, o.connection);
  }

  start(): void {
    const { o } = this;
    this.worker = new Worker(o.keys.queueName(o.name), (job: Job<DeliveryJobData>) => this.process(job), {
      connection: o.connection,
      prefix: o.keys.prefix,
      concurrency: o.delivery.concurrency,
      // BullMQ's limiter counts jobs (deliveries) per interval in Redis, so it holds across hub processes.
      ...(o.delivery.rateLimit === undefined ? {} : { limiter: { max: o.delivery.rateLimit.max, duration: o.delivery.rateLimit.perMs } }),
      // The lock is renewed every lockDuration/2; a dead hub's lock runs out within lockDuration and the
      // next stalled check (one per queue every stalledInterval, across all hubs) moves its jobs back:
      // re-delivery within ~1.5 x lockDuration of a SIGKILL (docs/hub.md, test/recovery.test.ts).
      lockDuration: o.lockDurationMs,
      stalledInterval: Math.max(500, Math.floor(o.lockDurationMs / 2)),
      // A hub killed mid-delivery must not turn into a lost alert: stalls re-deliver, they never fail the job.
      maxStalledCount: 1000,
      settings: { backoffStrategy: (attemptsMade, _type, err) => retryDelayMs(attemptsMade, o.delivery, err) },
    });
    this.worker.on('error', (err) => o.logger.error({ err }, 'worker error'));
  }

  /** Adds alerts as fresh jobs (dead-letter replay). */
  async requeue(alerts: readonly Alert[]): Promise<void> {
    const jobs = deliveryJobs(alerts, this.o.delivery.maxBatch, Date.now());
    if (jobs.length > 0) await this.queue.addBulk(jobs);
    this.o.metrics.queued.inc(this.labels, alerts.length);
  }

  async jobCounts(): Promise<Record<string, number>> {
    return this.queue.getJobCounts('wait', 'active', 'delayed', 'prioritized', 'failed');
  }

  /** Stops taking jobs and waits for the deliveries in flight. */
  async close(): Promise<void> {
    await this.worker?.close();
    await this.queue.close();
    await this.o.sink.close();
  }

  private async process(job: Job<DeliveryJobData>): Promise<void> {
    if (job.name === SUMMARY_JOB) return this.processSummary(job);
    const queued: QueuedAlert[] = job.data.alerts;
    let alerts = queued;
    let stored = queued;
    if (this.throttle !== undefined) {
      const outcome = await this.throttle.filter(alerts.map(queuedAlertObject), job.id);
      if (outcome.suppressed > 0) this.o.metrics.suppressed.inc(this.labels, outcome.suppressed);
      for (const first of outcome.firstSuppressed) {
        const summary = { key: first.key, sample: queuedForm(first.alert), uuid: randomUUID() };
        // jobId from this job and the alert that opened suppression: a retried job schedules it once,
        // and another alert reusing that uuid (the sender picks it) does not cancel this summary.
        // A digest: BullMQ refuses job ids with ':', which a uuid may hold.
        await this.queue.add(SUMMARY_JOB, { alerts: [], receivedAt: Date.now(), summary }, { ...deliveryJobOptions(), delay: first.delayMs, jobId: `summary-${job.id}-${uuidDigest(first.alert.uuid)}` });
      }
      alerts = outcome.admitted;
      stored = outcome.admittedIndexes.map((i) => queued[i]);
    }
    if (alerts.length > 0) await this.deliver(job, alerts, stored);
  }

  private async processSummary(job: Job<DeliveryJobData>): Promise<void> {
    const summary = job.data.summary;
    if (summary === undefined || this.throttle === undefined) return;
    let count = summary.count;
    if (count === undefined) {
      count = await this.throttle.take(summary.key);
      await job.updateData({ ...job.data, summary: { ...summary, count } });
    }
    if (count > 0) await this.deliver(job, [this.throttle.summaryAlert(queuedAlertObject(summary.sample), summary.uuid, count)]);
  }

  /**
   * Delivers `alerts`; `stored[i]` is what the job keeps for `alerts[i]` (the
   * queued form before throttling annotated it), written back when part of the
   * job is done, so a retry starts after what was delivered or dead-lettered
   * and decides (and annotates) the rest exactly as this run did.
   */
  private async deliver(job: Job<DeliveryJobData>, alerts: QueuedAlert[], stored: readonly QueuedAlert[] = alerts): Promise<void> {
    const { o } = this;
    let pending = alerts;
    let pendingStored = stored;
    for (;;) {
      const result = await this.attempt(job, pending);
      if (result.kind === 'delivered') return;
      if (result.outcomes !== undefined && result.outcomes.length === pending.length) return this.applyOutcomes(job, pending, pendingStored, result.outcomes);
      const deliveredCount = Math.min(result.delivered ?? 0, pending.length);
      const remaining = pending.slice(deliveredCount);
      const remainingStored = pendingStored.slice(deliveredCount);
      const attempt = job.attemptsMade + 1;
      // A permanent failure the sink pins on one alert (it reports how many went
      // before it) is that alert's alone: it is dead-lettered and the alerts after
      // it are delivered, so one bad alert never takes down the rest of a job
      // that group commit filled from many senders. Without `delivered` (a batch
      // sent as one request) the whole batch shares the failure.
      if (result.kind === 'permanent' && result.delivered !== undefined && remaining.length > 1) {
        o.metrics.failed.inc({ ...this.labels, kind: 'permanent' }, 1);
        await this.deadLetter(job, remaining.slice(0, 1), result.reason, 'permanent', attempt);
        pending = remaining.slice(1);
        pendingStored = remainingStored.slice(1);
        // Recorded before going on: a retry of this job (or another hub after a
        // crash) neither resends nor re-dead-letters what is behind it.
        await this.storeRemaining(job, pendingStored);
        continue;
      }
      o.metrics.failed.inc({ ...this.labels, kind: result.kind }, remaining.length);
      // A retryable failure (network, 5xx, 429, timeout) says how the receiver is
      // doing, not what is wrong with the alert: the rest of the batch waits behind it.
      if (result.kind === 'retryable' && attempt < o.delivery.attempts) {
        if (deliveredCount > 0) await this.storeRemaining(job, remainingStored);
        throw new RetryableDeliveryError(result.reason, result.retryAfterMs);
      }
      await this.deadLetter(job, remaining, result.reason, result.kind === 'permanent' ? 'permanent' : 'exhausted', attempt);
      return;
    }
  }

  /**
   * A batch the receiver answered alert by alert (an OpenSearch `_bulk`): each
   * permanent alert is dead-lettered with its own reason, the retryable ones
   * alone are kept in the job and retried (or, out of attempts, dead-lettered),
   * the delivered ones are done.
   */
  private async applyOutcomes(job: Job<DeliveryJobData>, pending: readonly QueuedAlert[], pendingStored: readonly QueuedAlert[], outcomes: readonly AlertOutcome[]): Promise<void> {
    const { o } = this;
    const attempt = job.attemptsMade + 1;
    const refused = new Map<string, QueuedAlert[]>();
    const retry: number[] = [];
    outcomes.forEach((outcome, i) => {
      if (outcome.kind === 'retryable') retry.push(i);
      else if (outcome.kind === 'permanent') refused.set(outcome.reason, [...(refused.get(outcome.reason) ?? []), pending[i]]);
    });
    for (const [reason, alerts] of refused) {
      o.metrics.failed.inc({ ...this.labels, kind: 'permanent' }, alerts.length);
      await this.deadLetter(job, alerts, reason, 'permanent', attempt);
    }
    if (retry.length === 0) return;
    o.metrics.failed.inc({ ...this.labels, kind: 'retryable' }, retry.length);
    const first = outcomes[retry[0]] as Extract<AlertOutcome, { kind: 'retryable' }>;
    if (attempt < o.delivery.attempts) {
      // Only the retryable alerts stay in the job: a retry neither resends the delivered nor re-dead-letters the refused.
      await this.storeRemaining(job, retry.map((i) => pendingStored[i]));
      const retryAfterMs = Math.max(...retry.map((i) => (outcomes[i] as Extract<AlertOutcome, { kind: 'retryable' }>).retryAfterMs ?? 0));
      throw new RetryableDeliveryError(retry.length > 1 ? `${first.reason} (and ${retry.length - 1} more alerts of the batch)` : first.reason, retryAfterMs > 0 ? retryAfterMs : undefined);
    }
    const exhausted = new Map<string, QueuedAlert[]>();
    for (const i of retry) {
      const reason = (outcomes[i] as Extract<AlertOutcome, { kind: 'retryable' }>).reason;
      exhausted.set(reason, [...(exhausted.get(reason) ?? []), pending[i]]);
    }
    for (const [reason, alerts] of exhausted) await this.deadLetter(job, alerts, reason, 'exhausted', attempt);
  }

  private async storeRemaining(job: Job<DeliveryJobData>, remaining: readonly QueuedAlert[]): Promise<void> {
    // A summary job carries its alert in `summary`, not in `alerts`.
    if (job.name !== SUMMARY_JOB) await job.updateData({ ...job.data, alerts: [...remaining] });
  }

  /** One call to the sink; counts what it delivered. */
  private async attempt(job: Job<DeliveryJobData>, alerts: QueuedAlert[]): Promise<DeliveryResult> {
    const { o, labels } = this;
    let result: DeliveryResult;
    try {
      const ctx = { signal: AbortSignal.timeout(o.delivery.timeoutMs) };
      // Text straight to a sink that sends it as it is; objects for every other sink.
      result =
        o.sink.deliverEncoded !== undefined && alerts.every((a) => typeof a === 'string')
          ? await o.sink.deliverEncoded(alerts as string[], ctx)
          : await o.sink.deliver(alerts.map(queuedAlertObject), ctx);
    } catch (e) {
      // Sinks must not throw; one that does is treated as a transient failure.
      result = { kind: 'retryable', reason: `sink threw: ${(e as Error).message}` };
    }
    const deliveredCount =
      result.kind === 'delivered'
        ? alerts.length
        : result.outcomes !== undefined && result.outcomes.length === alerts.length
          ? result.outcomes.filter((outcome) => outcome.kind === 'delivered').length
          : Math.min(result.delivered ?? 0, alerts.length);
    if (deliveredCount > 0) {
      o.metrics.delivered.inc(labels, deliveredCount);
      const seconds = Math.max(0, (Date.now() - job.data.receivedAt) / 1000);
      // One observation per alert (they share the batch's ingest time); the label child is resolved once.
      for (let i = 0; i < deliveredCount; i++) this.latency.observe(seconds);
    }
    return result;
  }

  private async deadLetter(job: Job<DeliveryJobData>, alerts: readonly QueuedAlert[], reason: string, kind: DeadLetterEntry['kind'], attempts: number): Promise<void> {
    const { o } = this;
    const failedAt = new Date().toISOString();
    const entries: DeadLetterEntry[] = alerts.map((queued) => ({ destination: o.name, alert: queuedAlertObject(queued), reason, kind, attempts, failedAt }));
    await o.deadLetters.add(entries);
    o.metrics.deadLettered.inc(this.labels, entries.length);
    o.logger.warn({ jobId: job.id, alerts: entries.length, reason, kind, attempts }, 'alerts dead-lettered');
  }
}

function uuidDigest(uuid: string): string {
  return createHash('sha1').update(uuid).digest('base64url');
}
