/**
 * Falcosidekick's environment variables for the outputs Peregrine shares, so
 * a sidekick deployment switches by changing the image. Each enabled output
 * becomes a destination named after it (`slack`, `pagerduty`, `webhook`,
 * `kafka`, `elasticsearch` of type `opensearch`, `lambda`) unless the config
 * file already has a destination of that name.
 *
 * `*_MINIMUMPRIORITY` follows Falco's names; "" means every priority. Unlike
 * Falcosidekick, `info` means Informational (sidekick treats it as "all").
 * CUSTOMFIELDS, TEMPLATEDFIELDS, CUSTOMTAGS and BRACKETREPLACER become
 * `enrich.customFields`, `enrich.templatedFields`, `enrich.customTags` and
 * `enrich.bracketReplacer`. `TLSSERVER_*` become `tls`, `<OUT>_MAXCONCURRENTREQUESTS`
 * the destination's delivery concurrency. Variables with no equivalent are
 * listed by `unreadSidekickVariables` for a start-up warning.
 */
import type { ConfigIssue } from '../errors.ts';

type RawConfig = Record<string, unknown>;

interface SidekickOutput {
  /** The destination's name (and, unless `type` says otherwise, its sink type). */
  readonly name: string;
  readonly type?: string;
  /** Prefix of the output's variables. @defaultValue name in upper case + "_" */
  readonly prefix?: string;
  /** The env var that enables the output (its "primary key"). */
  readonly enabledBy: string;
  /** sidekick env var → Peregrine setting key (dotted for nested keys), with a conversion when the value is not a plain string. */
  readonly settings: Readonly<Record<string, string | SidekickSetting>>;
  readonly fixed?: Readonly<Record<string, unknown>>;
  /**
   * Falcosidekick's common HTTP-output keys apply: `<OUT>_CHECKCERT`,
   * `<OUT>_MUTUALTLS`, `<OUT>_MAXCONCURRENTREQUESTS` and the global
   * TLSCLIENT_/MUTUALTLS* files. @defaultValue true
   */
  readonly httpCommon?: boolean;
}

interface SidekickSetting {
  readonly key: string;
  /** The setting's value from the variable's text; `undefined` leaves the setting unset. */
  readonly convert: (text: string) => unknown;
}

/** "true"/"false" as Falcosidekick (viper) reads them; anything else is left for the schema to refuse. */
function sidekickBoolean(text: string): unknown {
  const t = text.trim().toLowerCase();
  return t === 'true' ? true : t === 'false' ? false : text;
}

/** A number, or the text for the schema to refuse. */
function sidekickNumber(text: string): unknown {
  const n = Number(text.trim());
  return text.trim() !== '' && Number.isFinite(n) ? n : text;
}

const OUTPUTS: readonly SidekickOutput[] = [
  {
    name: 'slack',
    enabledBy: 'SLACK_WEBHOOKURL',
    settings: {
      SLACK_WEBHOOKURL: 'webhookUrl',
      SLACK_CHANNEL: 'channel',
      SLACK_USERNAME: 'username',
      SLACK_ICON: 'icon',
      SLACK_FOOTER: 'footer',
      SLACK_OUTPUTFORMAT: 'outputFormat',
      // A Go template; the Slack settings schema converts it (see sidekick-template.ts).
      SLACK_MESSAGEFORMAT: 'messageFormat',
    },
  },
  {
    name: 'pagerduty',
    enabledBy: 'PAGERDUTY_ROUTINGKEY',
    settings: { PAGERDUTY_ROUTINGKEY: 'routingKey', PAGERDUTY_REGION: 'region' },
  },
  {
    name: 'webhook',
    enabledBy: 'WEBHOOK_ADDRESS',
    settings: { WEBHOOK_ADDRESS: 'address', WEBHOOK_METHOD: 'method', WEBHOOK_CUSTOMHEADERS: 'customHeaders' },
  },
  {
    name: 'kafka',
    enabledBy: 'KAFKA_HOSTPORT',
    // Falcosidekick's Kafka output has none of the HTTP outputs' TLS files or concurrency keys.
    httpCommon: false,
    settings: {
      KAFKA_HOSTPORT: 'brokers',
      KAFKA_TOPIC: 'topic',
      KAFKA_TOPICCREATION: { key: 'allowAutoTopicCreation', convert: sidekickBoolean },
      KAFKA_SASL: 'sasl.mechanism',
      KAFKA_USERNAME: 'sasl.username',
      KAFKA_PASSWORD: 'sasl.password',
      // true: TLS with the system CAs (all Falcosidekick offers for Kafka).
      KAFKA_TLS: { key: 'tls', convert: (text) => (sidekickBoolean(text) === true ? {} : sidekickBoolean(text) === false ? undefined : text) },
      KAFKA_CLIENTID: 'clientId',
      KAFKA_COMPRESSION: 'compression',
      // Falcosidekick's default is NONE (fire and forget); the hub's point is acknowledged delivery, so NONE becomes all.
      KAFKA_REQUIREDACKS: { key: 'requiredAcks', convert: (text) => ({ ALL: 'all', NONE: 'all', ONE: 'leader' })[text.trim().toUpperCase()] ?? text },
    },
  },
  {
    name: 'elasticsearch',
    // One sink speaks to Elasticsearch and OpenSearch (the same _bulk and _index_template API).
    type: 'opensearch',
    enabledBy: 'ELASTICSEARCH_HOSTPORT',
    settings: {
      ELASTICSEARCH_HOSTPORT: 'url',
      ELASTICSEARCH_INDEX: 'index',
      ELASTICSEARCH_SUFFIX: 'suffix',
      ELASTICSEARCH_PIPELINE: 'pipeline',
      ELASTICSEARCH_APIKEY: 'apiKey',
      ELASTICSEARCH_USERNAME: 'username',
      ELASTICSEARCH_PASSWORD: 'password',
      ELASTICSEARCH_CUSTOMHEADERS: 'customHeaders',
      ELASTICSEARCH_CREATEINDEXTEMPLATE: { key: 'createIndexTemplate', convert: sidekickBoolean },
      ELASTICSEARCH_NUMBEROFSHARDS: { key: 'numberOfShards', convert: sidekickNumber },
      ELASTICSEARCH_NUMBEROFREPLICAS: { key: 'numberOfReplicas', convert: sidekickNumber },
      ELASTICSEARCH_ENABLECOMPRESSION: { key: 'compression', convert: (text) => (sidekickBoolean(text) === true ? 'gzip' : sidekickBoolean(text) === false ? undefined : text) },
      // Output field names are always flattened here (. → _), as FLATTENFIELDS=true does there: read, nothing to set.
      ELASTICSEARCH_FLATTENFIELDS: { key: 'flattenFields', convert: () => undefined },
    },
  },
  {
    name: 'lambda',
    prefix: 'AWS_LAMBDA_',
    enabledBy: 'AWS_LAMBDA_FUNCTIONNAME',
    // Credentials and region come from the AWS SDK's own chain (AWS_REGION, AWS_ACCESS_KEY_ID…), as in Falcosidekick ≥ 2.33.
    httpCommon: false,
    settings: { AWS_LAMBDA_FUNCTIONNAME: 'functionName', AWS_LAMBDA_INVOCATIONTYPE: 'invocationType', AWS_LAMBDA_LOGTYPE: 'logType' },
  },
];

/** Names of the sidekick variables this module reads (for docs and tests). */
export const SIDEKICK_ENV_VARS: readonly string[] = [
  'LISTENADDRESS',
  'LISTENPORT',
  'CUSTOMFIELDS',
  'TEMPLATEDFIELDS',
  'CUSTOMTAGS',
  'BRACKETREPLACER',
  'TLSCLIENT_CACERTFILE',
  'MUTUALTLSFILESPATH',
  'MUTUALTLSCLIENT_CERTFILE',
  'MUTUALTLSCLIENT_KEYFILE',
  'MUTUALTLSCLIENT_CACERTFILE',
  'TLSSERVER_DEPLOY',
  'TLSSERVER_CERTFILE',
  'TLSSERVER_KEYFILE',
  'TLSSERVER_MUTUALTLS',
  'TLSSERVER_CACERTFILE',
  ...OUTPUTS.flatMap((o) => {
    const prefix = prefixOf(o);
    return [...Object.keys(o.settings), `${prefix}MINIMUMPRIORITY`, ...(o.httpCommon === false ? [] : [`${prefix}CHECKCERT`, `${prefix}MUTUALTLS`, `${prefix}MAXCONCURRENTREQUESTS`])];
  }),
];

function prefixOf(output: SidekickOutput): string {
  return output.prefix ?? `${output.name.toUpperCase()}_`;
}

/**
 * Falcosidekick's global variables that have no Peregrine equivalent. Not
 * DEBUG: too many other programs read it (the npm `debug` package among them).
 */
const UNREAD_GLOBALS: readonly string[] = ['OUTPUTFIELDFORMAT', 'PROMETHEUS_EXTRALABELS', 'OTLP_METRICS_EXTRAATTRIBUTES', 'TLSSERVER_NOTLSPORT', 'TLSSERVER_NOTLSPATHS'];

/**
 * Variable prefixes of Falcosidekick's outputs. Generic cloud prefixes are
 * narrowed to the output (AWS_LAMBDA_, not AWS_) so the cloud SDKs' own
 * variables (AWS_REGION, AZURE_CLIENT_ID…) are not taken for sidekick settings;
 * sidekick's Redis output (REDIS_*) is left out for the same reason.
 */
const OUTPUT_PREFIXES: readonly string[] = [
  ...OUTPUTS.map(prefixOf),
  ...['ROCKETCHAT', 'MATTERMOST', 'TEAMS', 'WEBEX', 'DISCORD', 'GOOGLECHAT', 'CLIQ', 'TELEGRAM', 'DATADOG', 'DATADOGLOGS', 'INFLUXDB', 'STATSD', 'DOGSTATSD', 'WAVEFRONT', 'SPYDERBAT', 'TIMESCALEDB', 'DYNATRACE', 'ALERTMANAGER', 'OPSGENIE', 'GRAFANAONCALL', 'ELASTICSEARCH', 'LOKI', 'GRAFANA', 'SYSLOG', 'ZINCSEARCH', 'OPENOBSERVE', 'SUMOLOGIC', 'QUICKWIT', 'LOGSTASH', 'SPLUNK', 'AWS_LAMBDA', 'AWS_SQS', 'AWS_SNS', 'AWS_CLOUDWATCHLOGS', 'AWS_S3', 'AWS_KINESIS', 'AWS_SECURITYLAKE', 'GCP_PUBSUB', 'GCP_STORAGE', 'GCP_CLOUDFUNCTIONS', 'GCP_CLOUDRUN', 'GCP_CHRONICLE', 'YANDEX', 'FISSION', 'CLOUDEVENTS', 'KUBELESS', 'OPENFAAS', 'TEKTON', 'NATS', 'STAN', 'KAFKA', 'KAFKAREST', 'RABBITMQ', 'AZURE_EVENTHUB', 'MQTT', 'GOTIFY', 'SMTP', 'NODERED', 'WEBUI', 'N8N', 'OTLP', 'POLICYREPORT', 'TALON'].map((name) => `${name}_`),
];

/**
 * Falcosidekick variables that are set (non-empty) but not read here: global
 * settings without an equivalent and outputs Peregrine has no sink for. The hub
 * names them at start-up, so a sidekick user who switched images sees what did
 * not carry over instead of losing it silently.
 */
export function unreadSidekickVariables(env: NodeJS.ProcessEnv): string[] {
  const read = new Set(SIDEKICK_ENV_VARS);
  return Object.keys(env)
    .filter((name) => nonEmpty(env[name]) && !read.has(name) && (UNREAD_GLOBALS.includes(name) || OUTPUT_PREFIXES.some((prefix) => name.startsWith(prefix))))
    .sort();
}

/**
 * Adds the sidekick outputs to the raw config. `origins` receives, for each
 * config key path set from a variable, the variable's name (for error messages);
 * `issues` receives values that cannot be read at all (a malformed pair list).
 */
export function applySidekickEnv(
  raw: RawConfig,
  env: NodeJS.ProcessEnv,
  origins: Map<string, string> = new Map(),
  issues: ConfigIssue[] = [],
): RawConfig {
  const out: RawConfig = { ...raw };
  const listen = { ...(asRecord(raw.listen) ?? {}) };
  if (nonEmpty(env.LISTENADDRESS) && listen.host === undefined) {
    listen.host = env.LISTENADDRESS;
    origins.set('listen.host', 'LISTENADDRESS');
  }
  if (nonEmpty(env.LISTENPORT) && listen.port === undefined) {
    listen.port = Number(env.LISTENPORT);
    origins.set('listen.port', 'LISTENPORT');
  }
  if (Object.keys(listen).length > 0) out.listen = listen;
  // A tls section in the file wins (and its errors are not blamed on a variable).
  const serverTls = raw.tls === undefined ? serverTlsFromEnv(env, origins) : undefined;
  if (serverTls !== undefined) out.tls = serverTls;

  const enrich = { ...(asRecord(raw.enrich) ?? {}) };
  const custom = envPairs(env, 'CUSTOMFIELDS', 'enrich.customFields', asRecord(enrich.customFields), origins, issues, true, enrich.customFields !== undefined);
  if (custom !== undefined) enrich.customFields = custom;
  const templated = envPairs(env, 'TEMPLATEDFIELDS', 'enrich.templatedFields', asRecord(enrich.templatedFields), origins, issues, false, enrich.templatedFields !== undefined);
  if (templated !== undefined) enrich.templatedFields = templated;
  if (nonEmpty(env.CUSTOMTAGS) && enrich.customTags === undefined) {
    enrich.customTags = env.CUSTOMTAGS.split(',').map((t) => t.trim()).filter((t) => t !== '');
    origins.set('enrich.customTags', 'CUSTOMTAGS');
  }
  if (nonEmpty(env.BRACKETREPLACER) && enrich.bracketReplacer === undefined) {
    enrich.bracketReplacer = env.BRACKETREPLACER;
    origins.set('enrich.bracketReplacer', 'BRACKETREPLACER');
  }
  if (Object.keys(enrich).length > 0) out.enrich = enrich;

  const destinations = { ...(asRecord(raw.destinations) ?? {}) };
  for (const output of OUTPUTS) {
    if (!nonEmpty(env[output.enabledBy]) || destinations[output.name] !== undefined) continue;
    const settings: Record<string, unknown> = { ...output.fixed };
    const prefix = prefixOf(output);
    for (const [variable, setting] of Object.entries(output.settings)) {
      const text = env[variable];
      if (!nonEmpty(text)) continue;
      const key = typeof setting === 'string' ? setting : setting.key;
      const value = typeof setting === 'string' ? text : setting.convert(text);
      if (value === undefined) continue;
      setNested(settings, key, value);
      origins.set(`destinations.${output.name}.settings.${key}`, variable);
    }
    if (output.httpCommon !== false) {
      const tls = clientTls(env, prefix.slice(0, -1), `destinations.${output.name}.settings.tls`, origins);
      if (tls !== undefined) settings.tls = tls;
    }
    const match: Record<string, unknown> = {};
    const minimumVariable = `${prefix}MINIMUMPRIORITY`;
    const minimum = env[minimumVariable];
    if (nonEmpty(minimum)) {
      match.minimumPriority = minimum;
      origins.set(`destinations.${output.name}.match.minimumPriority`, minimumVariable);
    }
    const destination: Record<string, unknown> = { type: output.type ?? output.name, settings, match };
    const concurrencyVariable = `${prefix}MAXCONCURRENTREQUESTS`;
    const concurrency = env[concurrencyVariable];
    if (output.httpCommon !== false && nonEmpty(concurrency)) {
      // Falcosidekick: requests in flight to the output, 0 = unlimited. Here a
      // destination's deliveries in flight per hub process; "unlimited" becomes
      // UNLIMITED_CONCURRENCY. A value that is not a number is left for the schema to refuse.
      const n = Number(concurrency);
      destination.delivery = { concurrency: n === 0 ? UNLIMITED_CONCURRENCY : Number.isFinite(n) ? n : concurrency };
      origins.set(`destinations.${output.name}.delivery.concurrency`, concurrencyVariable);
    }
    destinations[output.name] = destination;
  }
  if (Object.keys(destinations).length > 0) out.destinations = destinations;
  return out;
}

/** What `<OUT>_MAXCONCURRENTREQUESTS=0` (unlimited in Falcosidekick) becomes. */
const UNLIMITED_CONCURRENCY = 64;

/**
 * Falcosidekick's HTTPS server: `TLSSERVER_DEPLOY=true` serves TLS with
 * `TLSSERVER_CERTFILE`/`TLSSERVER_KEYFILE` (default /etc/certs/server/server.crt
 * and .key); `TLSSERVER_MUTUALTLS=true` also requires client certificates
 * signed by `TLSSERVER_CACERTFILE` (default /etc/certs/server/ca.crt). A `tls`
 * section in the file wins. The schema and start-up check the files.
 */
function serverTlsFromEnv(env: NodeJS.ProcessEnv, origins: Map<string, string>): Record<string, unknown> | undefined {
  if (env.TLSSERVER_DEPLOY?.trim().toLowerCase() !== 'true') return undefined;
  const tls: Record<string, unknown> = {};
  const set = (key: string, variable: string, fallback: string) => {
    tls[key] = nonEmpty(env[variable]) ? env[variable] : fallback;
    origins.set(`tls.${key}`, nonEmpty(env[variable]) ? variable : 'TLSSERVER_DEPLOY');
  };
  set('certFile', 'TLSSERVER_CERTFILE', '/etc/certs/server/server.crt');
  set('keyFile', 'TLSSERVER_KEYFILE', '/etc/certs/server/server.key');
  if (env.TLSSERVER_MUTUALTLS?.trim().toLowerCase() === 'true') {
    set('caFile', 'TLSSERVER_CACERTFILE', '/etc/certs/server/ca.crt');
    tls.requireClientCert = true;
    origins.set('tls.requireClientCert', 'TLSSERVER_MUTUALTLS');
  }
  return tls;
}

/**
 * Falcosidekick's outbound TLS for one output: `TLSCLIENT_CACERTFILE` adds a
 * CA for every output; `<OUT>_MUTUALTLS=true` presents a client certificate
 * from `MUTUALTLSCLIENT_{CERTFILE,KEYFILE,CACERTFILE}`, else from
 * `MUTUALTLSFILESPATH` (default /etc/certs) + /client.crt, /client.key,
 * /ca.crt; `<OUT>_CHECKCERT=false` skips verification (ignored with mutual
 * TLS, as in Falcosidekick). The sink's schema checks the files at start-up.
 */
function clientTls(env: NodeJS.ProcessEnv, prefix: string, at: string, origins: Map<string, string>): Record<string, unknown> | undefined {
  const tls: Record<string, unknown> = {};
  const set = (key: string, value: unknown, variable: string) => {
    tls[key] = value;
    origins.set(`${at}.${key}`, variable);
  };
  if (nonEmpty(env.TLSCLIENT_CACERTFILE)) set('caFile', env.TLSCLIENT_CACERTFILE, 'TLSCLIENT_CACERTFILE');
  const mutual = env[`${prefix}_MUTUALTLS`]?.trim().toLowerCase() === 'true';
  if (mutual) {
    const folder = nonEmpty(env.MUTUALTLSFILESPATH) ? env.MUTUALTLSFILESPATH.replace(/\/+$/, '') : '/etc/certs';
    const from = (variable: string, file: string) => (nonEmpty(env[variable]) ? (env[variable] as string) : `${folder}/${file}`);
    set('certFile', from('MUTUALTLSCLIENT_CERTFILE', 'client.crt'), `${prefix}_MUTUALTLS`);
    set('keyFile', from('MUTUALTLSCLIENT_KEYFILE', 'client.key'), `${prefix}_MUTUALTLS`);
    set('caFile', from('MUTUALTLSCLIENT_CACERTFILE', 'ca.crt'), `${prefix}_MUTUALTLS`);
  } else if (env[`${prefix}_CHECKCERT`]?.trim().toLowerCase() === 'false') {
    set('checkCert', false, `${prefix}_CHECKCERT`);
  }
  return Object.keys(tls).length > 0 ? tls : undefined;
}

/**
 * Reads Falcosidekick's `k:v,k2:v2` map variables. Each pair is split on its
 * FIRST colon, so values may contain `:` (Falcosidekick drops such pairs
 * silently). Keys the file already sets win, as everywhere else here. With
 * `percentIsEnv` (CUSTOMFIELDS only, as in Falcosidekick) a value `%NAME` is
 * read from variable NAME; an unset NAME is an error rather than an empty field.
 */
function envPairs(
  env: NodeJS.ProcessEnv,
  variable: string,
  at: string,
  fromFile: Record<string, unknown> | undefined,
  origins: Map<string, string>,
  issues: ConfigIssue[],
  percentIsEnv: boolean,
  currentIsSet: boolean,
): Record<string, unknown> | undefined {
  const text = env[variable];
  // A file value that is not a mapping is left alone for the schema to report.
  if (!nonEmpty(text) || (fromFile === undefined && currentIsSet)) return undefined;
  const out: Record<string, unknown> = {};
  for (const pair of text.split(',')) {
    if (pair.trim() === '') continue;
    const colon = pair.indexOf(':');
    if (colon <= 0) {
      issues.push({ path: at, message: `"${pair.trim()}" is not a key:value pair (from ${variable}, which takes "key:value,key2:value2")` });
      continue;
    }
    const key = pair.slice(0, colon).trim();
    let value = pair.slice(colon + 1).trim();
    if (percentIsEnv && value.startsWith('%') && value.length > 1) {
      const name = value.slice(1);
      const resolved = env[name];
      if (resolved === undefined) {
        issues.push({ path: `${at}.${key}`, message: `environment variable ${name} is not set (referenced as "${value}" in ${variable})` });
        continue;
      }
      value = resolved;
    }
    out[key] = value;
    if (fromFile?.[key] === undefined) origins.set(`${at}.${key}`, variable);
  }
  // The file's own keys are applied last so they win.
  return { ...out, ...fromFile };
}

/** Sets `a.b.c` in `target`, creating the objects on the way. */
function setNested(target: Record<string, unknown>, dotted: string, value: unknown): void {
  const path = dotted.split('.');
  let at = target;
  for (const part of path.slice(0, -1)) {
    const next = asRecord(at[part]) ?? {};
    at[part] = next;
    at = next;
  }
  at[path[path.length - 1]] = value;
}

function nonEmpty(v: string | undefined): v is string {
  return v !== undefined && v.trim() !== '';
}

function asRecord(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}
