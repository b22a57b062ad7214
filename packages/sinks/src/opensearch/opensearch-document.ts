import { fieldsHoldBigInt, rfc3339ToNanos, stringifyJsonExact } from '@peregrine/alert';
import type { Alert, OutputFieldValue } from '@peregrine/alert';
import type { OpenSearchSettings } from './opensearch-settings.ts';

/**
 * Output field names with `.` replaced by `_` (as Falcosidekick's
 * `flattenfields`, forced on with its index template): Elasticsearch and
 * OpenSearch read a dotted name as a path of objects, so Falco's `evt.time`
 * (a number) and `evt.time.s` (a string) could not both be mapped.
 * Documents therefore match Falcosidekick's, and dashboards built on
 * `output_fields.proc_cmdline` keep working.
 */
export function flattenFieldName(name: string): string {
  return name.replace(/\./g, '_');
}

/**
 * The document for one alert: Falcosidekick's fields plus `@timestamp` (the
 * alert's time), output fields flattened. JSON text with every integer exact
 * (bigint fields, and an `evt.time` rounded to a double repaired from `time`).
 */
export function alertDocument(alert: Alert): string {
  const fields: Record<string, OutputFieldValue> = {};
  let holdsBigInt = fieldsHoldBigInt(alert.output_fields);
  for (const [name, value] of Object.entries(alert.output_fields)) {
    let exact = value;
    if (name === 'evt.time' && typeof value === 'number' && !Number.isSafeInteger(value)) {
      // Falco prints evt.time as an exact int64; a number parsed from it lost digits, `time` has them all.
      const nanos = rfc3339ToNanos(alert.time);
      if (nanos !== undefined && Number(nanos) === value) {
        exact = nanos;
        holdsBigInt = true;
      }
    }
    Object.defineProperty(fields, flattenFieldName(name), { value: exact, enumerable: true, writable: true, configurable: true });
  }
  const document = {
    '@timestamp': alert.time,
    uuid: alert.uuid,
    output: alert.output,
    priority: alert.priority,
    rule: alert.rule,
    time: alert.time,
    output_fields: fields,
    source: alert.source,
    tags: alert.tags,
    hostname: alert.hostname,
  };
  return stringifyJsonExact(document, holdsBigInt);
}

/** `<index>-<suffix>` from the alert's time (UTC), as Falcosidekick names indices (it uses the ingest time). */
export function indexFor(alert: Alert, settings: Pick<OpenSearchSettings, 'index' | 'suffix'>): string {
  if (settings.suffix === 'none') return settings.index;
  const m = /^(\d{4})-(\d{2})-(\d{2})T/.exec(alert.time);
  let year: string;
  let month: string;
  let day: string;
  if (m !== null && /(?:Z|z|[+-]00:00)$/.test(alert.time)) [, year, month, day] = m;
  else {
    const at = new Date(alert.time);
    if (Number.isNaN(at.getTime())) throw new Error(`alert ${alert.uuid} has no readable time (${JSON.stringify(alert.time)}) for the index date`);
    year = String(at.getUTCFullYear()).padStart(4, '0');
    month = String(at.getUTCMonth() + 1).padStart(2, '0');
    day = String(at.getUTCDate()).padStart(2, '0');
  }
  if (settings.suffix === 'yearly') return `${settings.index}-${year}`;
  if (settings.suffix === 'monthly') return `${settings.index}-${year}.${month}`;
  return `${settings.index}-${year}.${month}.${day}`;
}

/** Output fields most rules print, mapped up front (flattened names): keyword, or long for the numbers. */
const KEYWORD_FIELDS = [
  'container_id', 'container_name', 'container_image', 'container_image_repository', 'container_image_tag', 'container_image_digest',
  'k8s_ns_name', 'k8s_pod_name', 'k8s_pod_uid', 'k8s_deployment_name',
  'proc_name', 'proc_exe', 'proc_exepath', 'proc_cmdline', 'proc_pname', 'proc_pcmdline', 'proc_pexepath', 'proc_cwd', 'proc_sname',
  'user_name', 'group_name', 'fd_name', 'fd_directory', 'fd_filename', 'fd_type', 'fd_sip', 'fd_cip', 'fd_rip', 'fd_lip', 'fd_l4proto',
  'evt_type', 'evt_dir', 'evt_arg_flags', 'evt_res',
  'ka_user_name', 'ka_verb', 'ka_uri', 'ka_target_resource', 'ka_target_namespace', 'ka_target_name',
];
const LONG_FIELDS = ['evt_time', 'proc_pid', 'proc_ppid', 'proc_vpid', 'proc_tty', 'user_uid', 'user_loginuid', 'group_gid', 'fd_num', 'fd_sport', 'fd_cport', 'fd_rport', 'fd_lport'];

/** The longest keyword indexed (longer values are kept in _source, not indexed). */
const KEYWORD_IGNORE_ABOVE = 2048;

/**
 * The composable index template (`PUT _index_template/<name>`, the same API
 * in Elasticsearch ≥ 7.8 and OpenSearch): keyword for rule, priority,
 * hostname, source, tags, uuid and the common output fields, date_nanos for
 * the times, and every other output field mapped by dynamic templates —
 * strings as keyword (no text + keyword doubling), numbers as long/float —
 * with date detection off (a string that looks like a date once must not
 * turn a field into a date) and a bound on the number of fields.
 */
export function indexTemplate(settings: OpenSearchSettings): Record<string, unknown> {
  const keyword = { type: 'keyword', ignore_above: KEYWORD_IGNORE_ABOVE };
  const outputFields: Record<string, unknown> = {};
  for (const f of KEYWORD_FIELDS) outputFields[f] = keyword;
  for (const f of LONG_FIELDS) outputFields[f] = { type: 'long' };
  const indexSettings: Record<string, unknown> = { 'index.mapping.total_fields.limit': settings.maxFields };
  if (settings.numberOfShards !== undefined) indexSettings['index.number_of_shards'] = settings.numberOfShards;
  if (settings.numberOfReplicas !== undefined) indexSettings['index.number_of_replicas'] = settings.numberOfReplicas;
  return {
    index_patterns: [settings.suffix === 'none' ? settings.index : `${settings.index}-*`],
    priority: settings.templatePriority,
    template: {
      settings: indexSettings,
      mappings: {
        date_detection: false,
        dynamic_templates: [
          { output_fields_strings: { path_match: 'output_fields.*', match_mapping_type: 'string', mapping: keyword } },
          { other_strings: { match_mapping_type: 'string', mapping: keyword } },
        ],
        properties: {
          '@timestamp': { type: 'date_nanos' },
          time: { type: 'date_nanos' },
          uuid: { type: 'keyword' },
          rule: { type: 'keyword' },
          priority: { type: 'keyword' },
          source: { type: 'keyword' },
          hostname: { type: 'keyword' },
          tags: { type: 'keyword' },
          output: { type: 'text', fields: { keyword } },
          output_fields: { type: 'object', properties: outputFields },
        },
      },
    },
    _meta: { managed_by: 'peregrine' },
  };
}
