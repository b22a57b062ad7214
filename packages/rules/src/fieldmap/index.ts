/**
 * Field-map events: an event given directly as its field values, for tests,
 * `peregrine rules test`, benchmarks and users trying rules without a sensor.
 * JSONL, one event a line: `{"fields": {"evt.type": "openat", "proc.name":
 * "cat", "proc.aname": ["bash", "sshd"]}}`. An absent (or null) field is
 * missing, exactly like a field libs cannot extract. See
 * docs/field-map-events.md for the format and the derivations below.
 */
import { readFileSync } from 'node:fs';
import { parseRfc3339 } from '@peregrine/alert';
import type { FieldAccessor, FieldExtractor, FieldRef, FieldType, FieldValue, ScalarFieldValue } from '../extract.ts';
import { resolveField, type ResolvedField } from '../fields/index.ts';
import { formatEventTime, toEpochNanos } from '../output/alert.ts';

/** A value in a field map after parsing: typed by the field (bigint for 64-bit values beyond 2^53). */
export type FieldMapValue = ScalarFieldValue | readonly ScalarFieldValue[];

export interface FieldMapEvent {
  /** Field values by field text as Falco prints it (`proc.aname[2]`, `evt.arg.flags`). */
  readonly fields: Readonly<Record<string, FieldMapValue>>;
  /**
   * The same values by slot number (see `fieldMapEvent`): reading an array
   * element is several times cheaper than a keyed property lookup on objects
   * of many shapes, and this is the rules engine's hot path.
   */
  readonly slots?: ReadonlyArray<FieldMapValue | undefined>;
}

/** One slot number per distinct field text, shared by every event and accessor of the process. */
const SLOT_OF = new Map<string, number>();
function slotOf(key: string): number {
  let slot = SLOT_OF.get(key);
  if (slot === undefined) SLOT_OF.set(key, (slot = SLOT_OF.size));
  return slot;
}

/** Builds an event with its slot array from already-typed values (what parseFieldMapEvents produces). */
export function fieldMapEvent(fields: Readonly<Record<string, FieldMapValue>>): FieldMapEvent {
  let size = SLOT_OF.size;
  for (const key in fields) size = Math.max(size, slotOf(key) + 1);
  // A packed array of the full size: filling a sparse one out of order would
  // give it dictionary elements, which are as slow as the object lookup.
  const slots = new Array<FieldMapValue | undefined>(size).fill(undefined);
  for (const key in fields) slots[slotOf(key)] = fields[key];
  return { fields, slots };
}

/** One problem in a field-map file. */
export interface FieldMapProblem {
  readonly line: number;
  readonly message: string;
}

/** A field-map file with errors; the message lists them as `file:line: what`. */
export class FieldMapParseError extends Error {
  constructor(
    readonly source: string,
    readonly problems: readonly FieldMapProblem[],
  ) {
    super(problems.map((p) => `${source}:${p.line}: ${p.message}`).join('\n'));
    this.name = 'FieldMapParseError';
  }
}

const NUMERIC: ReadonlySet<FieldType> = new Set([
  'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'PORT', 'L4PROTO', 'SOCKFAMILY',
  'ABSTIME', 'RELTIME', 'DOUBLE', 'ERRNO', 'FD', 'PID', 'SIGTYPE', 'MODE', 'SYSCALLID', 'FLAGS8', 'FLAGS16',
  'FLAGS32', 'UID', 'GID',
]);

const INTEGER = /^-?\d+$/;
const FLOAT = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

function integer(text: string): number | bigint {
  const n = BigInt(text);
  return n >= -9007199254740991n && n <= 9007199254740991n ? Number(n) : n;
}

/**
 * Converts one raw value to the field's type, or returns an error message.
 * Numbers: JSON numbers or numeric strings (big 64-bit values as strings →
 * bigint); ABSTIME also RFC 3339 text; BOOL: true/false (or "true"/"false");
 * text fields: strings (numbers are turned into their decimal text).
 */
function convert(raw: unknown, type: FieldType): ScalarFieldValue | string[] | { error: string } {
  if (NUMERIC.has(type)) {
    if (typeof raw === 'number') return Number.isFinite(raw) ? raw : { error: `expected a number, got ${String(raw)}` };
    if (typeof raw === 'bigint') return raw;
    if (typeof raw === 'string') {
      const t = raw.trim();
      if (INTEGER.test(t)) return integer(t);
      if (type === 'DOUBLE' && FLOAT.test(t)) return Number(t);
      if (type === 'ABSTIME') {
        const time = parseRfc3339(t);
        if (time) return BigInt(Math.floor(time.epochMs / 1000)) * 1_000_000_000n + BigInt(time.nanos);
        return { error: `expected nanoseconds since the epoch or an RFC 3339 time, got ${JSON.stringify(raw)}` };
      }
      return { error: `expected a number (${type}), got ${JSON.stringify(raw)}` };
    }
    return { error: `expected a number (${type}), got ${describe(raw)}` };
  }
  if (type === 'BOOL') {
    if (typeof raw === 'boolean') return raw;
    if (raw === 'true' || raw === 'false') return raw === 'true';
    return { error: `expected true or false, got ${describe(raw)}` };
  }
  if (typeof raw === 'string') return raw;
  if (typeof raw === 'number' || typeof raw === 'bigint') return String(raw);
  if (typeof raw === 'boolean') return String(raw);
  return { error: `expected a string, got ${describe(raw)}` };
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** Fields whose value may be an array: list fields, ancestor fields without index, and the derivation sources. */
function takesArray(field: ResolvedField): boolean {
  return field.isList || field.anyAncestor === true || (field.name === 'proc.args' && field.arg === undefined) || (field.name === 'proc.env' && field.arg === undefined);
}

/** Splits a key such as `proc.aname[2]` into the AST's `{field, arg}` form. */
function splitKey(key: string): { name: string; arg?: string } {
  const open = key.indexOf('[');
  if (open > 0 && key.endsWith(']')) return { name: key.slice(0, open), arg: key.slice(open + 1, -1) };
  return { name: key };
}

/** Resolves and type-checks one field of one event; returns the converted value or an error message. */
function parseField(key: string, raw: unknown): { value?: FieldMapValue; error?: string } {
  const { name, arg } = splitKey(key);
  let field: ResolvedField;
  try {
    field = resolveField(name, arg);
  } catch (e) {
    return { error: `field "${key}": ${(e as Error).message}` };
  }
  if (raw === null) return {};
  // The `evt.time` key holds the event timestamp (ns or RFC 3339); libs' evt.time field is its clock text.
  const type: FieldType = key === 'evt.time' ? 'ABSTIME' : field.type;
  if (Array.isArray(raw)) {
    if (!takesArray(field)) return { error: `field "${key}": expected a single value, got an array (only list and ancestor fields take arrays)` };
    const out: ScalarFieldValue[] = [];
    for (let i = 0; i < raw.length; i++) {
      const v = convert(raw[i], type);
      if (typeof v === 'object' && !Array.isArray(v)) return { error: `field "${key}"[${i}]: ${v.error}` };
      out.push(v as ScalarFieldValue);
    }
    return { value: out };
  }
  const v = convert(raw, type);
  if (typeof v === 'object' && !Array.isArray(v)) return { error: `field "${key}": ${v.error}` };
  return { value: v as ScalarFieldValue };
}

/**
 * Parses JSONL field-map events. Blank lines and lines starting with `#` or
 * `//` are skipped. Every field name is checked against the registry and
 * every value against its field's type; all problems are reported together
 * as `source:line: what` in one FieldMapParseError.
 */
export function parseFieldMapEvents(text: string, source: string): FieldMapEvent[] {
  const events: FieldMapEvent[] = [];
  const problems: FieldMapProblem[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('//')) continue;
    const n = i + 1;
    let doc: unknown;
    try {
      doc = JSON.parse(line);
    } catch (e) {
      problems.push({ line: n, message: `not valid JSON (${(e as Error).message}); each line must be one {"fields": {...}} object` });
      continue;
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
      problems.push({ line: n, message: `expected an object {"fields": {...}}, got ${describe(doc)}` });
      continue;
    }
    const fieldsRaw = (doc as Record<string, unknown>).fields;
    if (typeof fieldsRaw !== 'object' || fieldsRaw === null || Array.isArray(fieldsRaw)) {
      problems.push({
        line: n,
        message: fieldsRaw === undefined ? 'missing "fields": expected {"fields": {"evt.type": "openat", ...}}' : `"fields" must be an object, got ${describe(fieldsRaw)}`,
      });
      continue;
    }
    const fields: Record<string, FieldMapValue> = {};
    let ok = true;
    for (const [key, raw] of Object.entries(fieldsRaw as Record<string, unknown>)) {
      const r = parseField(key, raw);
      if (r.error !== undefined) {
        problems.push({ line: n, message: r.error });
        ok = false;
      } else if (r.value !== undefined) {
        fields[key] = r.value;
      }
    }
    if (ok) events.push(fieldMapEvent(fields));
  }
  if (problems.length > 0) throw new FieldMapParseError(source, problems);
  return events;
}

/** Reads a JSONL field-map file (see parseFieldMapEvents). */
export function readFieldMapEvents(path: string): FieldMapEvent[] {
  return parseFieldMapEvents(readFileSync(path, 'utf8'), path);
}

// ---- extraction -----------------------------------------------------------------

type Lookup = (fields: Readonly<Record<string, FieldMapValue>>) => FieldMapValue | undefined;

const direct =
  (key: string): Lookup =>
  (f) =>
    f[key];

/** The N-th element (0-based) of an array-valued key. */
const element =
  (key: string, index: number): Lookup =>
  (f) => {
    const v = f[key];
    return Array.isArray(v) ? (v as readonly ScalarFieldValue[])[index] : undefined;
  };

function firstOf(lookups: readonly Lookup[]): Lookup {
  if (lookups.length === 1) return lookups[0]!;
  return (f) => {
    for (const l of lookups) {
      const v = l(f);
      if (v !== undefined) return v;
    }
    return undefined;
  };
}

/** Ancestor families: [array field, self field, parent field]. */
const ANCESTORS: Readonly<Record<string, readonly [string, string, string | undefined]>> = {
  'proc.aname': ['proc.aname', 'proc.name', 'proc.pname'],
  'proc.aexe': ['proc.aexe', 'proc.exe', 'proc.pexe'],
  'proc.aexepath': ['proc.aexepath', 'proc.exepath', 'proc.pexepath'],
  'proc.apid': ['proc.apid', 'proc.pid', 'proc.ppid'],
  'proc.acmdline': ['proc.acmdline', 'proc.cmdline', 'proc.pcmdline'],
  'proc.aargs': ['proc.aargs', 'proc.args', undefined],
  'proc.aenv': ['proc.aenv', 'proc.env', undefined],
};
/**
 * Filter-only socket fields libs computes from both ends ("client or
 * server"): read from the given end fields, server side first.
 */
const SOCKET_ALIASES: Readonly<Record<string, readonly string[]>> = {
  'fd.ip': ['fd.sip', 'fd.cip'],
  'fd.net': ['fd.sip', 'fd.cip'],
  'fd.snet': ['fd.sip'],
  'fd.cnet': ['fd.cip'],
  'fd.lnet': ['fd.lip'],
  'fd.rnet': ['fd.rip'],
  'fd.port': ['fd.sport', 'fd.cport'],
  'fd.proto': ['fd.sproto', 'fd.cproto'],
};

const PARENT_OF: Readonly<Record<string, string>> = {
  'proc.pname': 'proc.aname',
  'proc.pexe': 'proc.aexe',
  'proc.pexepath': 'proc.aexepath',
  'proc.ppid': 'proc.apid',
  'proc.pcmdline': 'proc.acmdline',
};

function argsList(v: FieldMapValue | undefined): readonly ScalarFieldValue[] | undefined {
  if (v === undefined) return undefined;
  if (Array.isArray(v)) return v as readonly ScalarFieldValue[];
  return String(v).split(/\s+/).filter(Boolean);
}

/** The event timestamp in ns from the `evt.rawtime` or `evt.time` key. */
function timestamp(f: Readonly<Record<string, FieldMapValue>>): bigint | undefined {
  const raw = f['evt.rawtime'] ?? f['evt.time'];
  if (raw === undefined || Array.isArray(raw)) return undefined;
  const c = convert(raw, 'ABSTIME');
  return typeof c === 'object' ? undefined : toEpochNanos(c as ScalarFieldValue);
}

/** Time fields derived from the timestamp: libs prints evt.time as HH:MM:SS.nnnnnnnnn. */
const TIME_FIELDS: Readonly<Record<string, (ns: bigint) => ScalarFieldValue>> = {
  'evt.time': (ns) => formatEventTime(ns).clock,
  'evt.time.s': (ns) => formatEventTime(ns).clock.slice(0, 8),
  'evt.time.iso8601': (ns) => formatEventTime(ns).rfc3339,
  'evt.rawtime': (ns) => ns,
  'evt.rawtime.s': (ns) => ns / 1_000_000_000n,
  'evt.rawtime.ns': (ns) => ns % 1_000_000_000n,
};

/** The lookups for a field: its own key (both argument spellings), then documented derivations. */
function lookupsFor(ref: FieldRef): Lookup[] {
  const timeField = TIME_FIELDS[ref.text];
  if (timeField) {
    return [
      (f) => {
        const ns = timestamp(f);
        return ns === undefined ? undefined : timeField(ns);
      },
    ];
  }
  const lookups: Lookup[] = [direct(ref.text)];
  const { name, arg } = ref;
  // Only exit events exist since libs dropped enter events; Falco treats evt.dir as '<'.
  if (name === 'evt.dir') return [...lookups, () => '<'];
  if (arg !== undefined) {
    for (const alt of [`${name}.${arg}`, `${name}[${arg}]`]) if (alt !== ref.text) lookups.push(direct(alt));
  }
  const family = ANCESTORS[name];
  if (family) {
    const [arrayKey, selfKey, parentKey] = family;
    if (arg === undefined) {
      // Every ancestor, parent first: without the array, the chain of explicit keys
      // (proc.pname or proc.aname[1], then proc.aname[2], …) up to the first gap.
      const indexed = Array.from({ length: 32 }, (_, i) => `${arrayKey}[${i + 1}]`);
      lookups.push((f) => {
        const chain: ScalarFieldValue[] = [];
        for (let i = 0; i < indexed.length; i++) {
          const v = f[indexed[i]!] ?? (i === 0 && parentKey ? f[parentKey] : undefined);
          if (v === undefined || Array.isArray(v)) break;
          chain.push(v as ScalarFieldValue);
        }
        return chain.length > 0 ? chain : undefined;
      });
    } else if (/^\d+$/.test(arg)) {
      const n = Number(arg);
      if (n === 0) lookups.push(direct(selfKey));
      else {
        if (n === 1 && parentKey) lookups.push(direct(parentKey));
        lookups.push(element(arrayKey, n - 1));
      }
    }
    return lookups;
  }
  const aliases = SOCKET_ALIASES[name];
  if (aliases && arg === undefined) {
    for (const a of aliases) lookups.push(direct(a));
    return lookups;
  }
  const ancestorArray = PARENT_OF[name];
  if (ancestorArray && arg === undefined) {
    lookups.push(direct(`${ancestorArray}[1]`), element(ancestorArray, 0));
    return lookups;
  }
  if (name === 'proc.args' && arg !== undefined && /^\d+$/.test(arg)) {
    const n = Number(arg);
    lookups.push((f) => argsList(f['proc.args'])?.[n]);
  } else if (name === 'proc.env' && arg !== undefined) {
    const prefix = `${arg}=`;
    lookups.push((f) => {
      const entry = argsList(f['proc.env'])?.find((e) => String(e).startsWith(prefix));
      return entry === undefined ? undefined : String(entry).slice(prefix.length);
    });
  } else if (name === 'proc.cmdline' && arg === undefined) {
    lookups.push((f) => {
      const procName = f['proc.name'];
      if (procName === undefined) return undefined;
      const args = argsList(f['proc.args']);
      return args && args.length > 0 ? `${String(procName)} ${args.map(String).join(' ')}` : String(procName);
    });
  } else if ((name === 'fd.directory' || name === 'fd.filename') && arg === undefined) {
    const wantDir = name === 'fd.directory';
    lookups.push((f) => {
      const path = f['fd.name'];
      if (typeof path !== 'string' || !path.startsWith('/')) return undefined;
      const slash = path.lastIndexOf('/');
      return wantDir ? (slash === 0 ? '/' : path.slice(0, slash)) : path.slice(slash + 1);
    });
  }
  return lookups;
}

/** Brings a looked-up value to the field's type (values built in code may skip parseFieldMapEvents). */
function normalizer(ref: FieldRef): (v: FieldMapValue) => FieldValue {
  const type = ref.type;
  const keepArray = ref.isList || (ref as Partial<ResolvedField>).anyAncestor === true;
  const scalar = (v: ScalarFieldValue): ScalarFieldValue | undefined => {
    const c = convert(v, type);
    return typeof c === 'object' ? undefined : c;
  };
  const isNumeric = NUMERIC.has(type);
  const fast = (v: FieldMapValue): boolean =>
    isNumeric ? typeof v === 'number' || typeof v === 'bigint' : type === 'BOOL' ? typeof v === 'boolean' : typeof v === 'string';
  return (v) => {
    if (Array.isArray(v)) {
      const arr = v as readonly ScalarFieldValue[];
      if (keepArray) return arr.every(fast) ? arr : (arr.map(scalar).filter((x) => x !== undefined) as ScalarFieldValue[]);
      // A multi-valued source for a single-valued field (e.g. proc.args given as argv): space-joined, like libs prints it.
      return arr.map(String).join(' ');
    }
    if (fast(v)) return v as ScalarFieldValue;
    const s = scalar(v as ScalarFieldValue);
    return keepArray && s !== undefined ? [s] : s;
  };
}

/** Reads fields from field-map events by canonical field text, with the derivations in docs/field-map-events.md. */
export const fieldMapExtractor: FieldExtractor<FieldMapEvent> = {
  accessor(ref: FieldRef): FieldAccessor<FieldMapEvent> {
    const lookups = lookupsFor(ref);
    const normalize = normalizer(ref);
    const keepArray = ref.isList || (ref as Partial<ResolvedField>).anyAncestor === true;
    if (TIME_FIELDS[ref.text]) {
      const lookup = firstOf(lookups);
      return (event) => {
        const v = lookup(event.fields);
        return v === undefined || v === null ? undefined : normalize(v);
      };
    }
    // The general path: own key, then the documented derivations, then typing.
    const key = ref.text;
    const fallback = lookups.length > 1 ? firstOf(lookups.slice(1)) : undefined;
    const slow = (event: FieldMapEvent): FieldValue => {
      const f = event.fields;
      let v: FieldMapValue | undefined = f[key];
      if (v === undefined && fallback !== undefined) v = fallback(f);
      return v === undefined || v === null ? undefined : normalize(v);
    };
    // The hot path, one specialised closure per JS type: the own key's slot
    // holds a value already of the field's type (events built by fieldMapEvent).
    const slot = slotOf(key);
    if (keepArray) {
      return (event) => {
        const slots = event.slots;
        if (slots !== undefined) {
          const v = slots[slot];
          if (Array.isArray(v)) return v as readonly ScalarFieldValue[];
        }
        return slow(event);
      };
    }
    if (NUMERIC.has(ref.type)) {
      return (event) => {
        const slots = event.slots;
        if (slots !== undefined) {
          const v = slots[slot];
          if (typeof v === 'number') return v;
        }
        return slow(event);
      };
    }
    if (ref.type === 'BOOL') {
      return (event) => {
        const slots = event.slots;
        if (slots !== undefined) {
          const v = slots[slot];
          if (typeof v === 'boolean') return v;
        }
        return slow(event);
      };
    }
    return (event) => {
      const slots = event.slots;
      if (slots !== undefined) {
        const v = slots[slot];
        if (typeof v === 'string') return v;
      }
      return slow(event);
    };
  },
};
