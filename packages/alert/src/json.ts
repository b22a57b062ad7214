import type { Alert } from './alert.ts';
import { fieldsHoldBigInt, stringifyJsonExact } from './exact-json.ts';
import { rfc3339ToNanos } from './time.ts';

/**
 * Writes `output_fields["evt.time"]` with all its digits in JSON text made
 * from this alert (JSON.stringify, no indentation). Falco prints the event
 * time as an exact int64 of nanoseconds; a JS number keeps 53 bits, so it
 * would print rounded (…456789 → …456800). The alert's `time` carries the
 * same instant exactly, so the digits come from there — only when the number
 * is that instant rounded, never a different value. (Alerts made by the
 * rules engine carry evt.time as a number; alerts parsed with parseJsonExact
 * carry it as a bigint, which needs no repair.)
 */
export function withExactEventTime(json: string, alert: Alert): string {
  const rounded = alert.output_fields['evt.time'];
  if (typeof rounded !== 'number' || Number.isSafeInteger(rounded)) return json;
  const exact = rfc3339ToNanos(alert.time);
  if (exact === undefined || Number(exact) !== rounded) return json;
  // "evt.time" can only appear unescaped as a key: quotes inside JSON strings are escaped.
  return json.replace(`"evt.time":${JSON.stringify(rounded)}`, `"evt.time":${exact}`);
}

/**
 * The alert as one line of JSON: bigint output fields with all their digits
 * (stringifyJsonExact), and the exact event time of an alert whose evt.time
 * is a rounded number (see withExactEventTime).
 */
export function alertToJson(alert: Alert): string {
  return withExactEventTime(stringifyJsonExact(alert, fieldsHoldBigInt(alert.output_fields)), alert);
}
