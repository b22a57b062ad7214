import type { Alert } from '@peregrine/alert';

/**
 * The result of one delivery attempt. Routing, retries, throttling and the
 * dead-letter set live in the hub, once; a sink only says what happened.
 */
export type DeliveryResult =
  | { readonly kind: 'delivered' }
  /** Worth retrying (network error, 5xx, 429). `retryAfterMs` from Retry-After when the receiver gave one. */
  | { readonly kind: 'retryable'; readonly reason: string; readonly retryAfterMs?: number; readonly delivered?: number; readonly outcomes?: readonly AlertOutcome[] }
  /** Retrying cannot help (4xx other than 408/429, bad config). */
  | { readonly kind: 'permanent'; readonly reason: string; readonly delivered?: number; readonly outcomes?: readonly AlertOutcome[] };
// `delivered` (optional, on failures of multi-alert batches): how many leading
// alerts of the batch were delivered before the failure. A hub may resubmit
// only `alerts.slice(delivered)`; ignoring it and retrying the whole batch is
// also correct, at the cost of duplicates at non-idempotent receivers.
//
// `outcomes` (optional, on failures of batches whose receiver answers per
// alert, e.g. an OpenSearch `_bulk`): one entry per alert of the batch, in
// batch order. It says more than `delivered` and wins over it: a hub retries
// only the retryable alerts and dead-letters each permanent one with its own
// reason. The result's `kind` then summarises the batch (retryable when any
// alert is retryable, else permanent) and `reason` is the first failure's, so
// a hub that ignores `outcomes` still does something safe: it retries or
// dead-letters the whole batch (the sinks that give outcomes write
// idempotently, so re-sent delivered alerts do not duplicate).

/** What happened to one alert of a batch (see `outcomes`). */
export type AlertOutcome =
  | { readonly kind: 'delivered' }
  | { readonly kind: 'retryable'; readonly reason: string; readonly retryAfterMs?: number }
  | { readonly kind: 'permanent'; readonly reason: string };

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
