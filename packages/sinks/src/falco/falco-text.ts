import type { Alert } from '@peregrine/alert';
import { formatClockTime, formatIsoTime, parseFalcoTime } from './falco-time.ts';
import { fieldsHoldBigInt, stringifyJsonExact, withExactEventTime } from '@peregrine/alert';

export interface FalcoTextOptions {
  /** Falco's `time_format_iso_8601`: ISO time instead of `HH:MM:SS.nnnnnnnnn`. @defaultValue false */
  readonly timeFormatIso8601?: boolean;
}

// Falco's JSON `output` already carries the "<time>: <Priority> " prefix; the
// same pattern Falcosidekick uses to detect it (handlers.go outputFieldFormat).
const PREFIXED = /^[0-9:T.+\-Z]+\.[0-9]+Z?: (Emergency|Alert|Critical|Error|Warning|Notice|Informational|Debug) /;

/** True when `output` already starts with Falco's `<time>: <Priority> ` prefix. */
export function hasFalcoPrefix(output: string): boolean {
  return PREFIXED.test(output);
}

/** The message without Falco's time/priority prefix (Falco's `message` JSON property). */
export function falcoMessage(alert: Alert): string {
  const m = PREFIXED.exec(alert.output);
  return m ? alert.output.slice(m[0].length) : alert.output;
}

/**
 * The line Falco prints to stdout for an alert: `HH:MM:SS.nnnnnnnnn: Priority message`
 * (UTC; Falco itself uses the host's local zone, which is UTC in most
 * containers). The prefix is rebuilt from `time` and `priority`, so an
 * `output` with or without Falco's prefix prints the same way.
 */
export function formatFalcoText(alert: Alert, options: FalcoTextOptions = {}): string {
  const t = parseFalcoTime(alert.time);
  // An unparseable time is kept verbatim rather than dropping the alert.
  const when = t === undefined ? alert.time : options.timeFormatIso8601 ? formatIsoTime(t) : formatClockTime(t);
  return `${when}: ${alert.priority} ${falcoMessage(alert)}`;
}

/**
 * Falco's JSON line (`json_output: true`): keys sorted like Falco's
 * nlohmann::json objects, `output_fields` keys too. Peregrine's `uuid` is
 * kept (it sorts last). Integers beyond 2^53 keep all their digits.
 */
export function formatFalcoJson(alert: Alert): string {
  // Own properties only: a sender's field named "__proto__" is data, and an
  // assignment would replace the object's prototype and drop the field.
  const fields: Record<string, unknown> = {};
  for (const key of Object.keys(alert.output_fields).sort()) {
    Object.defineProperty(fields, key, { value: alert.output_fields[key], enumerable: true, writable: true, configurable: true });
  }
  const json = stringifyJsonExact({
    hostname: alert.hostname,
    output: alert.output,
    output_fields: fields,
    priority: alert.priority,
    rule: alert.rule,
    source: alert.source,
    tags: alert.tags,
    time: alert.time,
    uuid: alert.uuid,
  }, fieldsHoldBigInt(alert.output_fields));
  return withExactEventTime(json, alert);
}
