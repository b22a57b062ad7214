import type { SinkModule } from '../sink-module.ts';
import { LambdaSink } from './lambda-sink.ts';
import { lambdaSettingsSchema } from './lambda-settings.ts';
import type { LambdaSettings } from './lambda-settings.ts';

export const lambdaSinkModule: SinkModule<LambdaSettings> = {
  type: 'lambda',
  summary: 'AWS Lambda Invoke per alert (RequestResponse or Event): the alert or a template as payload; a function error is a failed delivery',
  settingsSchema: lambdaSettingsSchema,
  create: (settings, deps) => new LambdaSink(settings, deps),
};
export { LambdaSink } from './lambda-sink.ts';
export { lambdaSettingsSchema } from './lambda-settings.ts';
export type { LambdaSettings } from './lambda-settings.ts';
