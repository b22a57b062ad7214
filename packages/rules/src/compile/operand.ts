/**
 * Operands: a field, a transformer over fields (`tolower(proc.name)`,
 * `join("-", (a, b))`, `getopt(proc.args, "nt:")[t]`), or `val(field)` on the
 * right-hand side. Each compiles once into an accessor plus its result type.
 */
import type { FieldOrTransformer, TransformerListExpr, ValueExpr } from '../condition/ast.ts';
import { operandString } from '../condition/as-string.ts';
import type { FieldAccessor, FieldExtractor, FieldType, FieldValue, ScalarFieldValue } from '../extract.ts';
import { resolveField, type ResolvedField } from '../fields/index.ts';
import { ConditionCompileError, type CompileWarning } from './errors.ts';

export interface CompiledOperand<E> {
  readonly get: FieldAccessor<E>;
  readonly type: FieldType;
  /** The accessor may return an array (list field, ancestor field without index, transformer over those). */
  readonly multi: boolean;
  /** An array means "any element satisfies the check" (proc.aname without index) rather than a list value. */
  readonly anyElement: boolean;
  /** Canonical text (`proc.aname[2]`, `tolower(proc.name)`). */
  readonly text: string;
  /** The resolved field for plain field operands. */
  readonly field?: ResolvedField;
}

export interface OperandContext<E> {
  readonly extractor: FieldExtractor<E>;
  readonly warnings: CompileWarning[];
}

const STRING_TYPES: ReadonlySet<FieldType> = new Set(['CHARBUF', 'FSPATH', 'FSRELPATH']);

function mapValue(v: FieldValue, f: (s: ScalarFieldValue) => ScalarFieldValue): FieldValue {
  if (v === undefined) return undefined;
  if (Array.isArray(v)) return v.map(f);
  return f(v as ScalarFieldValue);
}

const text = (s: ScalarFieldValue): string => (typeof s === 'string' ? s : String(s));

/** Resolves a field node against the registry, turning registry errors into positioned compile errors. */
export function resolveFieldNode(node: { field: string; arg?: string; pos: ValueExpr['pos'] }): ResolvedField {
  try {
    return resolveField(node.field, node.arg);
  } catch (e) {
    throw new ConditionCompileError((e as Error).message, node.pos);
  }
}

export function compileOperand<E>(node: FieldOrTransformer, ctx: OperandContext<E>): CompiledOperand<E> {
  if (node.kind === 'field') {
    const field = resolveFieldNode(node);
    if (field.deprecated) {
      ctx.warnings.push({ code: 'LOAD_DEPRECATED_ITEM', message: `field '${field.text}' is deprecated`, pos: node.pos });
    }
    return {
      get: ctx.extractor.accessor(field),
      type: field.type,
      multi: field.isList || field.anyAncestor === true,
      anyElement: field.anyAncestor === true,
      text: field.text,
      field,
    };
  }
  return compileTransformer(node, ctx);
}

function requireSingleOperand<E>(
  node: Extract<FieldOrTransformer, { kind: 'transformer' }>,
  ctx: OperandContext<E>,
): CompiledOperand<E> {
  const [arg, ...rest] = node.values;
  if (!arg || rest.length > 0 || arg.kind === 'value' || arg.kind === 'transformer_list') {
    throw new ConditionCompileError(`transformer '${node.transformer}' takes exactly one field or transformer`, node.pos);
  }
  const inner = compileOperand(arg, ctx);
  // val() is not a transformer: it only moves a field to the right-hand side.
  if (node.transformer !== 'val' && inner.field?.noTransformer) {
    throw new ConditionCompileError(`field '${inner.text}' does not support transformers`, arg.pos);
  }
  return inner;
}

function compileTransformer<E>(
  node: Extract<FieldOrTransformer, { kind: 'transformer' }>,
  ctx: OperandContext<E>,
): CompiledOperand<E> {
  const canonical = operandString(node);
  switch (node.transformer) {
    case 'val': {
      const inner = requireSingleOperand(node, ctx);
      if (inner.field?.noRhs) {
        throw new ConditionCompileError(`field '${inner.text}' cannot be used on the right-hand side (val())`, node.pos);
      }
      return { ...inner, text: canonical, field: undefined };
    }
    case 'tolower':
    case 'toupper': {
      const inner = requireSingleOperand(node, ctx);
      if (!STRING_TYPES.has(inner.type)) {
        throw new ConditionCompileError(`transformer '${node.transformer}' needs a string field, '${inner.text}' is ${inner.type}`, node.pos);
      }
      const f = node.transformer === 'tolower' ? (s: ScalarFieldValue) => text(s).toLowerCase() : (s: ScalarFieldValue) => text(s).toUpperCase();
      const get = inner.get;
      return { ...inner, get: (ev) => mapValue(get(ev), f), text: canonical, field: undefined };
    }
    case 'b64': {
      const inner = requireSingleOperand(node, ctx);
      if (inner.type !== 'CHARBUF' && inner.type !== 'BYTEBUF') {
        throw new ConditionCompileError(`transformer 'b64' needs a string or buffer field, '${inner.text}' is ${inner.type}`, node.pos);
      }
      const get = inner.get;
      const decode = (s: ScalarFieldValue) => Buffer.from(text(s), 'base64').toString('utf8');
      return { ...inner, get: (ev) => mapValue(get(ev), decode), text: canonical, field: undefined };
    }
    case 'basename': {
      const inner = requireSingleOperand(node, ctx);
      if (!STRING_TYPES.has(inner.type)) {
        throw new ConditionCompileError(`transformer 'basename' needs a string field, '${inner.text}' is ${inner.type}`, node.pos);
      }
      const get = inner.get;
      const base = (s: ScalarFieldValue) => {
        const t = text(s);
        return t.slice(t.lastIndexOf('/') + 1);
      };
      return { ...inner, get: (ev) => mapValue(get(ev), base), text: canonical, field: undefined };
    }
    case 'len': {
      const inner = requireSingleOperand(node, ctx);
      const get = inner.get;
      // len of a list field is its element count; of a string, its length.
      const len: FieldAccessor<E> = inner.multi && !inner.anyElement
        ? (ev) => {
            const v = get(ev);
            return v === undefined ? undefined : Array.isArray(v) ? v.length : 1;
          }
        : (ev) => mapValue(get(ev), (s) => Buffer.byteLength(text(s)));
      return { get: len, type: 'UINT64', multi: inner.anyElement, anyElement: inner.anyElement, text: canonical };
    }
    case 'join':
      return compileJoin(node, canonical, ctx);
    case 'concat':
      return compileConcat(node, canonical, ctx);
    case 'getopt':
      return compileGetopt(node, canonical, ctx);
  }
  throw new ConditionCompileError(`unknown transformer '${node.transformer}'`, node.pos);
}

type ListMember = FieldOrTransformer | ValueExpr;

function compileMember<E>(member: ListMember, ctx: OperandContext<E>): FieldAccessor<E> {
  if (member.kind === 'value') {
    const constant = member.value;
    return () => constant;
  }
  return compileOperand(member, ctx).get;
}

function constantArg(node: Extract<FieldOrTransformer, { kind: 'transformer' }>, index: number, what: string): string {
  const arg = node.values[index];
  if (!arg || arg.kind !== 'value') {
    throw new ConditionCompileError(`transformer '${node.transformer}' needs ${what} as argument ${index + 1}`, node.pos);
  }
  return arg.value;
}

function listArg(node: Extract<FieldOrTransformer, { kind: 'transformer' }>, index: number): TransformerListExpr['children'] {
  const arg = node.values[index];
  if (!arg || arg.kind !== 'transformer_list') {
    throw new ConditionCompileError(`transformer '${node.transformer}' needs a list '(a, b, …)' as argument ${index + 1}`, node.pos);
  }
  return arg.children;
}

/** Flattens values (lists contribute each element); undefined when any part is missing. */
function gather<E>(parts: readonly FieldAccessor<E>[], ev: E): string[] | undefined {
  const out: string[] = [];
  for (const part of parts) {
    const v = part(ev);
    if (v === undefined) return undefined;
    if (Array.isArray(v)) for (const x of v) out.push(text(x));
    else out.push(text(v as ScalarFieldValue));
  }
  return out;
}

function compileJoin<E>(node: Extract<FieldOrTransformer, { kind: 'transformer' }>, canonical: string, ctx: OperandContext<E>): CompiledOperand<E> {
  if (node.values.length !== 2) throw new ConditionCompileError("transformer 'join' takes a separator and a list: join(sep, (a, b))", node.pos);
  const sep = constantArg(node, 0, 'a quoted separator');
  const parts = listArg(node, 1).map((m) => compileMember(m, ctx));
  return {
    get: (ev) => gather(parts, ev)?.join(sep),
    type: 'CHARBUF',
    multi: false,
    anyElement: false,
    text: canonical,
  };
}

function compileConcat<E>(node: Extract<FieldOrTransformer, { kind: 'transformer' }>, canonical: string, ctx: OperandContext<E>): CompiledOperand<E> {
  const members: ListMember[] = [];
  for (const v of node.values) {
    if (v.kind === 'transformer_list') members.push(...v.children);
    else members.push(v);
  }
  if (members.length === 0) throw new ConditionCompileError("transformer 'concat' needs at least one argument", node.pos);
  const parts = members.map((m) => compileMember(m, ctx));
  return {
    get: (ev) => gather(parts, ev)?.join(''),
    type: 'CHARBUF',
    multi: false,
    anyElement: false,
    text: canonical,
  };
}

/**
 * getopt(args, "optstring")[opt]: parses the argument string with POSIX
 * getopt rules and yields the value of option `opt` (empty for a flag
 * without argument); missing when the option is absent.
 */
function compileGetopt<E>(node: Extract<FieldOrTransformer, { kind: 'transformer' }>, canonical: string, ctx: OperandContext<E>): CompiledOperand<E> {
  if (node.values.length !== 2) throw new ConditionCompileError("transformer 'getopt' takes the args and an optstring: getopt(proc.args, \"nt:\")[t]", node.pos);
  const source = node.values[0]!;
  if (source.kind === 'value' || source.kind === 'transformer_list') {
    throw new ConditionCompileError("transformer 'getopt' needs a field as first argument", node.pos);
  }
  const get = compileOperand(source, ctx).get;
  const optstring = constantArg(node, 1, 'a quoted optstring');
  const wanted = node.arg;
  if (wanted === undefined || wanted.length !== 1) {
    throw new ConditionCompileError("transformer 'getopt' needs the option letter as argument: getopt(...)[t]", node.pos);
  }
  const takesArg = new Set<string>();
  for (let i = 0; i < optstring.length; i++) if (optstring[i + 1] === ':') takesArg.add(optstring[i]!);
  return {
    get: (ev) => {
      const v = get(ev);
      if (v === undefined) return undefined;
      const argv = Array.isArray(v) ? v.map(text) : text(v as ScalarFieldValue).split(/\s+/).filter(Boolean);
      return getoptValue(argv, takesArg, wanted);
    },
    type: 'CHARBUF',
    multi: false,
    anyElement: false,
    text: canonical,
  };
}

function getoptValue(argv: readonly string[], takesArg: ReadonlySet<string>, wanted: string): string | undefined {
  let found: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    if (!a.startsWith('-') || a === '-') continue;
    for (let j = 1; j < a.length; j++) {
      const opt = a[j]!;
      if (takesArg.has(opt)) {
        const value = j + 1 < a.length ? a.slice(j + 1) : argv[++i];
        if (opt === wanted) found = value ?? '';
        break;
      }
      if (opt === wanted) found = '';
    }
  }
  return found;
}
