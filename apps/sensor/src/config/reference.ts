import { schemaReference } from '@peregrine/config-reference';
import { sensorConfigSchema } from './schema.ts';

/**
 * The configuration reference as a Markdown table, generated from the schema
 * (docs/sensor.md embeds it between markers; a test keeps the two in step).
 */
export function sensorConfigReference(): string {
  return schemaReference(sensorConfigSchema);
}
