import type { Priority } from './priority.ts';

/**
 * A value in `output_fields`: typed like Falco's `rawval_to_json`, `null` when
 * missing. Integers beyond ±(2^53 − 1) (nanosecond times, inodes, capability
 * masks) are `bigint`, so they keep every digit (see exact-json.ts); safe
 * integers and floats are numbers.
 */
export type OutputFieldValue = string | number | bigint | boolean | null | Array<string | number | bigint>;

/**
 * One alert in Falco's JSON output shape (`json_output: true`), as Falco's
 * `http_output` and Falcosidekick send it, plus a `uuid` that Peregrine uses
 * as the idempotency key end to end.
 */
export interface Alert {
  uuid: string;
  hostname: string;
  output: string;
  output_fields: Record<string, OutputFieldValue>;
  priority: Priority;
  rule: string;
  source: string;
  tags: string[];
  /** RFC 3339 UTC with nanoseconds, e.g. 2024-06-10T06:13:20.123456789Z */
  time: string;
}
