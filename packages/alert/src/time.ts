/**
 * RFC 3339 times with nanoseconds. A JS Date stops at milliseconds; Falco
 * prints nine fractional digits, so the fraction is carried separately.
 */
export interface AlertTime {
  /** Milliseconds since the epoch (fraction truncated to ms). */
  readonly epochMs: number;
  /** Nanoseconds within the second, 0..999 999 999. */
  readonly nanos: number;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:\d{2})$/;

/** Parses `2024-06-10T06:13:20.123456789Z` (any offset). Undefined if it is not a valid RFC 3339 time. */
export function parseRfc3339(text: string): AlertTime | undefined {
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac = '', offset] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 60) return undefined;
  let epochMs = Date.UTC(year, month - 1, day, hour, minute, Math.min(second, 59));
  // Date.UTC rolls 2024-02-30 over into March; a real calendar day survives the round trip.
  if (new Date(epochMs).getUTCDate() !== day) return undefined;
  if (offset !== 'Z' && offset !== 'z') {
    const sign = offset.startsWith('-') ? -1 : 1;
    const offHours = Number(offset.slice(1, 3));
    const offMinutes = Number(offset.slice(4, 6));
    if (offHours > 23 || offMinutes > 59) return undefined;
    epochMs -= sign * (offHours * 60 + offMinutes) * 60_000;
  }
  const nanos = Number(frac.padEnd(9, '0'));
  return { epochMs: epochMs + Math.floor(nanos / 1e6), nanos };
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** `2024-06-10T06:13:20.123456789Z`: UTC, always nine fractional digits (Falco's form). */
export function formatRfc3339(t: AlertTime): string {
  const d = new Date(t.epochMs);
  return (
    `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(t.nanos, 9)}Z`
  );
}

/** The current time in Falco's form (nanoseconds from the high-resolution clock's sub-ms part). */
export function nowRfc3339(): string {
  const epochMs = Date.now();
  const subMs = Number(process.hrtime.bigint() % 1_000_000n);
  return formatRfc3339({ epochMs, nanos: (epochMs % 1000) * 1_000_000 + subMs });
}

/** Nanoseconds since the epoch of an RFC 3339 time, exactly. */
export function rfc3339ToNanos(text: string): bigint | undefined {
  const t = parseRfc3339(text);
  if (!t) return undefined;
  const wholeSecondsMs = t.epochMs - Math.floor(t.nanos / 1e6);
  return BigInt(wholeSecondsMs) * 1_000_000n + BigInt(t.nanos);
}
