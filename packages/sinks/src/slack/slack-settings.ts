import { z } from 'zod';
import { clientTlsSettings } from '../http/http-client.ts';
import { httpUrl, templateSourceOrSidekick, timeoutMs } from '../settings/common-settings.ts';

export const slackSettingsSchema = z
  .object({
    webhookUrl: httpUrl.describe('Slack incoming-webhook URL. Falcosidekick: slack.webhookurl'),
    channel: z.string().min(1).optional().describe('Overrides the webhook\'s channel (only for legacy webhooks that allow it). Falcosidekick: slack.channel'),
    username: z.string().default('Peregrine').describe('Sender name. Falcosidekick: slack.username (default there: Falcosidekick)'),
    icon: z
      .string()
      .optional()
      .describe('Sender icon: an image URL (sent as icon_url) or an emoji like :falcon: (sent as icon_emoji). Falcosidekick: slack.icon'),
    footer: z.string().default('Peregrine').describe('Attachment footer in all/fields formats. Falcosidekick: slack.footer'),
    outputFormat: z
      .enum(['all', 'text', 'fields', 'field'])
      .default('all')
      .transform((f) => (f === 'field' ? 'fields' : f))
      .describe('all: output text + fields; text: output text only; fields: fields only ("field" accepted, as in Falcosidekick\'s docs). Falcosidekick: slack.outputformat'),
    messageFormat: templateSourceOrSidekick({ escape: 'slack' })
      .optional()
      .describe('Template for the message text above the attachment, e.g. "*{{ rule }}* on {{ hostname }}". Falcosidekick: slack.messageformat; its Go templates with {{ .Rule }} / {{ index .OutputFields "x" }} are converted'),
    tls: clientTlsSettings,
    timeoutMs,
  })
  .strict();

export type SlackSettings = z.output<typeof slackSettingsSchema>;
