/**
 * Builds Falco JSON alerts for a rule (falco `formats.cpp`, json_output:
 * true): keys hostname, output, output_fields, priority, rule, source, tags,
 * time (alphabetical, as nlohmann's std::map prints them), plus Peregrine's
 * `uuid`. `output` is "HH:MM:SS.nnnnnnnnn: Priority message" with the event
 * time in UTC; `time` is RFC 3339 UTC with nine fractional digits;
 * `output_fields` has the format's fields (sorted) with `evt.time` merged in
 * as integer nanoseconds.
 *
 * Everything that does not depend on the event is done once per rule; per
 * event it is one pass over the compiled format plus the time formatting.
 */
import { randomUUID } from 'node:crypto';
import type { Alert, OutputFieldValue, Priority } from '@peregrine/alert';
import { formatRfc3339 } from '@peregrine/alert';
import type { FieldExtractor, FieldValue } from '../extract.ts';
import { resolveField } from '../fields/index.ts';
import { compareKeys, compileFieldValue, compileOutputFormat, suggestedOutputSuffix } from './format.ts';

export interface AlertRule {
  readonly name: string;
  readonly priority: Priority;
  readonly tags: readonly string[];
  readonly source: string;
  readonly output: string;
}

export interface AlertBuilderOptions {
  /** The alert's `hostname`. */
  readonly hostname: string;
  /**
   * Append the container plugin's suggested fields to syscall rules' outputs,
   * as Falco's default falco.yaml (`append_output: [{suggested_output: true}]`)
   * does. Default true; pass false when the loader has appended them already.
   */
  readonly suggestedOutput?: boolean;
  /** Clock for events without `evt.time` (nanoseconds since the epoch). Default: the system clock. */
  readonly now?: () => bigint;
  /** falco.yaml `time_format_iso_8601`: the `output` line starts with the RFC 3339 time instead of HH:MM:SS.nnnnnnnnn. */
  readonly timeFormatIso8601?: boolean;
  /**
   * falco.yaml `append_output` `extra_fields` for this rule: a bare field name
   * adds its typed value to `output_fields` (`proc.env`), `{key: format}` adds
   * the formatted text under `key`. They never change the `output` text.
   */
  readonly extraFields?: ReadonlyArray<string | Readonly<Record<string, string>>>;
}

/** The output_fields key Falco merges the event time into (integer ns). */
const EVT_TIME_KEY = 'evt.time';
/** libs' raw timestamp field (ns since the epoch); `evt.time` itself is clock text in libs. */
const EVT_RAWTIME = resolveField('evt.rawtime', undefined);
const EVT_TIME = resolveField('evt.time', undefined);

/** Nanoseconds since the epoch from an extracted timestamp (bigint, number or a string of digits). */
export function toEpochNanos(v: FieldValue): bigint | undefined {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? BigInt(Math.trunc(v)) : undefined;
  if (typeof v === 'string' && /^\d+$/.test(v)) return BigInt(v);
  return undefined;
}

function systemNanos(): bigint {
  const ms = BigInt(Date.now());
  return ms * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
}

/** The last second formatted: alerts come in bursts within the same second. */
let cachedSecond: bigint | undefined;
let cachedClock = '';
let cachedDate = '';

/** `HH:MM:SS.nnnnnnnnn` (UTC) and the RFC 3339 time for an instant in ns. */
export function formatEventTime(ns: bigint): { clock: string; rfc3339: string } {
  let second = ns / 1_000_000_000n;
  let nanos = Number(ns % 1_000_000_000n);
  if (nanos < 0) {
    nanos += 1_000_000_000;
    second -= 1n;
  }
  if (second !== cachedSecond) {
    const rfc = formatRfc3339({ epochMs: Number(second) * 1000, nanos: 0 });
    cachedSecond = second;
    cachedDate = rfc.slice(0, 11); // YYYY-MM-DDT
    cachedClock = rfc.slice(11, 19); // HH:MM:SS
  }
  const fraction = String(nanos).padStart(9, '0');
  return { clock: `${cachedClock}.${fraction}`, rfc3339: `${cachedDate}${cachedClock}.${fraction}Z` };
}

/** Returns a function that turns a matching event into the rule's Falco JSON alert. */
export function createAlertBuilder<E>(rule: AlertRule, extractor: FieldExtractor<E>, options: AlertBuilderOptions): (event: E) => Alert {
  const suffix = options.suggestedOutput === false ? '' : suggestedOutputSuffix(rule.source);
  const format = compileOutputFormat(rule.output + suffix, extractor);
  const getRawTime = extractor.accessor(EVT_RAWTIME);
  const getTime = extractor.accessor(EVT_TIME);
  const now = options.now ?? systemNanos;
  const tags = [...new Set(rule.tags)].sort(compareKeys);
  const iso = options.timeFormatIso8601 === true;
  // Extra fields: computed after the format's own, so an extra key replaces a format key of the same name.
  const extras: Array<{ key: string; get: (event: E) => OutputFieldValue }> = [];
  for (const extra of options.extraFields ?? []) {
    if (typeof extra === 'string') extras.push(compileFieldValue(extra, extractor));
    else {
      for (const [key, fmt] of Object.entries(extra)) {
        const compiled = compileOutputFormat(fmt, extractor);
        extras.push({ key, get: (event) => compiled.render(event).text });
      }
    }
  }
  const keys = [...new Set([...format.keys, ...extras.map((x) => x.key), EVT_TIME_KEY])].sort(compareKeys);
  const makeFields = fieldsFactory(keys, format.keys, extras.map((x) => x.key));
  const prefix = `: ${rule.priority} `;
  const { hostname } = options;
  const { name, priority, source } = rule;

  return (event: E): Alert => {
    const ns = toEpochNanos(getRawTime(event)) ?? toEpochNanos(getTime(event)) ?? now();
    const { clock, rfc3339 } = formatEventTime(ns);
    const rendered = format.renderValues(event);
    const extraValues = extras.map((x) => x.get(event));
    const fields = makeFields(rendered.values, extraValues, Number(ns));
    // Property order is the JSON order: Falco's alphabetical keys, then uuid.
    const alert: Omit<Alert, 'uuid'> & { uuid: string } = {
      hostname,
      output: (iso ? rfc3339 : clock) + prefix + rendered.text,
      output_fields: fields,
      priority,
      rule: name,
      source,
      tags: [...tags],
      time: rfc3339,
      uuid: randomUUID(),
    };
    return alert;
  };
}

/**
 * Builds `output_fields` with its keys in Falco's (sorted) order from the
 * format's values, the extra fields' values and the event time. Generated
 * once per rule as one object literal: V8 creates such an object in one step,
 * where thirty keyed stores of dotted names cost microseconds per alert.
 * Keys enter the source only through JSON.stringify (a valid JS string literal).
 */
function fieldsFactory(
  keys: readonly string[],
  formatKeys: readonly string[],
  extraKeys: readonly string[],
): (f: readonly OutputFieldValue[], x: readonly OutputFieldValue[], t: number) => Record<string, OutputFieldValue> {
  const entries = keys.map((key) => {
    // An extra field replaces a format field of the same name; evt.time is always the event time.
    const extra = extraKeys.lastIndexOf(key);
    const value = key === EVT_TIME_KEY ? 't' : extra >= 0 ? `x[${extra}]` : `f[${formatKeys.indexOf(key)}]`;
    return `${JSON.stringify(key)}: ${value}`;
  });
  return new Function('f', 'x', 't', `return { ${entries.join(', ')} };`) as (
    f: readonly OutputFieldValue[],
    x: readonly OutputFieldValue[],
    t: number,
  ) => Record<string, OutputFieldValue>;
}
