import type { Alert } from '@peregrine/alert';
import { encodeAlert } from '@peregrine/sinks';
import { DELIVER_JOB, deliveryJobOptions } from './job-data.ts';
import type { DeliveryJobData, QueuedAlert } from './job-data.ts';

/**
 * How the hub stores an alert in a delivery job: its Falcosidekick JSON text.
 * The hub's choice, made here once (ingest, dead-letter replay, throttle
 * summaries and dead-letter ids all call this): text costs a third of an
 * object to put into and take out of a BullMQ job, it keeps integers beyond
 * 2^53 exact (BullMQ's JSON.stringify throws on bigint), and a sink whose
 * request body is that JSON (`Sink.deliverEncoded`) sends it as it is. The
 * format itself is the sinks' (`encodeAlert`), which is why it is borrowed
 * rather than redefined; `queuedAlertObject` (job-data.ts) reads it back.
 */
export function queuedForm(alert: Alert): string {
  return encodeAlert(alert);
}

/** A delivery job ready for BullMQ's `addBulk` (a FlowProducer job adds its queue name). */
export interface DeliveryJob {
  readonly name: typeof DELIVER_JOB;
  readonly data: DeliveryJobData;
  readonly opts: ReturnType<typeof deliveryJobOptions>;
}

/**
 * One destination's alerts cut into delivery jobs of at most `maxBatch`
 * alerts each: the only place jobs are cut, for ingest and for dead-letter
 * replay alike. `encode` lets ingest share one encoding of an alert between
 * the destinations it goes to.
 */
export function deliveryJobs(alerts: readonly Alert[], maxBatch: number, receivedAt: number, encode: (alert: Alert) => QueuedAlert = queuedForm): DeliveryJob[] {
  const jobs: DeliveryJob[] = [];
  for (let i = 0; i < alerts.length; i += maxBatch) {
    jobs.push({ name: DELIVER_JOB, data: { alerts: alerts.slice(i, i + maxBatch).map(encode), receivedAt }, opts: deliveryJobOptions() });
  }
  return jobs;
}
