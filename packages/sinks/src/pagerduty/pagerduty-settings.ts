import { z } from 'zod';
import { PRIORITIES } from '@peregrine/alert';
import { clientTlsSettings } from '../http/http-client.ts';
import { httpUrl, templateSource, timeoutMs } from '../settings/common-settings.ts';

export const PAGERDUTY_SEVERITIES = ['critical', 'error', 'warning', 'info'] as const;
export type PagerDutySeverity = (typeof PAGERDUTY_SEVERITIES)[number];

const severity = z.enum(PAGERDUTY_SEVERITIES);

export const pagerDutySettingsSchema = z
  .object({
    routingKey: z.string().trim().min(1, 'is required (the Events API v2 integration key)').describe('Events API v2 integration (routing) key. Falcosidekick: pagerduty.routingkey'),
    region: z
      .string()
      .transform((r) => r.toLowerCase())
      .pipe(z.enum(['us', 'eu']))
      .default('us')
      .describe('us → https://events.pagerduty.com, eu → https://events.eu.pagerduty.com. Falcosidekick: pagerduty.region (ignored there)'),
    baseUrl: httpUrl
      .optional()
      .describe('Overrides the region\'s base URL (scheme://host[:port][/prefix]); /v2/enqueue is appended. For proxies and tests.'),
    dedupKeyTemplate: templateSource()
      .default('{{ rule }}|{{ hostname }}|{{ output_fields["k8s.pod.name"] | default "-" }}')
      .describe('Template for dedup_key: alerts with the same key update one PagerDuty incident. Keys over 255 chars are replaced by their SHA-256. Empty → PagerDuty makes one incident per event.'),
    summaryTemplate: templateSource()
      .default('{{ message }}')
      .describe('Template for payload.summary (max 1024 chars, longer is cut). {{ message }} is the output without Falco\'s time/priority prefix.'),
    sourceTemplate: templateSource().default('{{ hostname | default "falco" }}').describe('Template for payload.source (the affected system).'),
    componentTemplate: templateSource()
      .default('{{ output_fields["k8s.pod.name"] | default output_fields["container.name"] | default "falco" }}')
      .describe('Template for payload.component.'),
    groupTemplate: templateSource()
      .default('{{ output_fields["k8s.ns.name"] }}')
      .describe('Template for payload.group; omitted when it renders empty.'),
    severityMap: z
      .object(Object.fromEntries(PRIORITIES.map((p) => [p, severity.optional()])) as Record<(typeof PRIORITIES)[number], z.ZodOptional<typeof severity>>)
      .strict()
      .default({})
      .describe('Overrides of the Falco priority → PagerDuty severity map, e.g. {"Notice": "warning"}.'),
    tls: clientTlsSettings,
    timeoutMs,
  })
  .strict();

export type PagerDutySettings = z.output<typeof pagerDutySettingsSchema>;
