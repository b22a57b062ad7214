import { schemaReference } from '@peregrine/config-reference';
import { hubConfigSchema } from './schema.ts';

/**
 * The configuration reference as a Markdown table, generated from the schema
 * (docs/hub.md embeds it between markers; a test keeps the two in step).
 */
export function configReference(): string {
  return schemaReference(hubConfigSchema);
}
