import type { SinkModule } from '../sink-module.ts';
import { SlackSink } from './slack-sink.ts';
import { slackSettingsSchema } from './slack-settings.ts';
import type { SlackSettings } from './slack-settings.ts';

export const slackSinkModule: SinkModule<SlackSettings> = {
  type: 'slack',
  summary: 'Slack incoming webhook: one message per alert, coloured by priority, with rule/priority/source/host/tags/output fields',
  settingsSchema: slackSettingsSchema,
  create: (settings, deps) => new SlackSink(settings, deps),
};
export { SlackSink } from './slack-sink.ts';
export { buildSlackMessage, SLACK_COLORS } from './slack-payload.ts';
export type { SlackMessage, SlackAttachment, SlackField } from './slack-payload.ts';
export { slackSettingsSchema } from './slack-settings.ts';
export type { SlackSettings } from './slack-settings.ts';
