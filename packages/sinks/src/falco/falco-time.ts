/**
 * An alert's RFC 3339 time split into parts, keeping all nine fractional
 * digits (a JS Date stops at milliseconds, Falco prints nanoseconds).
 */
export interface FalcoTime {
  /** Milliseconds since the epoch (fraction truncated to ms). */
  readonly epochMs: number;
  /** Nanoseconds within the second, 0..999 999 999. */
  readonly nanos: number;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:\d{2})$/;

/** Parses `2024-06-10T06:13:20.123456789Z` (any offset). Undefined if it is not RFC 3339. */
export function parseFalcoTime(text: string): FalcoTime | undefined {
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac = '', offset] = m;
  let epochMs = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (Number.isNaN(epochMs)) return undefined;
  if (offset !== 'Z' && offset !== 'z') {
    const sign = offset.startsWith('-') ? -1 : 1;
    epochMs -= sign * (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(4, 6))) * 60_000;
  }
  const nanos = Number(frac.padEnd(9, '0'));
  return { epochMs: epochMs + Math.floor(nanos / 1e6), nanos };
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** Falco's `evt.time` in UTC: `HH:MM:SS.nnnnnnnnn`. */
export function formatClockTime(t: FalcoTime): string {
  const d = new Date(t.epochMs);
  return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(t.nanos, 9)}`;
}

/** Falco's `evt.time.iso8601` in UTC: `2024-06-10T06:13:20.123456789Z`. */
export function formatIsoTime(t: FalcoTime): string {
  const d = new Date(t.epochMs);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${formatClockTime(t)}Z`;
}

/** For people (Slack): `2024-06-10 06:13:20.123456789 UTC`. */
export function formatReadableTime(t: FalcoTime): string {
  const d = new Date(t.epochMs);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${formatClockTime(t)} UTC`;
}
