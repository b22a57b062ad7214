/**
 * The field registry: every field a Falco rule may name (libsinsp's tables
 * plus the container plugin's), resolved the way libs does it, and the
 * compile-time parsing of right-hand-side constants by field type.
 *
 * Resolution (libs `sinsp_filter_check::parse_field_name`): the AST keeps
 * dotted arguments in the name (`evt.arg.flags`, `k8s.pod.label.app`), so a
 * name that is not in the table is matched by its longest table prefix whose
 * field accepts a dotted argument. Bracketed arguments arrive separately.
 */
import type { FieldRef, FieldType, ScalarFieldValue } from '../extract.ts';
import { isKnownEventType } from './event-types.ts';
import { parseCidr, parseIp } from './net.ts';
import { EVENT_PARAM_TYPES, FIELD_SPECS, type FieldFlag, type FieldSpec } from './table.generated.ts';

export { isKnownEventType, knownEventTypes } from './event-types.ts';
export { parseIp, parseCidr, ipInCidr, formatIp, type IpAddress, type IpNetwork } from './net.ts';
export type { FieldSpec, FieldFlag, FieldArgKind } from './table.generated.ts';

/** A field reference resolved against the registry, with the flags the compiler and formatter enforce. */
export interface ResolvedField extends FieldRef {
  /** The field needs an argument (`evt.arg`, `k8s.pod.label`). */
  readonly argRequired: boolean;
  /** The field accepts an argument. */
  readonly argAllowed: boolean;
  /** Transformers (`tolower(...)`) cannot be applied (libs EPF_NO_TRANSFORMER). */
  readonly noTransformer: boolean;
  /** Cannot be used inside `val()` on the right-hand side (libs EPF_NO_RHS). */
  readonly noRhs: boolean;
  /** Usable in conditions only, not in outputs (`fd.net`, `fd.ip`). */
  readonly filterOnly: boolean;
  /** Usable in outputs only (`evt.outputtime`). */
  readonly printOnly: boolean;
  /** Deprecated (`evt.dir`, `evt.latency*`): loads with a warning. */
  readonly deprecated: boolean;
  /**
   * Set for the ancestor fields (`proc.aname`, `proc.aexe`, `proc.aexepath`,
   * `proc.apid`, `proc.aargs`, `proc.acmdline`, `proc.aenv`) used without an
   * index: in a filter the check holds when some ancestor (parent and above,
   * not the process itself) satisfies it; the accessor returns the ancestors'
   * values, parent first.
   */
  readonly anyAncestor?: true;
  /** One-line description from the field table. */
  readonly description: string;
  /** Which table the field comes from. */
  readonly source: 'libsinsp' | 'container';
}

/** A field name the registry does not know; the message follows libs and adds a suggestion. */
export class UnknownFieldError extends Error {
  constructor(
    /** The field as written (`fd.mode`, `proc.name[1]`). */
    readonly field: string,
    /** The suggested field, when one is close enough. */
    readonly suggestion?: string,
    reason?: string,
  ) {
    super(
      `filter_check called with nonexistent field ${field}` +
        (reason ? `: ${reason}` : '') +
        (suggestion ? `; did you mean '${suggestion}'?${hintFor(field)}` : ''),
    );
    this.name = 'UnknownFieldError';
  }
}

/** A known field with an argument it cannot take, or without one it needs. */
export class FieldArgumentError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'FieldArgumentError';
  }
}

/** A right-hand-side constant that does not parse for the field's type. */
export class ConstantParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConstantParseError';
  }
}

// ---- the table --------------------------------------------------------------

const BY_NAME: ReadonlyMap<string, FieldSpec> = new Map(FIELD_SPECS.map((f) => [f.name, f]));
const DOTTED_PREFIXES: readonly FieldSpec[] = FIELD_SPECS.filter((f) => f.flags.includes('dottedArg')).sort(
  (a, b) => b.name.length - a.name.length,
);

/** The registry entry for an exact field name (no argument). */
export function fieldSpec(name: string): FieldSpec | undefined {
  return BY_NAME.get(name);
}

/** Every field name in the registry, in table order. */
export function fieldNames(): string[] {
  return FIELD_SPECS.map((f) => f.name);
}

const has = (spec: FieldSpec, flag: FieldFlag): boolean => spec.flags.includes(flag);

// ---- resolution --------------------------------------------------------------

const cache = new Map<string, ResolvedField>();

/**
 * Resolves a field as the AST gives it (`{field, arg?}`, dotted arguments
 * still in the name). Throws UnknownFieldError or FieldArgumentError.
 * Results are cached and shared (they are immutable).
 */
export function resolveField(name: string, arg: string | undefined): ResolvedField {
  const key = arg === undefined ? name : `${name}\u0000${arg}`;
  let resolved = cache.get(key);
  if (!resolved) {
    resolved = resolveUncached(name, arg);
    cache.set(key, resolved);
  }
  return resolved;
}

function resolveUncached(written: string, bracketArg: string | undefined): ResolvedField {
  const text = bracketArg === undefined ? written : `${written}[${bracketArg}]`;
  let spec = BY_NAME.get(written);
  let arg = bracketArg;
  if (!spec) {
    // evt.arg.flags, k8s.pod.label.app.kubernetes.io/name, thread.cgroup.cpuacct
    const prefix = DOTTED_PREFIXES.find((f) => written.startsWith(`${f.name}.`) && written.length > f.name.length + 1);
    if (!prefix) throw new UnknownFieldError(text, suggestField(written));
    if (bracketArg !== undefined) {
      throw new UnknownFieldError(text, undefined, `'${prefix.name}' takes one argument, either '${written}' or '${prefix.name}[${bracketArg}]'`);
    }
    spec = prefix;
    arg = written.slice(prefix.name.length + 1);
  }
  checkSpecialArgument(spec, text, arg, bracketArg);
  if (spec.name !== 'evt.abspath') checkArgument(spec, text, arg);
  let type = spec.type;
  if (spec.name === 'evt.rawarg' && arg !== undefined) type = EVENT_PARAM_TYPES[arg] ?? 'CHARBUF';
  const anyAncestor = has(spec, 'ancestor') && arg === undefined;
  const base = {
    name: spec.name,
    text,
    type,
    isList: has(spec, 'isList'),
    argRequired: has(spec, 'argRequired'),
    argAllowed: has(spec, 'argAllowed'),
    noTransformer: has(spec, 'noTransformer'),
    noRhs: has(spec, 'noRhs'),
    filterOnly: has(spec, 'filterOnly'),
    printOnly: has(spec, 'printOnly'),
    deprecated: has(spec, 'deprecated'),
    description: spec.desc,
    source: spec.source,
  };
  const withArg = arg === undefined ? base : { ...base, arg };
  return Object.freeze(anyAncestor ? { ...withArg, anyAncestor: true as const } : withArg);
}

/** Fields whose argument libs parses in its own way (`sinsp_filtercheck_event.cpp`). */
function checkSpecialArgument(spec: FieldSpec, text: string, arg: string | undefined, bracketArg: string | undefined): void {
  switch (spec.name) {
    case 'evt.rawarg':
      if (bracketArg !== undefined) {
        throw new FieldArgumentError(text, `evt.arg fields must be expressed explicitly: write evt.rawarg.NAME (e.g. evt.rawarg.res), not ${text}`);
      }
      return;
    case 'evt.abspath':
      // evt.abspath alone is the single path; .src/.dst pick one of two (renameat, linkat).
      if (arg !== undefined && arg !== 'src' && arg !== 'dst') {
        throw new UnknownFieldError(text, undefined, "evt.abspath takes no argument or one of '.src', '.dst'");
      }
      return;
    case 'evt.type.is':
      if (arg !== undefined && !/^\d+$/.test(arg) && !isKnownEventType(arg)) {
        throw new UnknownFieldError(text, undefined, `unknown event type ${arg}`);
      }
      return;
  }
}

function checkArgument(spec: FieldSpec, text: string, arg: string | undefined): void {
  if (arg === undefined) {
    if (has(spec, 'argRequired')) {
      const example = has(spec, 'dottedArg') ? `${spec.name}.NAME or ${spec.name}[NAME]` : `${spec.name}[${spec.arg === 'index' ? 'N' : 'KEY'}]`;
      throw new FieldArgumentError(text, `field '${spec.name}' requires an argument, e.g. ${example}`);
    }
    return;
  }
  if (!has(spec, 'argAllowed')) {
    throw new UnknownFieldError(text, undefined, `'${spec.name}' does not take an argument`);
  }
  if (arg === '') throw new FieldArgumentError(text, `field '${spec.name}' has an empty argument in '${text}'`);
  if (spec.arg === 'index' && !/^\d+$/.test(arg)) {
    throw new FieldArgumentError(text, `field '${spec.name}' takes a numeric index (e.g. ${spec.name}[1]), got '${arg}' in '${text}'`);
  }
}

// ---- suggestions -------------------------------------------------------------

/** Fields people reach for that Falco spells differently. */
const CONFUSIONS: Readonly<Record<string, { readonly field: string; readonly hint?: string }>> = {
  'fd.mode': { field: 'evt.arg.mode', hint: 'the mode of chmod/fchmod/fchmodat/open/mkdir is a syscall argument, not an fd attribute' },
  'fd.perm': { field: 'evt.arg.mode', hint: 'permission bits are the mode argument of chmod/fchmod/fchmodat' },
  'fd.perms': { field: 'evt.arg.mode', hint: 'permission bits are the mode argument of chmod/fchmod/fchmodat' },
  'fd.permissions': { field: 'evt.arg.mode', hint: 'permission bits are the mode argument of chmod/fchmod/fchmodat' },
  'file.mode': { field: 'evt.arg.mode' },
  'fd.flags': { field: 'evt.arg.flags', hint: 'open flags are a syscall argument' },
  'fd.path': { field: 'fd.name' },
  'fd.filepath': { field: 'fd.name' },
  'fd.fullpath': { field: 'fd.name' },
  'file.name': { field: 'fd.name' },
  'file.path': { field: 'fd.name' },
  'fd.dir': { field: 'fd.directory' },
  'fd.dirname': { field: 'fd.directory' },
  'fd.basename': { field: 'fd.filename' },
  'fd.file': { field: 'fd.filename' },
  'fd.dport': { field: 'fd.sport', hint: 'Falco names ports by role: fd.sport (server), fd.cport (client), fd.rport (remote), fd.lport (local)' },
  'fd.dip': { field: 'fd.sip', hint: 'Falco names addresses by role: fd.sip (server), fd.cip (client), fd.rip (remote), fd.lip (local)' },
  'fd.srcip': { field: 'fd.cip' },
  'fd.dstip': { field: 'fd.sip' },
  'fd.proto': { field: 'fd.l4proto' },
  'proc.parent': { field: 'proc.pname' },
  'proc.parent.name': { field: 'proc.pname' },
  'proc.ppid.name': { field: 'proc.pname' },
  'proc.parentname': { field: 'proc.pname' },
  'proc.path': { field: 'proc.exepath' },
  'proc.exe.path': { field: 'proc.exepath' },
  'proc.cmd': { field: 'proc.cmdline' },
  'proc.command': { field: 'proc.cmdline' },
  'proc.commandline': { field: 'proc.cmdline' },
  'proc.argv': { field: 'proc.args' },
  'proc.user': { field: 'user.name' },
  'proc.uid': { field: 'user.uid' },
  'user.id': { field: 'user.uid' },
  'user.gid': { field: 'group.gid' },
  'user.group': { field: 'group.name' },
  'evt.name': { field: 'evt.type' },
  'evt.syscall': { field: 'evt.type' },
  'syscall.name': { field: 'evt.type' },
  'evt.result': { field: 'evt.res' },
  'evt.return': { field: 'evt.res' },
  'evt.retval': { field: 'evt.rawres' },
  'evt.timestamp': { field: 'evt.time' },
  'container.image.name': { field: 'container.image.repository' },
  'container.repository': { field: 'container.image.repository' },
  'container.tag': { field: 'container.image.tag' },
  'k8s.namespace': { field: 'k8s.ns.name' },
  'k8s.namespace.name': { field: 'k8s.ns.name' },
  'k8s.ns': { field: 'k8s.ns.name' },
  'k8s.pod': { field: 'k8s.pod.name' },
  'thread.caps': { field: 'thread.cap_effective' },
  'thread.capabilities': { field: 'thread.cap_effective' },
  'proc.cap_effective': { field: 'thread.cap_effective' },
};

function hintFor(written: string): string {
  const base = written.includes('[') ? written.slice(0, written.indexOf('[')) : written;
  const hint = CONFUSIONS[base]?.hint;
  return hint ? ` (${hint})` : '';
}

/** Levenshtein distance with an early exit once every cell exceeds `max`. */
function editDistance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      cur.push(v);
      if (v < rowMin) rowMin = v;
    }
    if (rowMin > max) return max + 1;
    prev = cur;
  }
  return prev[b.length]!;
}

/**
 * The field a user most likely meant: a known confusion (`fd.mode` →
 * `evt.arg.mode`), `evt.args.X` → `evt.arg.X`, else the nearest registry name
 * by edit distance (ties broken by the longer common prefix). Undefined when
 * nothing is close.
 */
export function suggestField(written: string): string | undefined {
  const confusion = CONFUSIONS[written];
  if (confusion) return confusion.field;
  const argsTypo = /^evt\.(?:args|param|params|argument)\.(.+)$/.exec(written);
  if (argsTypo) return `evt.arg.${argsTypo[1]}`;
  // A dotted argument on a field that does not take one: suggest the field itself.
  const max = Math.max(2, Math.floor(written.length / 4));
  let best: string | undefined;
  let bestDistance = max + 1;
  let bestPrefix = -1;
  for (const spec of FIELD_SPECS) {
    const d = editDistance(written, spec.name, max);
    if (d > max) continue;
    const prefix = commonPrefix(written, spec.name);
    if (d < bestDistance || (d === bestDistance && prefix > bestPrefix)) {
      best = spec.name;
      bestDistance = d;
      bestPrefix = prefix;
    }
  }
  if (best) return best;
  // `proc.name.foo` → the longest registry name that prefixes it.
  let prefixMatch: string | undefined;
  for (const spec of FIELD_SPECS) {
    if (written.startsWith(`${spec.name}.`) && (!prefixMatch || spec.name.length > prefixMatch.length)) prefixMatch = spec.name;
  }
  return prefixMatch;
}

function commonPrefix(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

// ---- constants -------------------------------------------------------------

const SIGNED_BITS: Partial<Record<FieldType, number>> = { INT8: 8, INT16: 16, INT32: 32, INT64: 64, FD: 64, PID: 64, ERRNO: 64 };
const UNSIGNED_BITS: Partial<Record<FieldType, number>> = {
  UINT8: 8,
  UINT16: 16,
  UINT32: 32,
  UINT64: 64,
  PORT: 16,
  L4PROTO: 8,
  SOCKFAMILY: 8,
  ABSTIME: 64,
  RELTIME: 64,
  SIGTYPE: 8,
  MODE: 32,
  SYSCALLID: 16,
  FLAGS8: 8,
  FLAGS16: 16,
  FLAGS32: 32,
  UID: 32,
  GID: 32,
};

/** sscanf("%d%c") accepts leading blanks and a sign, then decimal digits, and nothing after. */
const DECIMAL = /^[ \t\n\v\f\r]*([+-]?\d+)$/;
const FLOAT = /^[ \t\n\v\f\r]*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

const toScalar = (n: bigint): number | bigint => (n >= -9007199254740991n && n <= 9007199254740991n ? Number(n) : n);

/** Service names libs resolves with getservbyname() for PORT constants (`fd.sport = ssh`). */
const SERVICE_PORTS: Readonly<Record<string, number>> = {
  ftp: 21, ssh: 22, telnet: 23, smtp: 25, domain: 53, tftp: 69, http: 80, www: 80, kerberos: 88, pop3: 110,
  sunrpc: 111, ntp: 123, netbios_ns: 137, imap: 143, imap2: 143, snmp: 161, bgp: 179, ldap: 389, https: 443,
  microsoft_ds: 445, submissions: 465, smtps: 465, syslog: 514, submission: 587, ldaps: 636, rsync: 873,
  imaps: 993, pop3s: 995, socks: 1080, openvpn: 1194, mysql: 3306, postgresql: 5432, 'http-alt': 8080,
};

function integerConstant(text: string, type: FieldType, bits: number, signed: boolean): number | bigint {
  const m = DECIMAL.exec(text);
  if (!m) throw new ConstantParseError(`${text} is not a valid number (a field of type ${type} takes a decimal integer: no hex, no trailing characters)`);
  let n = BigInt(m[1]!);
  if (bits === 64) {
    // strtoll/strtoull saturate; a negative value for an unsigned field wraps (strtoull negates).
    if (signed) n = n > 0x7fffffffffffffffn ? 0x7fffffffffffffffn : n < -0x8000000000000000n ? -0x8000000000000000n : n;
    else n = n > 0xffffffffffffffffn ? 0xffffffffffffffffn : n < -0xffffffffffffffffn ? 1n : BigInt.asUintN(64, n);
    return toScalar(n);
  }
  // Narrower fields: the C cast of the parsed value.
  return toScalar(signed ? BigInt.asIntN(bits, n) : BigInt.asUintN(bits, n));
}

/**
 * Parses a right-hand-side constant for a field (libs `value_parser`):
 * integers are decimal only (`0x10` fails, as in Falco) and narrow to the
 * field's width like libs' C casts (64-bit values saturate like strtoll);
 * values beyond 2^53 come back as bigint; ports also take service names
 * (`ssh`); booleans are exactly `true`/`false`; IP fields need an address,
 * IPNET fields `address/prefix`; strings and buffers are returned as
 * written. IP constants are validated and returned as text (use
 * `parseIp`/`parseCidr` for the numeric form).
 */
export function parseConstant(field: ResolvedField | FieldRef | FieldType, text: string): ScalarFieldValue {
  const type: FieldType = typeof field === 'string' ? field : field.type;
  if (type === 'PORT' && text !== '' && !/^\d+$/.test(text)) {
    const port = SERVICE_PORTS[text];
    if (port === undefined) throw new ConstantParseError(`unrecognized protocol ${text} (use a port number or a service name such as ssh, http, https)`);
    return port;
  }
  if (type === 'PORT' && text === '') return 0;
  const signed = SIGNED_BITS[type];
  if (signed !== undefined) return integerConstant(text, type, signed, true);
  const unsigned = UNSIGNED_BITS[type];
  if (unsigned !== undefined) return integerConstant(text, type, unsigned, false);
  switch (type) {
    case 'DOUBLE':
      if (!FLOAT.test(text)) throw new ConstantParseError(`${text} is not a valid number (a field of type DOUBLE)`);
      return Number(text);
    case 'BOOL':
      if (text === 'true') return true;
      if (text === 'false') return false;
      throw new ConstantParseError(`filter error: unrecognized boolean value ${text} (use true or false)`);
    case 'IPV4ADDR': {
      const ip = parseIp(text);
      if (!ip || ip.family !== 4) throw new ConstantParseError(`unrecognized IPv4 address ${text}`);
      return text;
    }
    case 'IPV6ADDR': {
      const ip = parseIp(text);
      if (!ip || ip.family !== 6) throw new ConstantParseError(`unrecognized IPv6 address ${text}`);
      return text;
    }
    case 'IPADDR': {
      const ip = parseIp(text);
      if (!ip) {
        const hint = text.includes('/') ? ' (a network needs an IPNET field such as fd.net, fd.snet, fd.cnet)' : '';
        throw new ConstantParseError(`unrecognized ${text.includes('.') ? 'IPv4' : 'IPv6'} address ${text}${hint}`);
      }
      return text;
    }
    case 'IPNET':
      if (!text.includes('/')) throw new ConstantParseError(`unrecognized IP network ${text} (expected address/prefix, e.g. 10.0.0.0/8)`);
      if (!parseCidr(text)) {
        const address = parseIp(text.slice(0, text.indexOf('/')));
        throw new ConstantParseError(address ? `invalid netmask ${text.slice(text.indexOf('/') + 1)} in ${text}` : `unrecognized IP address ${text}`);
      }
      return text;
    default:
      return text;
  }
}

// ---- comparability -----------------------------------------------------------

export type ComparableKind = 'numeric' | 'boolean' | 'string' | 'buffer' | 'ip address' | 'ip network' | 'list';

const OPS: Readonly<Record<ComparableKind, ReadonlySet<string>>> = {
  numeric: new Set(['=', '==', '!=', '<', '<=', '>', '>=', 'in', 'intersects', 'exists']),
  boolean: new Set(['=', '==', '!=', 'in', 'intersects', 'exists']),
  string: new Set(['=', '==', '!=', '<', '<=', '>', '>=', 'contains', 'icontains', 'startswith', 'endswith', 'glob', 'iglob', 'regex', 'in', 'intersects', 'pmatch', 'exists']),
  buffer: new Set(['=', '==', '!=', 'contains', 'in', 'exists', 'startswith', 'endswith', 'intersects', 'bcontains', 'bstartswith']),
  'ip address': new Set(['=', '==', '!=', 'in', 'exists', 'intersects']),
  'ip network': new Set(['=', '==', '!=', 'in', 'exists', 'intersects']),
  list: new Set(['in', 'intersects', 'exists']),
};

/** The libs comparison class of a field type (`flt_is_comparable`). */
export function comparableKind(type: FieldType, isList = false): ComparableKind {
  if (isList) return 'list';
  switch (type) {
    case 'CHARBUF':
    case 'FSPATH':
    case 'FSRELPATH':
      return 'string';
    case 'BYTEBUF':
      return 'buffer';
    case 'BOOL':
      return 'boolean';
    case 'IPV4ADDR':
    case 'IPV6ADDR':
    case 'IPADDR':
      return 'ip address';
    case 'IPNET':
      return 'ip network';
    default:
      return 'numeric';
  }
}

/** The operator without its modifier: `= oneof` → `=`. */
function baseOperator(op: string): string {
  const space = op.indexOf(' ');
  return space < 0 ? op : op.slice(0, space);
}

/** True when `op` (modifiers allowed: `= oneof`) applies to a field of `type` (a list field when `isList`). */
export function isComparable(type: FieldType, op: string, isList = false): boolean {
  return OPS[comparableKind(type, isList)].has(baseOperator(op));
}

/** The libs error text for an operator a type does not support, or undefined when it is supported. */
export function comparabilityError(type: FieldType, op: string, isList = false): string | undefined {
  if (isComparable(type, op, isList)) return undefined;
  const kind = comparableKind(type, isList);
  // libs' wording: booleans share the numeric message, IPs and networks one message.
  const words = kind === 'boolean' ? 'numeric' : kind === 'ip address' || kind === 'ip network' ? 'ip address and network' : kind;
  return `'${op}' operator not supported for ${words} filters`;
}
