import type { Alert } from '@peregrine/alert';

/**
 * The result of one delivery attempt. Routing, retries, throttling and the
 * dead-letter set live in the hub, once; a sink only says what happened.
 */
export type DeliveryResult =
  | { readonly kind: 'delivered' }
  /** Worth retrying (network error, 5xx, 429). `retryAfterMs` from Retry-After when the receiver gave one. */
  | { readonly kind: 'retryable'; readonly reason: string; readonly retryAfterMs?: number; readonly delivered?: number }
  /** Retrying cannot help (4xx other than 408/429, bad config). */
  | { readonly kind: 'permanent'; readonly reason: string; readonly delivered?: number };
// `delivered` (optional, on failures of multi-alert batches): how many leading
// alerts of the batch were delivered before the failure. A hub may resubmit
// only `alerts.slice(delivered)`; ignoring it and retrying the whole batch is
// also correct, at the cost of duplicates at non-idempotent receivers.

export interface DeliveryContext {
  /** Aborted when the hub's per-request timeout expires or the hub shuts down. */
  readonly signal: AbortSignal;
}

/** One configured destination of one type: takes batches of alerts. */
export interface Sink {
  readonly type: string;
  /** Deliver a batch (≥1 alert). Must not throw: map every failure to a result. */
  deliver(alerts: readonly Alert[], ctx: DeliveryContext): Promise<DeliveryResult>;
  /**
   * Optional fast path: the same batch already encoded, each element the
   * alert's Falcosidekick JSON (`encodeAlert`). A sink whose request body is
   * that JSON (the webhook's default body) sends it without a parse and a
   * re-serialisation per alert. Same contract and results as `deliver`.
   */
  readonly deliverEncoded?: (encoded: readonly string[], ctx: DeliveryContext) => Promise<DeliveryResult>;
  /** Release files, sockets, clients. */
  close(): Promise<void>;
}
