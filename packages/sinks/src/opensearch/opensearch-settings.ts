import { z } from 'zod';
import { clientTlsSettings } from '../http/http-client.ts';
import { headerMap, httpUrl, timeoutMs } from '../settings/common-settings.ts';

/** Index names as Elasticsearch and OpenSearch accept them (the date suffix is added to this). */
const indexName = z
  .string()
  .min(1)
  .max(200)
  .refine((n) => n === n.toLowerCase(), 'must be lower case (Elasticsearch/OpenSearch refuse upper case in index names)')
  .refine((n) => !/[\\/*?"<>| ,#:]/.test(n), 'must not contain \\ / * ? " < > | space , # :')
  .refine((n) => !/^[-_+.]/.test(n), 'must not start with -, _, + or .');

export const openSearchSettingsSchema = z
  .object({
    url: httpUrl.describe('Base URL of the cluster (http(s)://host:port, optionally a path prefix). Falcosidekick: elasticsearch.hostport'),
    index: indexName.default('falco').describe('Index name; the date suffix is added. Falcosidekick: elasticsearch.index'),
    suffix: z
      .string()
      .transform((v) => v.toLowerCase())
      .pipe(z.enum(['daily', 'monthly', 'yearly', 'annually', 'none'], { errorMap: () => ({ message: 'must be daily, monthly, yearly (annually) or none' }) }))
      .transform((v) => (v === 'annually' ? 'yearly' : v))
      .default('daily')
      .describe('Date suffix from the alert\'s own time (UTC): daily -YYYY.MM.DD, monthly -YYYY.MM, yearly -YYYY ("annually" accepted), none. Falcosidekick: elasticsearch.suffix (from the ingest time there)'),
    pipeline: z.string().min(1).optional().describe('Ingest pipeline for every document (?pipeline=). Falcosidekick: elasticsearch.pipeline'),
    username: z.string().min(1).optional().describe('Basic auth user (with password). Falcosidekick: elasticsearch.username'),
    password: z.string().min(1).optional().describe('Basic auth password. Falcosidekick: elasticsearch.password'),
    apiKey: z.string().min(1).optional().describe('API key, sent as "Authorization: ApiKey <apiKey>" (Elasticsearch: the base64 "encoded" value of the create-API-key answer). Falcosidekick: elasticsearch.apikey'),
    customHeaders: headerMap.default({}).describe('Extra request headers, as an object or "k:v,k2:v2". Falcosidekick: elasticsearch.customheaders'),
    createIndexTemplate: z.boolean().default(true).describe('PUT the index template (mappings below) at start, replacing an older one of the same name. false: leave templates to the cluster\'s operator. Falcosidekick: elasticsearch.createindextemplate (default false there)'),
    templateName: z.string().min(1).optional().describe('Name of the index template. Default: the index name.'),
    templatePriority: z.number().int().min(0).default(100).describe('Priority of the index template among the cluster\'s templates matching the same names.'),
    numberOfShards: z.number().int().min(1).optional().describe('index.number_of_shards in the template; unset: the cluster default. Falcosidekick: elasticsearch.numberofshards'),
    numberOfReplicas: z.number().int().min(0).optional().describe('index.number_of_replicas in the template (0 on a one-node cluster); unset: the cluster default. Falcosidekick: elasticsearch.numberofreplicas'),
    maxFields: z.number().int().min(100).default(2000).describe('index.mapping.total_fields.limit in the template: new output_fields past it are refused (dead-lettered with the reason) rather than growing the mapping without end.'),
    compression: z
      .string()
      .transform((v) => v.toLowerCase())
      .pipe(z.enum(['none', 'gzip']))
      .default('none')
      .describe('gzip the _bulk request body (Content-Encoding: gzip). Falcosidekick: elasticsearch.enablecompression'),
    tls: clientTlsSettings,
    timeoutMs,
  })
  .strict()
  .superRefine((s, ctx) => {
    if ((s.username === undefined) !== (s.password === undefined)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['password'], message: 'username and password go together (basic auth needs both)' });
    if (s.apiKey !== undefined && s.username !== undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['apiKey'], message: 'use either apiKey or username/password, not both' });
  });

export type OpenSearchSettings = z.output<typeof openSearchSettingsSchema>;
