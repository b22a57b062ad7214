import type { DeliveryResult } from '../sink.ts';
import { resultFromError, resultFromStatus } from './status-result.ts';

export interface HttpRequest {
  readonly url: string;
  readonly method: 'POST' | 'PUT';
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export const USER_AGENT = 'Peregrine/0.1';

/**
 * Sends one request with Node's fetch and maps the outcome to a delivery
 * result. `timeoutMs` bounds this request even if the hub's signal never
 * fires; both abort it. Never throws.
 */
export async function sendRequest(
  what: string,
  request: HttpRequest,
  signal: AbortSignal,
  timeoutMs: number,
): Promise<DeliveryResult> {
  const combined = AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]);
  try {
    const response = await fetch(request.url, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      signal: combined,
      redirect: 'manual',
    });
    // Read the body even on success so the connection can be reused.
    const body = await response.text();
    return resultFromStatus(what, { status: response.status, retryAfter: response.headers.get('retry-after'), body });
  } catch (error) {
    return resultFromError(what, error, combined);
  }
}
