import type { SinkModule } from '../sink-module.ts';
import { WebhookSink } from './webhook-sink.ts';
import { webhookSettingsSchema } from './webhook-settings.ts';
import type { WebhookSettings } from './webhook-settings.ts';

export const webhookSinkModule: SinkModule<WebhookSettings> = {
  type: 'webhook',
  summary: 'HTTP POST/PUT of each alert (Falcosidekick JSON or a template), custom headers, optional HMAC-SHA256 signature',
  settingsSchema: webhookSettingsSchema,
  create: (settings, deps) => new WebhookSink(settings, deps),
};
export { WebhookSink, webhookSignature } from './webhook-sink.ts';
export { webhookSettingsSchema } from './webhook-settings.ts';
export type { WebhookSettings } from './webhook-settings.ts';
