/**
 * Time formats of Falco alerts for the sinks. Parsing and the RFC 3339 form
 * are @peregrine/alert's (nine fractional digits carried beside a JS Date).
 */
import { formatRfc3339, parseRfc3339, type AlertTime } from '@peregrine/alert';

/** An alert's time: ms since the epoch plus the nanoseconds within the second. */
export type FalcoTime = AlertTime;

/** Parses `2024-06-10T06:13:20.123456789Z` (any offset). Undefined if it is not RFC 3339. */
export const parseFalcoTime = parseRfc3339;

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** Falco's `evt.time` in UTC: `HH:MM:SS.nnnnnnnnn`. */
export function formatClockTime(t: FalcoTime): string {
  const d = new Date(t.epochMs);
  return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(t.nanos, 9)}`;
}

/** Falco's `evt.time.iso8601` in UTC: `2024-06-10T06:13:20.123456789Z`. */
export const formatIsoTime = formatRfc3339;

/** For people (Slack): `2024-06-10 06:13:20.123456789 UTC`. */
export function formatReadableTime(t: FalcoTime): string {
  const d = new Date(t.epochMs);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${formatClockTime(t)} UTC`;
}
