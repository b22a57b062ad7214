/**
 * Comparison operators: the scalar test each operator compiles to (which
 * field types accept which operator is the registry's `comparabilityError`).
 * A test receives one extracted scalar that is known to exist; "missing"
 * is handled one level up, where every check on a missing value is false.
 */
import type { FieldType, ScalarFieldValue } from '../extract.ts';
import { ConditionCompileError } from './errors.ts';
import { compileGlob } from './glob.ts';
import { compileRegex, RegexSyntaxError, type CompiledRegex } from './re2.ts';
import { compilePathPrefixes } from './pmatch.ts';
import { comparableKind, ipInCidr, parseCidr, parseIp, type ComparableKind } from '../fields/index.ts';

/** How a value compares: the registry's comparison class of its field type (never `list` here). */
export type ValueKind = Exclude<ComparableKind, 'list'>;

export function valueKindOf(type: FieldType): ValueKind {
  return comparableKind(type) as ValueKind;
}

/** The operator without its modifier: `= oneof` → `=`. */
export function baseOp(op: string): string {
  const space = op.indexOf(' ');
  return space < 0 ? op : op.slice(0, space);
}

export type ScalarTest = (value: ScalarFieldValue) => boolean;

/** An address constant matches that address; a network constant (CIDR) matches the addresses in it. */
function ipMatcher(constant: string): (value: string) => boolean {
  const net = parseCidr(constant);
  if (!net) throw new ConditionCompileError(`'${constant}' is not a valid IP address or network`);
  return (value) => {
    const ip = parseIp(value);
    return ip !== undefined && ipInCidr(ip, net);
  };
}

function hexToBinary(hex: string, op: string): string {
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(hex)) {
    throw new ConditionCompileError(`'${op}' requires a hex string (an even number of hex digits), got '${hex}'`);
  }
  let out = '';
  for (let i = 0; i < hex.length; i += 2) out += String.fromCharCode(parseInt(hex.slice(i, i + 2), 16));
  return out;
}

/**
 * Full-match regex with libs' RE2 POSIX options, in linear time (re2.ts): a
 * JS RegExp would let a value from the watched host backtrack for minutes.
 */
function compileFullRegex(pattern: string): CompiledRegex {
  try {
    return compileRegex(pattern);
  } catch (e) {
    if (e instanceof RegexSyntaxError) throw new ConditionCompileError(`invalid regular expression '${pattern}': ${e.message}`);
    throw e;
  }
}

function asText(v: ScalarFieldValue): string {
  return typeof v === 'string' ? v : String(v);
}

/**
 * The test for `value <op> constant` on a single value. `constant` is already
 * parsed for the field's kind (numbers for numeric fields, booleans for BOOL).
 */
export function scalarTest(op: string, kind: ValueKind, constant: ScalarFieldValue): ScalarTest {
  if (kind === 'ip address' || kind === 'ip network') {
    const matches = ipMatcher(asText(constant));
    if (op === '!=') return (v) => !matches(asText(v));
    return (v) => matches(asText(v));
  }
  if (kind === 'numeric' || kind === 'boolean') {
    const c = constant;
    switch (op) {
      case '=':
      case '==':
        // `==` on purpose: a bigint constant equals the same number.
        return (v) => v == c;
      case '!=':
        return (v) => v != c;
      case '<':
        return (v) => v < c;
      case '<=':
        return (v) => v <= c;
      case '>':
        return (v) => v > c;
      case '>=':
        return (v) => v >= c;
    }
  }
  const c = asText(constant);
  switch (op) {
    case '=':
    case '==':
      return (v) => v === c;
    case '!=':
      return (v) => v !== c;
    case '<':
      return (v) => asText(v) < c;
    case '<=':
      return (v) => asText(v) <= c;
    case '>':
      return (v) => asText(v) > c;
    case '>=':
      return (v) => asText(v) >= c;
    case 'contains':
      return (v) => asText(v).includes(c);
    case 'icontains': {
      const lower = c.toLowerCase();
      return (v) => asText(v).toLowerCase().includes(lower);
    }
    case 'startswith':
      return (v) => asText(v).startsWith(c);
    case 'endswith':
      return (v) => asText(v).endsWith(c);
    case 'bcontains': {
      const bin = hexToBinary(c, op);
      return (v) => asText(v).includes(bin);
    }
    case 'bstartswith': {
      const bin = hexToBinary(c, op);
      return (v) => asText(v).startsWith(bin);
    }
    case 'glob': {
      const match = compileGlob(c);
      return (v) => match(asText(v));
    }
    case 'iglob': {
      const match = compileGlob(c, true);
      return (v) => match(asText(v));
    }
    case 'regex': {
      const re = compileFullRegex(c);
      return (v) => re.fullMatch(asText(v));
    }
    case 'pmatch': {
      const match = compilePathPrefixes([c]);
      return (v) => match(asText(v));
    }
  }
  throw new ConditionCompileError(`operator '${op}' cannot take a single value`);
}

/** `in` / `intersects` against a constant set (one value side), and `pmatch` against a list of prefixes. */
export function setTest(op: string, kind: ValueKind, constants: readonly ScalarFieldValue[]): ScalarTest {
  if (op === 'pmatch') {
    const match = compilePathPrefixes(constants.map(asText));
    return (v) => match(asText(v));
  }
  if (kind === 'ip address' || kind === 'ip network') {
    const matchers = constants.map((c) => ipMatcher(asText(c)));
    return (v) => {
      const text = asText(v);
      return matchers.some((m) => m(text));
    };
  }
  if (kind === 'numeric' || kind === 'boolean') {
    // Normalise bigints that fit so Set lookups work for ordinary numbers.
    const set = new Set<ScalarFieldValue>(constants.map(normaliseNumber));
    return (v) => set.has(normaliseNumber(v));
  }
  const set = new Set(constants.map(asText));
  return (v) => set.has(typeof v === 'string' ? v : asText(v));
}

function normaliseNumber(v: ScalarFieldValue): ScalarFieldValue {
  return typeof v === 'bigint' && v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** `<strop> oneof|anyof|allof (list)`: exactly one / at least one / every element matches. */
export function modifierTest(modifier: string, tests: readonly ScalarTest[]): ScalarTest {
  if (tests.length === 0) return () => false;
  switch (modifier) {
    case 'oneof':
      return (v) => {
        let n = 0;
        for (const t of tests) if (t(v) && ++n > 1) return false;
        return n === 1;
      };
    case 'anyof':
      return (v) => tests.some((t) => t(v));
    case 'allof':
      return (v) => tests.every((t) => t(v));
  }
  throw new ConditionCompileError(`unknown operator modifier '${modifier}'`);
}
