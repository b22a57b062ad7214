import { createHash } from 'node:crypto';
import type { Alert, OutputFieldValue, Priority } from '@peregrine/alert';
import { parseFalcoTime } from '../falco/falco-time.ts';
import type { RenderTemplate } from '../template/template.ts';
import type { PagerDutySettings, PagerDutySeverity } from './pagerduty-settings.ts';

/** Falco priority → Events API v2 severity (Falcosidekick sends critical for everything). */
export const DEFAULT_SEVERITIES: Readonly<Record<Priority, PagerDutySeverity>> = {
  Emergency: 'critical',
  Alert: 'critical',
  Critical: 'critical',
  Error: 'error',
  Warning: 'warning',
  Notice: 'info',
  Informational: 'info',
  Debug: 'info',
};

const REGION_BASE_URLS = { us: 'https://events.pagerduty.com', eu: 'https://events.eu.pagerduty.com' } as const;

/** Where events go: the override base URL if set, else the region's host, plus /v2/enqueue. */
export function pagerDutyEnqueueUrl(settings: Pick<PagerDutySettings, 'region' | 'baseUrl'>): string {
  const base = settings.baseUrl ?? REGION_BASE_URLS[settings.region];
  return `${base.replace(/\/+$/, '')}/v2/enqueue`;
}

/** Events API v2 trigger body (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/). */
export interface PagerDutyTriggerEvent {
  routing_key: string;
  event_action: 'trigger';
  dedup_key?: string;
  client: string;
  payload: {
    summary: string;
    source: string;
    severity: PagerDutySeverity;
    timestamp?: string;
    component?: string;
    group?: string;
    class: string;
    custom_details: Record<string, OutputFieldValue | string[]>;
  };
}

export interface PagerDutyTemplates {
  readonly dedupKey: RenderTemplate;
  readonly summary: RenderTemplate;
  readonly source: RenderTemplate;
  readonly component: RenderTemplate;
  readonly group: RenderTemplate;
}

const MAX_SUMMARY = 1024;
const MAX_DEDUP_KEY = 255;

export function buildTriggerEvent(alert: Alert, settings: PagerDutySettings, templates: PagerDutyTemplates): PagerDutyTriggerEvent {
  let summary = templates.summary(alert).trim() || alert.rule;
  if (summary.length > MAX_SUMMARY) summary = `${summary.slice(0, MAX_SUMMARY - 1)}…`;
  let dedupKey = templates.dedupKey(alert);
  // A cut key could merge unrelated incidents; a hash keeps keys distinct.
  if (dedupKey.length > MAX_DEDUP_KEY) dedupKey = createHash('sha256').update(dedupKey).digest('hex');
  const time = parseFalcoTime(alert.time);
  const component = templates.component(alert);
  const group = templates.group(alert);
  const event: PagerDutyTriggerEvent = {
    routing_key: settings.routingKey,
    event_action: 'trigger',
    client: 'Peregrine',
    payload: {
      summary,
      source: templates.source(alert) || 'falco',
      severity: settings.severityMap[alert.priority] ?? DEFAULT_SEVERITIES[alert.priority] ?? 'critical',
      class: alert.rule,
      // Output fields first, then the alert's own properties; Falco field
      // names contain dots, so they never collide with these.
      custom_details: {
        ...alert.output_fields,
        rule: alert.rule,
        priority: alert.priority,
        source: alert.source,
        hostname: alert.hostname,
        tags: alert.tags,
        uuid: alert.uuid,
        output: alert.output,
      },
    },
  };
  if (dedupKey !== '') event.dedup_key = dedupKey;
  // PagerDuty documents millisecond ISO 8601; Falco's nanoseconds are cut.
  if (time) event.payload.timestamp = new Date(time.epochMs).toISOString();
  if (component) event.payload.component = component;
  if (group) event.payload.group = group;
  return event;
}
