// Public entry of @peregrine/sinks: re-exports only.
export type { AlertOutcome, DeliveryContext, DeliveryResult, Sink } from './sink.ts';
export type { SinkDeps, SinkModule } from './sink-module.ts';
export { sinkModules, createSink } from './registry.ts';
export { SinkConfigError, SINK_ERROR_CODES } from './errors.ts';
export type { SinkErrorCode } from './errors.ts';

export { compileTemplate } from './template/template.ts';
export type { RenderTemplate, TemplateOptions } from './template/template.ts';
export { TemplateError } from './template/template-error.ts';
export { convertSidekickTemplate, isSidekickTemplate } from './template/sidekick-template.ts';
export type { SidekickTemplateOptions, SidekickTemplateRoot } from './template/sidekick-template.ts';

export { formatFalcoText, formatFalcoJson, falcoMessage, hasFalcoPrefix } from './falco/falco-text.ts';
export type { FalcoTextOptions } from './falco/falco-text.ts';
export { parseFalcoTime, formatClockTime, formatIsoTime, formatReadableTime } from './falco/falco-time.ts';
export type { FalcoTime } from './falco/falco-time.ts';
export { encodeAlert, decodeAlert, falcosidekickPayload } from './falco/falcosidekick-json.ts';

export { parseRetryAfter } from './http/retry-after.ts';
export { resultFromStatus } from './http/status-result.ts';
export { parseHeaderList } from './settings/common-settings.ts';

export * from './slack/index.ts';
export * from './pagerduty/index.ts';
export * from './webhook/index.ts';
export * from './stdout/index.ts';
export * from './file/index.ts';
export * from './kafka/index.ts';
export * from './opensearch/index.ts';
export * from './lambda/index.ts';
