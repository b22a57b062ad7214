/**
 * Parses an HTTP `Retry-After` value (RFC 9110 §10.2.3): either a number of
 * seconds or an HTTP date. Returns milliseconds from `now`, never negative,
 * or undefined when the header is missing or unreadable, or so large that it
 * is no finite number of milliseconds (a 310-digit value): a receiver must not
 * be able to park a retry for ever. The value is the receiver's wish, not a
 * bound: callers cap it (the hub at `delivery.maxRetryDelayMs`).
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  if (/^\d+$/.test(text)) return finiteOrUndefined(Number(text) * 1000);
  // Fractional seconds are not in the RFC, but some proxies send them.
  if (/^\d+\.\d+$/.test(text)) return finiteOrUndefined(Math.round(Number(text) * 1000));
  // An HTTP date always names a day or month; this keeps Date.parse from
  // reading things like "-5" as a year.
  if (!/[A-Za-z]{3}/.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

function finiteOrUndefined(ms: number): number | undefined {
  return Number.isFinite(ms) ? ms : undefined;
}
