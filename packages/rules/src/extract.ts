/**
 * The field-extraction seam between the rules engine and whatever produces
 * events (the sensor's live state, replay, the field-map events used in tests).
 *
 * The engine never reads an event itself. At compile time it asks the
 * extractor for one accessor per distinct field reference in the ruleset; at
 * run time each compiled check calls its accessor with the event. So the
 * per-event cost is one closure call per field, and the extractor can resolve
 * names, arguments and tables once.
 */

/** A single field value. Numbers for numeric fields, strings for text, booleans for BOOL. */
export type ScalarFieldValue = string | number | bigint | boolean;

/**
 * What an accessor returns: a scalar, an array for list-valued fields
 * (e.g. `proc.aname` without index = the ancestors' names, parent first), or
 * `undefined` when the field cannot be extracted for this event (Falco's
 * "missing": every comparison on it is false, `exists` is false).
 */
export type FieldValue = ScalarFieldValue | readonly ScalarFieldValue[] | undefined;

/** Field types as in libsinsp's field tables (`fields_libsinsp.json`). */
export type FieldType =
  | 'CHARBUF'
  | 'BYTEBUF'
  | 'FSPATH'
  | 'FSRELPATH'
  | 'UINT8'
  | 'UINT16'
  | 'UINT32'
  | 'UINT64'
  | 'INT8'
  | 'INT16'
  | 'INT32'
  | 'INT64'
  | 'BOOL'
  | 'IPV4ADDR'
  | 'IPV6ADDR'
  | 'IPADDR'
  | 'IPNET'
  | 'PORT'
  | 'L4PROTO'
  | 'SOCKFAMILY'
  | 'ABSTIME'
  | 'RELTIME'
  | 'DOUBLE'
  | 'ERRNO'
  | 'FD'
  | 'PID'
  | 'SIGTYPE'
  | 'MODE'
  | 'SYSCALLID'
  | 'FLAGS8'
  | 'FLAGS16'
  | 'FLAGS32'
  | 'UID'
  | 'GID';

/** A field reference after resolution against the registry. */
export interface FieldRef {
  /** The registry name, e.g. `proc.aname`, `evt.arg`, `k8s.pod.label`. */
  readonly name: string;
  /** The argument, if any: `2` for `proc.aname[2]`, `flags` for `evt.arg.flags` / `evt.arg[flags]`. */
  readonly arg?: string;
  /** Canonical text as Falco prints it in `output_fields` keys, e.g. `proc.aname[2]`, `evt.arg.flags`. */
  readonly text: string;
  readonly type: FieldType;
  /** True when the value is a list (e.g. `proc.aname` without index, `container.mounts`). */
  readonly isList: boolean;
}

/** Reads one field from one event. */
export type FieldAccessor<E> = (event: E) => FieldValue;

export interface FieldExtractor<E> {
  /** Called once per distinct field reference when a ruleset or output format is compiled. */
  accessor(field: FieldRef): FieldAccessor<E>;
}
