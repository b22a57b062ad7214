/**
 * Falco output format strings (libs `eventformatter.cpp`): literal text with
 * `%field`, `%field[arg]`, `%NNfield` (pad/truncate to NN characters) and
 * `%transformer(...)` tokens. A token is the longest prefix of the text after
 * `%` that both parses as a field/transformer and compiles, so `%proc.name)`
 * and `%evt.arg.flags,` work. There is no `%(field)` form and no escape for
 * `%`. Falco always formats with the `*` prefix, so a value that cannot be
 * extracted prints `<NA>` in the text and is `null` in `output_fields`.
 *
 * A format is compiled once into parts and accessors; rendering an event is
 * a loop over the parts with no parsing.
 */
import type { OutputFieldValue } from '@peregrine/alert';
import type { FieldOrTransformer } from '../condition/ast.ts';
import { parseOperand } from '../condition/parser.ts';
import { compileOperand } from '../compile/operand.ts';
import type { FieldAccessor, FieldExtractor, FieldType, FieldValue, ScalarFieldValue } from '../extract.ts';
import { resolveField, type ResolvedField } from '../fields/index.ts';

export interface OutputIssue {
  readonly severity: 'error' | 'warning';
  readonly message: string;
  /** Index in the format string of the `%` that starts the offending token. */
  readonly offset: number;
}

/** An output format that cannot be compiled (Falco's LOAD_ERR_COMPILE_OUTPUT). */
export class OutputFormatError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'OutputFormatError';
  }
}

export interface RenderedOutput {
  /** The formatted message. */
  readonly text: string;
  /** Typed values by canonical token text, keys sorted; transformer tokens are not included (as in Falco). */
  readonly fields: Record<string, OutputFieldValue>;
}

export interface CompiledOutputFormat<E> {
  /** The format as compiled (`%container.info` removed). */
  readonly format: string;
  /** The `output_fields` keys, sorted. */
  readonly keys: readonly string[];
  render(event: E): RenderedOutput;
  /** The text and the typed values in `keys` order: for callers that build their own fields object. */
  renderValues(event: E): { readonly text: string; readonly values: OutputFieldValue[] };
}

/** Printed for a value that cannot be extracted (libs `s_not_available_str`). */
export const NOT_AVAILABLE = '<NA>';

const FIELD_NAME = /[a-zA-Z]+[a-zA-Z0-9_]*(?:\.[a-zA-Z]+[a-zA-Z0-9_]*)+/y;
const TRANSFORMER = /(?:tolower|toupper|b64|basename|len|join|concat|getopt|val)\(/y;
const CONTAINER_INFO = 'container.info';

const NUMERIC_TYPES: ReadonlySet<FieldType> = new Set([
  'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'PORT', 'L4PROTO', 'SOCKFAMILY',
  'ABSTIME', 'RELTIME', 'DOUBLE', 'ERRNO', 'FD', 'PID', 'SIGTYPE', 'MODE', 'SYSCALLID', 'FLAGS8', 'FLAGS16',
  'FLAGS32', 'UID', 'GID',
]);

// ---- tokenizing --------------------------------------------------------------

/** One `%` token as written, before it is bound to an extractor. */
interface TokenSyntax {
  /** Offset of the `%`. */
  readonly offset: number;
  /** Offset just after the token. */
  readonly end: number;
  readonly width?: number;
  readonly node: FieldOrTransformer;
  /** The resolved field for plain field tokens. */
  readonly field?: ResolvedField;
  /** Canonical text (`proc.aname[2]`, `tolower(proc.name)`). */
  readonly text: string;
}

type Piece = { readonly literal: string } | { readonly token: TokenSyntax } | { readonly containerInfo: number };

/** The furthest a token starting at `start` can extend: a field name with `[arg]`, or a balanced transformer call. */
function maxTokenEnd(format: string, start: number): number | undefined {
  FIELD_NAME.lastIndex = start;
  if (FIELD_NAME.test(format)) return withArg(format, FIELD_NAME.lastIndex);
  TRANSFORMER.lastIndex = start;
  if (!TRANSFORMER.test(format)) return undefined;
  let depth = 1;
  let i = TRANSFORMER.lastIndex;
  while (i < format.length && depth > 0) {
    const c = format[i]!;
    if (c === '"' || c === "'") {
      i++;
      while (i < format.length && format[i] !== c) i += format[i] === '\\' ? 2 : 1;
    } else if (c === '(') depth++;
    else if (c === ')') depth--;
    i++;
  }
  return withArg(format, Math.min(i, format.length));
}

function withArg(format: string, end: number): number {
  if (format[end] !== '[') return end;
  const close = format.indexOf(']', end + 1);
  return close < 0 ? format.length : close + 1;
}

const NO_EVENTS: FieldExtractor<unknown> = { accessor: () => () => undefined };

/** Parses and checks one candidate token text; returns the syntax or the reason it is not a token. */
function tryToken(candidate: string, offset: number, end: number, width: number | undefined): TokenSyntax | string {
  let node: FieldOrTransformer;
  try {
    node = parseOperand(candidate);
  } catch (e) {
    return (e as Error).message;
  }
  if (node.kind === 'field') {
    let field: ResolvedField;
    try {
      field = resolveField(node.field, node.arg);
    } catch (e) {
      return (e as Error).message;
    }
    if (field.filterOnly) return `'${field.text}' is filter only and cannot be used as a display field`;
    return { offset, end, ...(width === undefined ? {} : { width }), node, field, text: field.text };
  }
  if (node.transformer === 'val') return "val() is only valid on the right-hand side of a condition";
  try {
    const compiled = compileOperand(node, { extractor: NO_EVENTS, warnings: [] });
    return { offset, end, ...(width === undefined ? {} : { width }), node, text: compiled.text };
  } catch (e) {
    return (e as Error).message;
  }
}

function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}

/** Splits a format into literal text and tokens. Throws OutputFormatError on the first invalid token. */
function tokenize(format: string): Piece[] {
  const pieces: Piece[] = [];
  let literal = '';
  let i = 0;
  while (i < format.length) {
    const pct = format.indexOf('%', i);
    if (pct < 0) {
      literal += format.slice(i);
      break;
    }
    literal += format.slice(i, pct);
    let j = pct + 1;
    if (j >= format.length) throw new OutputFormatError('invalid formatting syntax: formatting cannot end with a %', pct);
    let digits = '';
    while (j < format.length && format[j]! >= '0' && format[j]! <= '9') digits += format[j++];
    if (j >= format.length) throw new OutputFormatError('invalid formatting syntax: formatting cannot end with a number', pct);
    const width = digits === '' ? undefined : Number(digits);
    const maxEnd = maxTokenEnd(format, j);
    if (maxEnd === undefined) {
      throw new OutputFormatError(
        `invalid formatting token ${clip(format.slice(pct))}: expected a field name or a transformer after '%' (there is no %(field) syntax; write %proc.name)`,
        pct,
      );
    }
    let token: TokenSyntax | undefined;
    let firstReason: string | undefined;
    for (let end = maxEnd; end > j; end--) {
      const r = tryToken(format.slice(j, end), pct, end, width);
      if (typeof r !== 'string') {
        token = r;
        break;
      }
      firstReason ??= r;
    }
    if (!token) {
      const written = format.slice(j, maxEnd);
      if (written === CONTAINER_INFO) {
        if (literal) pieces.push({ literal });
        literal = '';
        pieces.push({ containerInfo: pct });
        i = maxEnd;
        continue;
      }
      throw new OutputFormatError(`invalid formatting token %${written}: ${firstReason ?? 'not a field'}`, pct);
    }
    if (literal) pieces.push({ literal });
    literal = '';
    pieces.push({ token });
    i = token.end;
  }
  if (literal) pieces.push({ literal });
  return pieces;
}

/**
 * Checks a rule's output format at load time: errors (invalid token, unknown
 * field with a suggestion, filter-only field, `%` at the end) and warnings
 * (deprecated fields such as `%evt.dir`; `%container.info`, which Falco strips).
 * Reports the first error, as Falco stops at it, plus the warnings before it.
 */
export function validateOutputFormat(format: string): OutputIssue[] {
  const issues: OutputIssue[] = [];
  let pieces: Piece[];
  try {
    pieces = tokenize(format);
  } catch (e) {
    if (!(e instanceof OutputFormatError)) throw e;
    return [{ severity: 'error', message: e.message, offset: e.offset }];
  }
  for (const p of pieces) {
    if ('containerInfo' in p) {
      issues.push({
        severity: 'warning',
        message: "%container.info is deprecated and has been removed from the output; the container plugin's suggested fields (container_id=%container.id …) are appended instead",
        offset: p.containerInfo,
      });
    } else if ('token' in p && p.token.field?.deprecated) {
      issues.push({
        severity: 'warning',
        message: `usage of deprecated field '%${p.token.text}' has been detected in the rule output`,
        offset: p.token.offset,
      });
    }
  }
  return issues;
}

// ---- rendering -------------------------------------------------------------------

const asText = (v: ScalarFieldValue): string => (typeof v === 'string' ? v : String(v));

function textOf(v: FieldValue, list: boolean): string {
  if (v === undefined) return NOT_AVAILABLE;
  if (Array.isArray(v)) return list ? `(${v.map(asText).join(',')})` : v.map(asText).join(' ');
  return asText(v as ScalarFieldValue);
}

function jsonScalar(v: ScalarFieldValue, numeric: boolean, bool: boolean): string | number | boolean {
  if (typeof v === 'bigint') return Number(v);
  if (numeric && typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  if (bool && typeof v === 'string' && (v === 'true' || v === 'false')) return v === 'true';
  return v;
}

/**
 * `rawval_to_json` for one field, chosen once at compile time: numbers for
 * numeric fields, booleans for BOOL, arrays for list fields, the
 * space-separated text for ancestor fields without index, null when missing.
 */
function jsonConverter(field: ResolvedField): (v: FieldValue) => OutputFieldValue {
  const numeric = NUMERIC_TYPES.has(field.type);
  const bool = field.type === 'BOOL';
  const list = field.isList;
  return (v) => {
    if (v === undefined) return null;
    if (Array.isArray(v)) {
      if (!list) return v.map(asText).join(' ');
      return v.map((x: ScalarFieldValue) => {
        const j = jsonScalar(x, numeric, false);
        return typeof j === 'boolean' ? String(j) : j;
      });
    }
    const s = v as ScalarFieldValue;
    // Fast path: the extractor already returns the field's own type.
    if (numeric ? typeof s === 'number' : bool ? typeof s === 'boolean' : typeof s === 'string') return s as string | number | boolean;
    return jsonScalar(s, numeric, bool);
  };
}

function fit(text: string, width: number | undefined): string {
  if (width === undefined) return text;
  return text.length >= width ? text.slice(0, width) : text.padEnd(width, ' ');
}

const byteOrder = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

interface BoundToken {
  /** Index of the value slot (one per distinct accessor, read once per render). */
  readonly slot: number;
  readonly width: number | undefined;
  readonly list: boolean;
}

/**
 * The accessor a token reads. `proc.apid` without an index prints the
 * process's own pid in outputs (libs), so it reads `proc.apid[0]`; other
 * ancestor fields without an index print their ancestors space-separated.
 */
function outputRef(field: ResolvedField): ResolvedField {
  if (field.name === 'proc.apid' && field.anyAncestor) return resolveField('proc.apid', '0');
  return field;
}

/**
 * Compiles a format against an extractor. Throws OutputFormatError for an
 * invalid format (see validateOutputFormat for load-time reporting).
 */
export function compileOutputFormat<E>(format: string, extractor: FieldExtractor<E>): CompiledOutputFormat<E> {
  const pieces = tokenize(format);
  const parts: Array<string | BoundToken> = [];
  const slots: Array<FieldAccessor<E>> = [];
  const slotByRef = new Map<string, number>();
  const jsonFields = new Map<string, { slot: number; toJson: (v: FieldValue) => OutputFieldValue }>();
  const slotFor = (field: ResolvedField): number => {
    const ref = outputRef(field);
    let slot = slotByRef.get(ref.text);
    if (slot === undefined) {
      slot = slots.push(extractor.accessor(ref)) - 1;
      slotByRef.set(ref.text, slot);
    }
    return slot;
  };
  let compiledFormat = '';
  for (const p of pieces) {
    if ('literal' in p) {
      parts.push(p.literal);
      compiledFormat += p.literal;
    } else if ('token' in p) {
      const t = p.token;
      compiledFormat += format.slice(t.offset, t.end);
      if (t.field) {
        const slot = slotFor(t.field);
        parts.push({ slot, width: t.width, list: t.field.isList });
        if (!jsonFields.has(t.text)) jsonFields.set(t.text, { slot, toJson: jsonConverter(t.field) });
      } else {
        const compiled = compileOperand(t.node, { extractor, warnings: [] });
        const slot = slots.push(compiled.get) - 1;
        parts.push({ slot, width: t.width, list: compiled.multi && !compiled.anyElement });
      }
    }
  }
  // Merge adjacent literals left by a removed %container.info.
  const merged: Array<string | BoundToken> = [];
  for (const part of parts) {
    const last = merged[merged.length - 1];
    if (typeof part === 'string' && typeof last === 'string') merged[merged.length - 1] = last + part;
    else merged.push(part);
  }
  const keys = [...jsonFields.keys()].sort(byteOrder);
  const fieldList = keys.map((k) => ({ key: k, ...jsonFields.get(k)! }));
  const slotCount = slots.length;

  const renderValues = (event: E): { text: string; values: OutputFieldValue[] } => {
    const raw = new Array<FieldValue>(slotCount);
    for (let i = 0; i < slotCount; i++) raw[i] = slots[i]!(event);
    let text = '';
    for (const part of merged) {
      if (typeof part === 'string') text += part;
      else text += fit(textOf(raw[part.slot], part.list), part.width);
    }
    const values = new Array<OutputFieldValue>(fieldList.length);
    for (let i = 0; i < fieldList.length; i++) values[i] = fieldList[i]!.toJson(raw[fieldList[i]!.slot]);
    return { text, values };
  };

  return {
    format: compiledFormat,
    keys,
    renderValues,
    render(event: E): RenderedOutput {
      const { text, values } = renderValues(event);
      const fields: Record<string, OutputFieldValue> = {};
      for (let i = 0; i < keys.length; i++) fields[keys[i]!] = values[i]!;
      return { text, fields };
    },
  };
}

/**
 * One field's typed `output_fields` value (append_output `extra_fields` given
 * as a bare field name, e.g. `proc.env`): the key is the field's canonical text.
 */
export function compileFieldValue<E>(fieldText: string, extractor: FieldExtractor<E>): { key: string; get: (event: E) => OutputFieldValue } {
  let node: FieldOrTransformer;
  try {
    node = parseOperand(fieldText);
  } catch (e) {
    throw new OutputFormatError(`invalid field '${fieldText}': ${(e as Error).message}`, 0);
  }
  if (node.kind !== 'field') throw new OutputFormatError(`'${fieldText}' is not a field (extra fields are plain field names)`, 0);
  let field: ResolvedField;
  try {
    field = resolveField(node.field, node.arg);
  } catch (e) {
    throw new OutputFormatError((e as Error).message, 0);
  }
  if (field.filterOnly) throw new OutputFormatError(`'${field.text}' is filter only and cannot be used as a display field`, 0);
  const get = extractor.accessor(outputRef(field));
  const toJson = jsonConverter(field);
  return { key: field.text, get: (event) => toJson(get(event)) };
}

// ---- suggested output --------------------------------------------------------

/**
 * Fields the container plugin marks "suggested", in its table order. With
 * falco.yaml's default `append_output: [{suggested_output: true}]`, Falco
 * appends ` name_with_underscores=%name` for each to every syscall rule's
 * output, unconditionally: a rule that already prints `%container.id` gets it
 * twice in the text (output_fields holds each key once).
 */
export const SUGGESTED_OUTPUT_FIELDS: readonly string[] = [
  'container.id',
  'container.name',
  'container.image.repository',
  'container.image.tag',
  'k8s.pod.name',
  'k8s.ns.name',
];

/** The text Falco's default `suggested_output` appends to outputs of rules of `source` ('' for other sources). */
export function suggestedOutputSuffix(source: string): string {
  if (source !== 'syscall') return '';
  return SUGGESTED_OUTPUT_FIELDS.map((f) => ` ${f.replaceAll('.', '_')}=%${f}`).join('');
}

/** `output` with the suggested fields appended as Falco's default configuration does. */
export function withSuggestedOutput(output: string, source: string): string {
  return output + suggestedOutputSuffix(source);
}

export { byteOrder as compareKeys };
