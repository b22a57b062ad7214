import { randomUUID } from 'node:crypto';
import type { Alert, OutputFieldValue } from './alert.ts';
import { PRIORITIES, parsePriority } from './priority.ts';
import { formatRfc3339, parseRfc3339 } from './time.ts';

/** One reason an input is not an alert: the field (dotted/bracketed path) and what is wrong. */
export interface AlertFieldError {
  readonly field: string;
  readonly message: string;
}

export type AlertValidation =
  | { readonly ok: true; readonly alert: Alert }
  | { readonly ok: false; readonly errors: readonly AlertFieldError[] };

/**
 * Checks one Falco JSON alert as Falco's `http_output` and Falcosidekick send
 * it, and returns it in canonical form:
 * - `rule` (non-empty string), `priority` (a Falco priority, any case, `info`
 *   accepted) and `time` (RFC 3339) are required, as in Falcosidekick;
 * - `priority` becomes its canonical name, `time` becomes UTC with nine
 *   fractional digits (Falco's own form is kept byte for byte);
 * - `uuid` is kept when present and filled with a v4 UUID when absent (or
 *   ""); a present one must be 1 to 128 visible ASCII characters (a UUID is):
 *   sinks put it in HTTP headers and Redis keys, where a CR/LF or a control
 *   character would break the request or inject a header;
 * - `source` defaults to `syscalls` (Falcosidekick does the same), `output`
 *   and `hostname` to "", `tags` to [], `output_fields` to {} (Falcosidekick
 *   rejects empty output_fields; Falco omits them with
 *   `json_include_output_fields: false`, so Peregrine accepts that).
 * Unknown top-level keys are ignored, as Falcosidekick does.
 */
export function validateAlert(input: unknown): AlertValidation {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return fail('(alert)', `must be a JSON object, got ${describe(input)}`);
  }
  const raw = input as Record<string, unknown>;
  const errors: AlertFieldError[] = [];

  const rule = raw.rule;
  if (typeof rule !== 'string' || rule.trim() === '') {
    errors.push({ field: 'rule', message: rule === undefined ? 'is required' : `must be a non-empty string, got ${describe(rule)}` });
  }

  let priority: Alert['priority'] | undefined;
  if (typeof raw.priority !== 'string') {
    errors.push({ field: 'priority', message: raw.priority === undefined ? 'is required' : `must be a string, got ${describe(raw.priority)}` });
  } else {
    priority = parsePriority(raw.priority);
    if (priority === undefined) {
      errors.push({ field: 'priority', message: `unknown priority "${clip(raw.priority)}"; use one of ${PRIORITIES.join(', ')}` });
    }
  }

  let time: string | undefined;
  if (typeof raw.time !== 'string') {
    errors.push({ field: 'time', message: raw.time === undefined ? 'is required' : `must be an RFC 3339 string, got ${describe(raw.time)}` });
  } else {
    time = canonicalTime(raw.time);
    if (time === undefined) errors.push({ field: 'time', message: `"${clip(raw.time)}" is not an RFC 3339 time such as 2024-06-10T06:13:20.123456789Z` });
  }

  const uuid = checkUuid(optionalString(raw, 'uuid', errors), errors);
  const output = optionalString(raw, 'output', errors) ?? '';
  const hostname = optionalString(raw, 'hostname', errors) ?? '';
  const source = optionalString(raw, 'source', errors);
  const tags = checkTags(raw.tags, errors);
  const outputFields = checkOutputFields(raw.output_fields, errors);

  if (errors.length > 0 || priority === undefined || time === undefined) return { ok: false, errors };
  return {
    ok: true,
    alert: {
      uuid: uuid === undefined || uuid === '' ? randomUUID() : uuid,
      hostname,
      output,
      output_fields: outputFields,
      priority,
      rule: rule as string,
      source: source === undefined || source === '' ? 'syscalls' : source,
      tags,
      time,
    },
  };
}

/** The errors as one line, e.g. `rule: is required; time: "x" is not an RFC 3339 time …`. */
export function describeAlertErrors(errors: readonly AlertFieldError[]): string {
  return errors.map((e) => `${e.field}: ${e.message}`).join('; ');
}

const CANONICAL_TIME = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{9}Z$/;

/**
 * The time as UTC with nine fractional digits, or undefined if it is not RFC
 * 3339. Falco's own form is already canonical and is kept as it is, without a
 * Date round trip on the ingest hot path.
 */
function canonicalTime(text: string): string | undefined {
  if (CANONICAL_TIME.test(text) && isCalendarDate(text)) return text;
  const parsed = parseRfc3339(text);
  return parsed === undefined ? undefined : formatRfc3339(parsed);
}

/** The day exists in that month (the regex already bounds every part). */
function isCalendarDate(text: string): boolean {
  const day = Number(text.slice(8, 10));
  if (day <= 28) return true;
  const year = Number(text.slice(0, 4));
  const month = Number(text.slice(5, 7));
  return day <= new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function fail(field: string, message: string): AlertValidation {
  return { ok: false, errors: [{ field, message }] };
}

function optionalString(raw: Record<string, unknown>, key: string, errors: AlertFieldError[]): string | undefined {
  const v = raw[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') {
    errors.push({ field: key, message: `must be a string, got ${describe(v)}` });
    return undefined;
  }
  return v;
}

/** The most characters a sender-chosen uuid may have (a UUID has 36). */
export const MAX_UUID_LENGTH = 128;

/** Visible ASCII only: no space (HTTP trims it at the ends), no control character (CR/LF inject headers). */
const UUID_CHARACTERS = /^[\x21-\x7e]*$/;

function checkUuid(uuid: string | undefined, errors: AlertFieldError[]): string | undefined {
  if (uuid === undefined || uuid === '') return uuid;
  if (uuid.length <= MAX_UUID_LENGTH && UUID_CHARACTERS.test(uuid)) return uuid;
  errors.push({
    field: 'uuid',
    message: `must be a UUID or up to ${MAX_UUID_LENGTH} visible ASCII characters (no spaces, control or non-ASCII characters), got ${JSON.stringify(clip(uuid))}${uuid.length > MAX_UUID_LENGTH ? ` (${uuid.length} characters)` : ''}; leave it out and the hub assigns one`,
  });
  return undefined;
}

function checkTags(v: unknown, errors: AlertFieldError[]): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    errors.push({ field: 'tags', message: `must be an array of strings, got ${describe(v)}` });
    return [];
  }
  for (let i = 0; i < v.length; i++) {
    if (typeof v[i] !== 'string') {
      errors.push({ field: `tags[${i}]`, message: `must be a string, got ${describe(v[i])}` });
      return [];
    }
  }
  return v as string[];
}

function checkOutputFields(v: unknown, errors: AlertFieldError[]): Record<string, OutputFieldValue> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) {
    errors.push({ field: 'output_fields', message: `must be an object, got ${describe(v)}` });
    return {};
  }
  const fields = v as Record<string, unknown>;
  for (const key in fields) {
    const value = fields[key];
    if (value === null || typeof value === 'string' || typeof value === 'boolean') continue;
    if ((typeof value === 'number' && Number.isFinite(value)) || typeof value === 'bigint') continue;
    if (Array.isArray(value) && value.every((x) => typeof x === 'string' || typeof x === 'number' || typeof x === 'bigint')) continue;
    errors.push({
      field: `output_fields["${key}"]`,
      message: `must be a string, number, boolean, null or an array of strings/numbers, got ${describe(value)}`,
    });
  }
  return fields as Record<string, OutputFieldValue>;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string "${clip(v)}"`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

function clip(text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
