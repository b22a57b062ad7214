import type { SinkModule } from '../sink-module.ts';
import { StdoutSink } from './stdout-sink.ts';
import { stdoutSettingsSchema } from './stdout-settings.ts';
import type { StdoutSettings } from './stdout-settings.ts';

export const stdoutSinkModule: SinkModule<StdoutSettings> = {
  type: 'stdout',
  summary: "Prints each alert to standard output, as Falco's text line or its JSON line",
  settingsSchema: stdoutSettingsSchema,
  create: (settings) => new StdoutSink(settings),
};
export { StdoutSink, formatAlertLine } from './stdout-sink.ts';
export { stdoutSettingsSchema } from './stdout-settings.ts';
export type { StdoutSettings } from './stdout-settings.ts';
