import { describeAlertErrors, parseJsonExact, validateAlert } from '@peregrine/alert';
import type { Alert } from '@peregrine/alert';

/** A request body that is not acceptable; `message` names the place and the field. */
export class BadAlertsError extends Error {
  override readonly name = 'BadAlertsError';
  constructor(
    readonly reason: 'invalid_json' | 'invalid_alert',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Decodes a body into raw values: a JSON object, a JSON array, or NDJSON
 * (one JSON value per line). `ndjson` forces line mode; otherwise a body that
 * is not one JSON value is tried as NDJSON. Integers beyond 2^53 (Falco's
 * nanosecond evt.time, inodes, masks) become bigint with every digit
 * (parseJsonExact: JSON.parse itself unless the text has a 16-digit run).
 */
export function decodeBody(text: string, ndjson: boolean): unknown[] {
  if (!ndjson) {
    // Fast path: one JSON value (JSON.parse skips surrounding whitespace itself).
    let firstError: Error;
    try {
      const value: unknown = parseJsonExact(text);
      return Array.isArray(value) ? value : [value];
    } catch (e) {
      firstError = e as Error;
    }
    if (text.trim() === '') throw new BadAlertsError('invalid_json', 'empty body: send a Falco JSON alert');
    if (!text.trim().includes('\n')) throw new BadAlertsError('invalid_json', `body is not valid JSON: ${firstError.message}`);
  }
  const out: unknown[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    try {
      out.push(parseJsonExact(line));
    } catch (e) {
      throw new BadAlertsError('invalid_json', `line ${i + 1} is not valid JSON: ${(e as Error).message}`);
    }
  }
  if (out.length === 0) throw new BadAlertsError('invalid_json', 'empty body: send a Falco JSON alert');
  return out;
}

/**
 * Validates every value as a Falco alert. All or nothing: the first bad one
 * fails the request with its position (for batches) and field, so the sender
 * can fix it and resend the whole batch without duplicates.
 */
export function validateAlerts(values: readonly unknown[], batch: boolean): Alert[] {
  if (values.length === 0) throw new BadAlertsError('invalid_alert', 'no alerts in the body');
  const alerts: Alert[] = new Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const r = validateAlert(values[i]);
    if (!r.ok) throw new BadAlertsError('invalid_alert', `${batch ? `alert [${i}]: ` : ''}${describeAlertErrors(r.errors)}`);
    alerts[i] = r.alert;
  }
  return alerts;
}
