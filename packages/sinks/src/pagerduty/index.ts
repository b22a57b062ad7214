import type { SinkModule } from '../sink-module.ts';
import { PagerDutySink } from './pagerduty-sink.ts';
import { pagerDutySettingsSchema } from './pagerduty-settings.ts';
import type { PagerDutySettings } from './pagerduty-settings.ts';

export const pagerDutySinkModule: SinkModule<PagerDutySettings> = {
  type: 'pagerduty',
  summary: 'PagerDuty Events API v2 trigger per alert: severity from priority, templated dedup_key, US/EU endpoint',
  settingsSchema: pagerDutySettingsSchema,
  create: (settings, deps) => new PagerDutySink(settings, deps),
};
export { PagerDutySink } from './pagerduty-sink.ts';
export { buildTriggerEvent, pagerDutyEnqueueUrl, DEFAULT_SEVERITIES } from './pagerduty-event.ts';
export type { PagerDutyTriggerEvent } from './pagerduty-event.ts';
export { pagerDutySettingsSchema, PAGERDUTY_SEVERITIES } from './pagerduty-settings.ts';
export type { PagerDutySettings, PagerDutySeverity } from './pagerduty-settings.ts';
