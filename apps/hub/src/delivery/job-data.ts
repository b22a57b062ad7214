import type { Alert } from '@peregrine/alert';
import { decodeAlert } from '@peregrine/sinks';

/**
 * An alert as it waits in a queue: its Falcosidekick JSON text (`encodeAlert`,
 * made once at ingest for every destination), or an object (jobs queued by
 * earlier versions). Text costs a third of an object to put into and take out
 * of a BullMQ job, and a sink whose body is that JSON sends it as it is.
 */
export type QueuedAlert = string | Alert;

/** The alert object of a queued alert (integers beyond 2^53 as bigint, not rounded). */
export function queuedAlertObject(queued: QueuedAlert): Alert {
  return typeof queued === 'string' ? decodeAlert(queued) : queued;
}

/** One BullMQ job: a batch of alerts for one destination. */
export interface DeliveryJobData {
  readonly alerts: QueuedAlert[];
  /** When the hub accepted the oldest alert of the batch (ms since epoch), for the latency histogram. */
  readonly receivedAt: number;
  /** Throttle summary job: report `key`'s suppressed count, using `sample` as the template alert (encoded: BullMQ's JSON.stringify throws on bigint fields). */
  readonly summary?: { readonly key: string; readonly sample: QueuedAlert; readonly uuid: string; readonly count?: number };
}

export const DELIVER_JOB = 'deliver';
export const SUMMARY_JOB = 'throttle-summary';

/**
 * BullMQ's own attempt limit is set out of reach: the processor decides when
 * to dead-letter, from the *current* configuration.
 */
export const BULLMQ_ATTEMPTS = 1_000_000;

export function deliveryJobOptions() {
  return {
    attempts: BULLMQ_ATTEMPTS,
    backoff: { type: 'peregrine' },
    removeOnComplete: true,
    removeOnFail: { count: 1000 },
  } as const;
}
