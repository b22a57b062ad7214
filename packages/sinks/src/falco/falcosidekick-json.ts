import { withExactEventTime } from '@peregrine/alert';
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
 * The alert as Falcosidekick's JSON text, with `evt.time` exact: the webhook's
 * default body, and the form alerts wait in the hub's queues (encoded once at
 * ingest, shared by every destination). `JSON.parse` gives the alert back.
 */
export function encodeAlert(alert: Alert): string {
  return withExactEventTime(JSON.stringify(falcosidekickPayload(alert)), alert);
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
