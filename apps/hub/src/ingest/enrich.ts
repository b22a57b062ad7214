import type { Alert, OutputFieldValue } from '@peregrine/alert';
import type { RenderTemplate } from '@peregrine/sinks';
import type { EnrichConfig } from '../config/schema.ts';

/** Adds the configured fields to each alert's output_fields, in place. */
export type EnrichAlerts = (alerts: readonly Alert[]) => void;

/**
 * Builds the enrichment step from `enrich` (its templates were compiled when
 * the configuration was loaded). Returns undefined when nothing is
 * configured, so the ingest path does not even call a function per request.
 *
 * Order and precedence, as documented in docs/hub.md:
 * 1. custom fields are added under the alert's own fields (the alert wins:
 *    Falcosidekick overwrites, but a static value replacing the evidence Falco
 *    reported, e.g. `k8s.ns.name`, would mislead routing and the reader);
 * 2. templated fields are rendered against that result (so they see custom
 *    fields, as in Falcosidekick), all before any is stored, so they never see
 *    each other and their order does not matter; each replaces a custom field
 *    of the same name but not a field the alert carries;
 * 3. custom tags are added to the alert's tags (see tagsStep);
 * 4. bracketReplacer renames fields such as `proc.aname[2]`, last, as in
 *    Falcosidekick, so it covers custom and templated fields too.
 *
 * The alert gets a new output_fields object (and tags array): the ones it
 * arrived with may be shared with the request body.
 */
export function compileEnricher(config: EnrichConfig): EnrichAlerts | undefined {
  const steps: EnrichAlerts[] = [];
  const fields = fieldsStep(config);
  if (fields !== undefined) steps.push(fields);
  if (config.customTags.length > 0) steps.push(tagsStep(config.customTags));
  if (config.bracketReplacer !== undefined) steps.push(bracketStep(config.bracketReplacer));
  if (steps.length === 0) return undefined;
  if (steps.length === 1) return steps[0];
  return (alerts) => {
    for (const step of steps) step(alerts);
  };
}

/** Custom and templated fields (see compileEnricher for the order and precedence). */
function fieldsStep(config: EnrichConfig): EnrichAlerts | undefined {
  const custom: Readonly<Record<string, OutputFieldValue>> = config.customFields;
  const hasCustom = Object.keys(custom).length > 0;
  // Converted and compiled when the configuration was loaded (enrichSchema).
  const templated: ReadonlyArray<readonly [string, RenderTemplate]> = Object.entries(config.templatedFields).map(([key, template]) => [key, template.render] as const);
  if (!hasCustom && templated.length === 0) return undefined;

  if (templated.length === 0) {
    return (alerts) => {
      for (const alert of alerts) alert.output_fields = { ...custom, ...alert.output_fields };
    };
  }
  const rendered: string[] = new Array(templated.length);
  return (alerts) => {
    for (const alert of alerts) {
      const own = alert.output_fields;
      const fields: Record<string, OutputFieldValue> = hasCustom ? { ...custom, ...own } : { ...own };
      alert.output_fields = fields;
      for (let i = 0; i < templated.length; i++) rendered[i] = templated[i][1](alert);
      for (let i = 0; i < templated.length; i++) {
        const key = templated[i][0];
        if (!Object.hasOwn(own, key)) setField(fields, key, rendered[i]);
      }
    }
  };
}

/**
 * Falcosidekick's customtags: appended to every alert. Unlike Falcosidekick
 * (append, then sort, duplicates kept) a tag the alert has is not repeated
 * and the rule's own order stays first.
 */
function tagsStep(customTags: readonly string[]): EnrichAlerts {
  return (alerts) => {
    for (const alert of alerts) {
      const missing = customTags.filter((t) => !alert.tags.includes(t));
      if (missing.length > 0) alert.tags = [...alert.tags, ...missing];
    }
  };
}

/** Falcosidekick's bracketreplacer: `proc.aname[2]` → `proc.aname<r>2`, on every output field name with a `[`. */
function bracketStep(replacer: string): EnrichAlerts {
  return (alerts) => {
    for (const alert of alerts) {
      const own = alert.output_fields;
      const keys = Object.keys(own);
      if (!keys.some((key) => key.includes('['))) continue;
      // Field names come from the sender: a plain `fields[key] = …` with a key
      // `__proto__` (as such, or made by renaming `__proto_[`) would replace the
      // object's prototype and drop the field. setField makes an own property.
      const fields: Record<string, OutputFieldValue> = {};
      for (const key of keys) if (!key.includes('[')) setField(fields, key, own[key]);
      // Renamed fields last: they win over a field that already had the new name.
      for (const key of keys) if (key.includes('[')) setField(fields, key.replaceAll('[', replacer).replaceAll(']', ''), own[key]);
      alert.output_fields = fields;
    }
  };
}

/** `fields[key] = value` as an own data property, also for the key `__proto__`. */
function setField(fields: Record<string, OutputFieldValue>, key: string, value: OutputFieldValue): void {
  Object.defineProperty(fields, key, { value, writable: true, enumerable: true, configurable: true });
}
