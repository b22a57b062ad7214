import { fieldsHoldBigInt, parseJsonExact, stringifyJsonExact, withExactEventTime } from '@peregrine/alert';
import type { Alert } from '@peregrine/alert';

/**
 * The alert as Falcosidekick posts it (types.FalcoPayload field order:
 * uuid, output, priority, rule, time, output_fields, source, tags, hostname),
 * so receivers written for Falcosidekick's webhook keep working.
 */
export function falcosidekickPayload(alert: Alert): Record<string, unknown> {
  return {
    uuid: alert.uuid,
    output: alert.output,
    priority: alert.priority,
    rule: alert.rule,
    time: alert.time,
    output_fields: alert.output_fields,
    source: alert.source,
    tags: alert.tags,
    hostname: alert.hostname,
  };
}

/**
 * The alert as Falcosidekick's JSON text, every integer with all its digits
 * (bigint output fields, and a rounded numeric `evt.time` repaired from
 * `time`): the webhook's default body, and the form alerts wait in the hub's
 * queues (encoded once at ingest, shared by every destination). `decodeAlert`
 * gives the alert back; JSON.parse would round integers beyond 2^53.
 */
export function encodeAlert(alert: Alert): string {
  return withExactEventTime(stringifyJsonExact(falcosidekickPayload(alert), fieldsHoldBigInt(alert.output_fields)), alert);
}

/** The alert of an `encodeAlert` text, integers beyond 2^53 as bigint (parseJsonExact). */
export function decodeAlert(encoded: string): Alert {
  return parseJsonExact(encoded) as Alert;
}

/** A stand-in alert for checking templates at start-up. */
export const SAMPLE_ALERT: Alert = {
  uuid: '00000000-0000-4000-8000-000000000000',
  hostname: 'sample-host',
  output: '06:13:20.123456789: Warning Sample "quoted" output\\with\nnewline',
  output_fields: { 'evt.time': 1718000000123456789, 'proc.name': 'cat', 'k8s.pod.name': null, 'fd.name': '/etc/shadow' },
  priority: 'Warning',
  rule: 'Sample rule',
  source: 'syscall',
  tags: ['sample', 'T1555'],
  time: '2024-06-10T06:13:20.123456789Z',
};
