import type { DeliveryResult } from '../sink.ts';
import { parseRetryAfter } from './retry-after.ts';

/** How much of a response body goes into a failure reason. */
export const BODY_SNIPPET_CHARS = 300;

export interface HttpOutcome {
  readonly status: number;
  /** Raw `Retry-After` header, if any. */
  readonly retryAfter?: string | null;
  /** Response body text (only a snippet is kept). */
  readonly body?: string;
}

/** Shortens a response body for a log line or a dead-letter reason. */
export function bodySnippet(body: string | undefined): string {
  if (body === undefined) return '';
  const flat = body.replace(/\s+/g, ' ').trim();
  return flat.length > BODY_SNIPPET_CHARS ? `${flat.slice(0, BODY_SNIPPET_CHARS)}…` : flat;
}

/**
 * The one place HTTP statuses become delivery results, for every HTTP sink:
 * 2xx delivered; 408, 429 and 5xx retryable (with Retry-After); every other
 * status permanent. `what` names the destination in the reason.
 */
export function resultFromStatus(what: string, outcome: HttpOutcome): DeliveryResult {
  const { status } = outcome;
  if (status >= 200 && status < 300) return { kind: 'delivered' };
  const snippet = bodySnippet(outcome.body);
  const reason = `${what} answered HTTP ${status}${snippet ? `: ${snippet}` : ''}`;
  if (status === 408 || status === 429 || status >= 500) {
    const retryAfterMs = parseRetryAfter(outcome.retryAfter);
    return retryAfterMs === undefined ? { kind: 'retryable', reason } : { kind: 'retryable', reason, retryAfterMs };
  }
  // 1xx/3xx reach here too: redirects are not followed (a webhook URL that
  // moved is a configuration problem, not something a retry fixes).
  return { kind: 'permanent', reason };
}

/** Network errors, timeouts and aborts: always worth retrying. */
export function resultFromError(what: string, error: unknown, signal?: AbortSignal): DeliveryResult {
  if (signal?.aborted) {
    const cause = signal.reason instanceof Error ? signal.reason.message : String(signal.reason ?? 'aborted');
    return { kind: 'retryable', reason: `${what}: request aborted (${cause})` };
  }
  return { kind: 'retryable', reason: `${what}: ${describeError(error)}` };
}

/** Error message plus the underlying cause, when an HTTP client wraps it (e.g. axios, fetch). */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as Error & { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as Error & { code?: string }).code;
    return `${error.message} (${code ? `${code}: ` : ''}${cause.message})`;
  }
  return error.message;
}
