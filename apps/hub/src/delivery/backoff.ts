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

/**
 * Delay before retry number `attemptsMade` (1 = first retry): the receiver's
 * Retry-After when it gave one (honoured even above backoffMaxMs), else
 * exponential backoff with "equal jitter" (half fixed, half random), so many
 * hubs retrying the same receiver spread out without ever retrying at once.
 */
export function retryDelayMs(attemptsMade: number, config: Pick<DeliveryConfig, 'backoffInitialMs' | 'backoffMaxMs'>, error?: Error, random: () => number = Math.random): number {
  // Recognised by name, not instanceof: BullMQ may hand back a copy.
  if (error?.name === 'RetryableDeliveryError') {
    const after = (error as RetryableDeliveryError).retryAfterMs;
    if (after !== undefined && after >= 0) return Math.ceil(after);
  }
  const exponent = Math.min(Math.max(attemptsMade - 1, 0), 30);
  const cap = Math.min(config.backoffMaxMs, config.backoffInitialMs * 2 ** exponent);
  return Math.round(cap / 2 + (random() * cap) / 2);
}
