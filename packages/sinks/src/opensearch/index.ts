import type { SinkModule } from '../sink-module.ts';
import { OpenSearchSink } from './opensearch-sink.ts';
import { openSearchSettingsSchema } from './opensearch-settings.ts';
import type { OpenSearchSettings } from './opensearch-settings.ts';

export const openSearchSinkModule: SinkModule<OpenSearchSettings> = {
  type: 'opensearch',
  summary: 'Elasticsearch or OpenSearch _bulk: _id = alert uuid (retries never duplicate), dated index from the alert time, index template, per-document failures',
  settingsSchema: openSearchSettingsSchema,
  create: (settings, deps) => new OpenSearchSink(settings, deps),
};
export { OpenSearchSink } from './opensearch-sink.ts';
export { openSearchSettingsSchema } from './opensearch-settings.ts';
export type { OpenSearchSettings } from './opensearch-settings.ts';
export { alertDocument, indexFor, indexTemplate, flattenFieldName } from './opensearch-document.ts';
