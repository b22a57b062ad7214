import { accessSync, constants } from 'node:fs';
import { z } from 'zod';
import { PRIORITIES, parsePriority } from '@peregrine/alert';
import type { Priority } from '@peregrine/alert';
import { compileTemplate, convertSidekickTemplate, isSidekickTemplate } from '@peregrine/sinks';
import type { RenderTemplate } from '@peregrine/sinks';
import { compileFieldCondition } from '../routing/field-condition.ts';
import type { FieldTest } from '../routing/field-condition.ts';
import { compileMatcher } from '../routing/matcher.ts';
import type { AlertMatcher } from '../routing/matcher.ts';

/**
 * The hub's whole configuration, one YAML file (`peregrine hub --config`).
 * Every default sits next to its key; `docs/hub.md`'s reference is generated
 * from the `.describe()` texts here.
 */

const priority = z
  .string()
  .transform((text, ctx): Priority => {
    const p = parsePriority(text);
    if (p === undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `unknown priority "${text}"; use one of ${PRIORITIES.join(', ')}` });
      return z.NEVER;
    }
    return p;
  });

/**
 * Matchers and templates are compiled here, once, while the configuration is
 * validated (a compile error is the validation error, with its key path), and
 * the compiled form travels in the configuration to routing, enrichment and
 * throttling, which never compile them again. `source` keeps the text as
 * written (after Falcosidekick conversion) for messages and docs.
 */
export interface CompiledTemplate {
  readonly source: string;
  readonly render: RenderTemplate;
}

/** A `match.fields` condition, compiled. */
export interface CompiledFieldCondition {
  readonly source: string;
  readonly holds: FieldTest;
}

/** A template source compiled (or its error reported at this key). */
const compiledTemplate = (text: z.ZodString, convert: (source: string) => string = (s) => s) =>
  text.transform((text, ctx): CompiledTemplate => {
    try {
      const source = convert(text);
      return { source, render: compileTemplate(source) };
    } catch (e) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: (e as Error).message.split('\n')[0] });
      return z.NEVER;
    }
  });

const fieldCondition = z
  .string()
  .min(1)
  .transform((source, ctx): CompiledFieldCondition => {
    try {
      return { source, holds: compileFieldCondition(source) };
    } catch (e) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: (e as Error).message });
      return z.NEVER;
    }
  });

const durationMs = (what: string) => z.number().int().nonnegative().describe(what);

const matchConditionsSchema = z
  .object({
    minimumPriority: priority
      .optional()
      .describe('Lowest priority delivered (Falco names, any case; `info` = Informational). Absent: every priority.'),
    rules: z
      .array(z.string().min(1))
      .optional()
      .describe('Rule names or globs (`*`, `?`); the alert\'s rule must match one. Absent: every rule.'),
    tags: z
      .object({
        any: z.array(z.string()).optional().describe('The alert has at least one of these tags.'),
        all: z.array(z.string()).optional().describe('The alert has every one of these tags.'),
      })
      .strict()
      .optional()
      .describe('Tag conditions (both may be given).'),
    sources: z.array(z.string().min(1)).optional().describe('Alert sources, e.g. [syscall, k8s_audit]. Absent: every source.'),
    hostnames: z.array(z.string().min(1)).optional().describe('Hostnames or globs. Absent: every host.'),
    fields: z
      .array(fieldCondition)
      .optional()
      .describe('Output-field conditions, all must hold: `k8s.ns.name != kube-system`, `=`, `in (a, b)`, `not in (…)`, `startswith`, `contains`, `glob`, `exists`, `not exists`.'),
  })
  .strict();

/** `match` as written and validated (field conditions compiled): what compileMatcher takes. */
export type MatchConditions = z.output<typeof matchConditionsSchema>;

export const matchSchema = matchConditionsSchema
  // The whole `match`, compiled once into one closure for the router.
  .transform((match): MatchConditions & { readonly matches: AlertMatcher } => ({ ...match, matches: compileMatcher(match) }))
  .default({});

export const deliverySchema = z
  .object({
    attempts: z.number().int().min(1).default(8).describe('Delivery attempts per alert batch before it is dead-lettered.'),
    backoffInitialMs: durationMs('First retry delay in ms; doubles each attempt, with equal jitter (half fixed, half random).').default(1000),
    backoffMaxMs: durationMs('Upper bound of one retry delay in ms (a longer Retry-After is still honoured, up to maxRetryDelayMs).').default(300_000),
    maxRetryDelayMs: durationMs('Upper bound of any retry delay in ms, a receiver\'s Retry-After included (a longer one is cut to this; one too large to be a number is ignored), so no receiver can park a job for ever; the attempts still run out into the dead-letter set.').default(3_600_000),
    timeoutMs: z.number().int().positive().default(10_000).describe('Time allowed for one delivery attempt in ms (the sink is aborted after it).'),
    concurrency: z.number().int().min(1).default(4).describe('Deliveries in flight to this destination per hub process.'),
    maxBatch: z.number().int().min(1).max(10_000).default(100).describe('Most alerts handed to the sink in one delivery.'),
    rateLimit: z
      .object({
        max: z.number().int().min(1).describe('Deliveries allowed per interval.'),
        perMs: z.number().int().min(1).describe('The interval in ms.'),
      })
      .strict()
      .optional()
      .describe(
        'At most `max` deliveries per `perMs` ms to this destination, across all hub processes on the Redis (BullMQ\'s queue rate limiter); the others wait in the queue. A delivery carries up to `maxBatch` alerts, so with `maxBatch: 1` this is alerts per interval, e.g. `{ max: 1, perMs: 1000 }` for Slack\'s one message per second per webhook. Unset: no limit.',
      ),
  })
  .strict();

export const throttleSchema = z
  .object({
    key: compiledTemplate(z.string().min(1)).describe('Template of the deduplication key, e.g. `{{ rule }}|{{ hostname }}`.'),
    windowMs: z.number().int().positive().describe('After an alert is delivered, repeats with the same key are suppressed for this long (ms). When the window ends a summary alert reports how many were suppressed ("12 more … in the last 60 s"); a later alert with the key carries any count not yet reported.'),
  })
  .strict();

const DESTINATION_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

export const destinationSchema = z
  .object({
    type: z.string().min(1).describe('Sink type: slack, pagerduty, webhook, stdout, file.'),
    settings: z.record(z.unknown()).default({}).describe('The sink type\'s settings (see docs/sinks.md); validated by the sink module.'),
    match: matchSchema.describe('Which alerts this destination gets; all conditions must hold. Empty: every alert.'),
    delivery: deliverySchema.partial().optional().describe('Overrides of the top-level `delivery` keys for this destination (the others are inherited).'),
    throttle: throttleSchema.optional().describe('Deduplication of repeats within a window.'),
  })
  .strict();

const secretList = z.array(z.string().min(16, 'use at least 16 characters'));

/**
 * A templated field's source: a Falcosidekick Go template over output_fields
 * is converted here, once, so the config holds Peregrine syntax and ingest
 * only compiles it. Anything that cannot be converted or compiled fails
 * start-up with the key path.
 */
const templatedFieldSource = compiledTemplate(z.string(), (source) => (isSidekickTemplate(source, { root: 'outputFields' }) ? convertSidekickTemplate(source, { root: 'outputFields' }) : source));

const fieldName = z.string().min(1, 'a field name cannot be empty');

export const enrichSchema = z
  .object({
    customFields: z
      .record(fieldName, z.union([z.string(), z.number(), z.boolean()]))
      .default({})
      .describe('Fields added to every alert\'s output_fields at ingest, before routing (so `match.fields`, throttle keys and sink templates see them), e.g. `{cluster: prod-eu}`. A field the alert already carries keeps its value. Falcosidekick: customfields; env CUSTOMFIELDS (`k:v,k2:v2`; a value `%NAME` is read from variable NAME).'),
    templatedFields: z
      .record(fieldName, templatedFieldSource)
      .default({})
      .describe('Fields computed per alert at ingest, after customFields, and stored as text: a template such as `{{ output_fields["k8s.ns.labels.team"] | default "platform" }}`, or Falcosidekick\'s Go form `{{ or (index . "k8s.ns.labels.team") "platform" }}` (index, .key, or, literals are converted; anything else fails start-up). Templates see the custom fields; a templated field replaces a custom field of the same name, never a field the alert carries. Falcosidekick: templatedfields; env TEMPLATEDFIELDS.'),
    customTags: z
      .array(z.string().min(1, 'a tag cannot be empty'))
      .default([])
      .describe('Tags added to every alert at ingest (those it does not already have, after its own, order kept), before routing, so `match.tags` sees them. Falcosidekick: customtags; env CUSTOMTAGS (comma list).'),
    bracketReplacer: z
      .string()
      .optional()
      .describe('Renames output fields with an argument for receivers that cannot take brackets in keys: `proc.aname[2]` becomes `proc.aname_2` with `_` (the `]` is dropped). Applied last, after custom and templated fields. Falcosidekick: bracketreplacer; env BRACKETREPLACER.'),
  })
  .strict();

export const hubConfigSchema = z
  .object({
    listen: z
      .object({
        host: z.string().default('0.0.0.0').describe('Address to bind. Falcosidekick env: LISTENADDRESS.'),
        port: z.number().int().min(0).max(65535).default(2801).describe('TCP port (Falcosidekick\'s default 2801). Falcosidekick env: LISTENPORT.'),
      })
      .strict()
      .default({}),
    tls: z
      .object({
        certFile: z.string().describe('PEM server certificate.'),
        keyFile: z.string().describe('PEM private key.'),
        caFile: z.string().optional().describe('PEM CA bundle used to verify client certificates.'),
        requireClientCert: z.boolean().default(false).describe('Mutual TLS: reject clients without a certificate signed by caFile.'),
      })
      .strict()
      // The files must be readable now, not at listen (a stack trace), as the sinks' client TLS files.
      .superRefine((tls, ctx) => {
        for (const key of ['certFile', 'keyFile', 'caFile'] as const) {
          const file = tls[key];
          if (file === undefined) continue;
          try {
            accessSync(file, constants.R_OK);
          } catch (e) {
            ctx.addIssue({ code: z.ZodIssueCode.custom, path: [key], message: `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
          }
        }
        if (tls.requireClientCert && tls.caFile === undefined) {
          ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['caFile'], message: 'is required with tls.requireClientCert (the CA that signs client certificates)' });
        }
      })
      .optional()
      .describe('Serve HTTPS instead of HTTP.'),
    auth: z
      .object({
        tokens: secretList.default([]).describe('Bearer tokens accepted on ingest, /test and /v1/deadletter. Empty: no token required.'),
      })
      .strict()
      .default({}),
    processes: z
      .union([z.number().int().min(1).max(64), z.literal('auto')])
      .default(1)
      .describe('Hub processes sharing the listen port and the work (Node cluster): a number, or `auto` for one per CPU core. Each runs ingest and every destination\'s delivery; a crashed one is restarted, SIGTERM drains them all. 1: everything in this process.'),
    bodyLimitBytes: z.number().int().positive().default(10 * 1024 * 1024).describe('Largest request body (after gzip decoding) in bytes; larger gets 413.'),
    redis: z
      .object({
        url: z.string().optional().describe('redis:// or rediss:// URL. Absent: an embedded redis-server child is started.'),
        sentinels: z
          .array(z.object({ host: z.string(), port: z.number().int() }).strict())
          .optional()
          .describe('Redis Sentinel nodes (with `sentinelName`) instead of `url`.'),
        sentinelName: z.string().optional().describe('Sentinel master name.'),
        cluster: z
          .array(z.object({ host: z.string(), port: z.number().int() }).strict())
          .optional()
          .describe('Redis Cluster seed nodes instead of `url`. Queue keys share the `{…}` hash tag of `prefix`.'),
        password: z.string().optional().describe('Password (also for Sentinel/Cluster).'),
        prefix: z
          .string()
          .regex(/^\{[^{}]+\}$/, 'must be a hash tag such as {peregrine}, so every key lands in one Cluster slot')
          .default('{peregrine}')
          .describe('Key prefix of every queue and set.'),
        dataDir: z.string().default('.cache/hub-redis').describe('Data folder of the embedded redis-server (AOF on).'),
        embeddedPort: z.number().int().min(0).max(65535).default(0).describe('Port of the embedded redis-server; 0 picks a free one.'),
        lockDurationMs: z
          .number()
          .int()
          .min(1000)
          .default(5000)
          .describe('Lock on a job being delivered, renewed every half of it; a hub process that dies (SIGKILL, crash) has its in-flight jobs delivered again by another hub within about 1.5× this (its locks run out, then the stalled check, every half of it, moves them back). Shorter costs more Redis calls per destination and hub process.'),
      })
      .strict()
      .default({}),
    ingest: z
      .object({
        maxBatchAlerts: z.number().int().min(1).default(2000).describe('Most alerts written to Redis in one transaction; requests arriving together share one.'),
        maxInFlight: z.number().int().min(1).default(1).describe('Redis transactions in flight at once; requests arriving meanwhile wait and share the next one (fewer, larger jobs under load).'),
        lingerMs: z.number().int().min(0).max(100).default(3).describe('Under load (the previous write carried several requests), wait this long (ms) for more requests before writing, unless a full batch is waiting: fewer, larger jobs for a few ms of latency. An idle hub writes at once.'),
        redisTimeoutMs: z.number().int().positive().default(5000).describe('A write Redis has not acknowledged by then is answered 503.'),
      })
      .strict()
      .default({}),
    enrich: enrichSchema.default({}).describe('Fields added to every alert at ingest (Falcosidekick\'s customfields and templatedfields). Nothing runs per alert when both are empty.'),
    delivery: deliverySchema.default({}).describe('Defaults for every destination.'),
    destinations: z
      .record(z.string().regex(DESTINATION_NAME, 'destination names are letters, digits, _ . - (max 63)'), destinationSchema)
      .default({})
      .describe('Named destinations, any number per type.'),
  })
  .strict();

export type HubConfigInput = z.input<typeof hubConfigSchema>;
export type HubConfig = z.output<typeof hubConfigSchema>;
export type DestinationConfig = z.output<typeof destinationSchema>;
export type MatchConfig = z.output<typeof matchSchema>;
export type DeliveryConfig = z.output<typeof deliverySchema>;

/** A destination's delivery settings: the top-level defaults with its own overrides. */
export function deliveryFor(config: HubConfig, destination: DestinationConfig): DeliveryConfig {
  return { ...config.delivery, ...destination.delivery };
}
export type ThrottleConfig = z.output<typeof throttleSchema>;
export type EnrichConfig = z.output<typeof enrichSchema>;
