import type { Alert } from '@peregrine/alert';

/** One BullMQ job: a batch of alerts for one destination. */
export interface DeliveryJobData {
  readonly alerts: Alert[];
  /** When the hub accepted the oldest alert of the batch (ms since epoch), for the latency histogram. */
  readonly receivedAt: number;
  /** Throttle summary job: report `key`'s suppressed count, using `sample` as the template alert. */
  readonly summary?: { readonly key: string; readonly sample: Alert; readonly uuid: string; readonly count?: number };
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
