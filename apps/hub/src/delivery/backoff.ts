import type { DeliveryConfig } from '../config/schema.ts';

/** A delivery attempt failed and may succeed later; carries the receiver's Retry-After. */
export class RetryableDeliveryError extends Error {
  override readonly name = 'RetryableDeliveryError';
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** `delivery.maxRetryDelayMs` when a caller gives none (the schema's default). */
export const DEFAULT_MAX_RETRY_DELAY_MS = 3_600_000;

/**
 * Delay before retry number `attemptsMade` (1 = first retry): the receiver's
 * Retry-After when it gave one (honoured even above backoffMaxMs), else
 * exponential backoff with "equal jitter" (half fixed, half random), so many
 * hubs retrying the same receiver spread out without ever retrying at once.
 * Never more than `maxRetryDelayMs`: a receiver answering `Retry-After` with
 * 300 digits or a date in the year 9999 must not park the job for ever (a
 * non-finite or negative Retry-After is ignored); the attempts still run out
 * into the dead-letter set.
 */
export function retryDelayMs(
  attemptsMade: number,
  config: Pick<DeliveryConfig, 'backoffInitialMs' | 'backoffMaxMs'> & { readonly maxRetryDelayMs?: number },
  error?: Error,
  random: () => number = Math.random,
): number {
  const ceiling = config.maxRetryDelayMs ?? DEFAULT_MAX_RETRY_DELAY_MS;
  // Recognised by name, not instanceof: BullMQ may hand back a copy.
  if (error?.name === 'RetryableDeliveryError') {
    const after = (error as RetryableDeliveryError).retryAfterMs;
    if (typeof after === 'number' && Number.isFinite(after) && after >= 0) return Math.min(Math.ceil(after), ceiling);
  }
  const exponent = Math.min(Math.max(attemptsMade - 1, 0), 30);
  const cap = Math.min(config.backoffMaxMs, config.backoffInitialMs * 2 ** exponent, ceiling);
  return Math.round(cap / 2 + (random() * cap) / 2);
}
