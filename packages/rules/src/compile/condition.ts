/**
 * Compiles a resolved condition AST (lists substituted, macros expanded) into
 * one JS function per rule: `(event) => boolean`. No tree walk per event.
 *
 * The common checks (string `=`, `!=`, `in`, `contains`, `startswith`,
 * `endswith`, numeric comparisons, `exists` on single-valued fields) are
 * emitted inline as JS source, so `and`/`or` chains become one function
 * with straight-line short-circuit code; every other check (ancestor and
 * list fields, transformers over them, `val()`, modifiers, glob, regex,
 * pmatch, IP networks) is a closure the generated code calls. The source
 * only ever contains operators and slot names (`k12`): constants, sets,
 * regexes and accessors are passed in by reference, never spliced as text.
 *
 * Semantics follow libs: a check on a value that cannot be extracted is false
 * for every operator (`!=` included); `and`/`or` short-circuit; ancestor
 * fields without an index match when any ancestor satisfies the check; list
 * fields with `in` need every element in the set, with `intersects` one.
 */
import type { BinaryCheckExpr, Expr, UnaryCheckExpr } from '../condition/ast.ts';
import { parseOperand } from '../condition/parser.ts';
import type { FieldAccessor, FieldExtractor, FieldValue, ScalarFieldValue } from '../extract.ts';
import { comparabilityError, isKnownEventType, parseConstant, resolveField } from '../fields/index.ts';
import { ConditionCompileError, type CompileWarning } from './errors.ts';
import { compileOperand, type CompiledOperand, type OperandContext } from './operand.ts';
import {
  baseOp,
  modifierTest,
  scalarTest,
  setTest,
  valueKindOf,
  type ScalarTest,
  type ValueKind,
} from './operators.ts';

export type CompiledCondition<E> = (event: E) => boolean;

const LIST_OPS = new Set(['in', 'intersects', 'pmatch']);

/** A single-valued check with a constant right side, described so the emitter can inline it. */
interface InlineCheck<E> {
  readonly get: FieldAccessor<E>;
  /** Canonical operand text: one accessor slot per distinct operand. */
  readonly text: string;
  readonly op: string;
  readonly kind: ValueKind;
  /** The parsed constant (single-value operators). */
  readonly constant?: ScalarFieldValue;
  /** The parsed constants (`in` / `intersects`). */
  readonly constants?: readonly ScalarFieldValue[];
  /** The same check as a scalar test, for operators emitted as a call. */
  readonly test: ScalarTest;
}

/** A compiled check: always runnable as a closure; inlinable when `inline` is set. */
interface Check<E> {
  readonly run: CompiledCondition<E>;
  readonly inline?: InlineCheck<E>;
}

/** Marks a field not read yet in this evaluation (`undefined` means "missing"). */
const NOT_READ: unique symbol = Symbol('not read');

/** Collects the values generated code refers to and builds the function. */
class Emitter<E> {
  private readonly values: unknown[] = [];
  private readonly accessors = new Map<string, string>();

  /** A name for a value the generated code uses (constant, Set, closure). */
  ref(value: unknown): string {
    this.values.push(value);
    return `k${this.values.length - 1}`;
  }

  /**
   * An expression reading an operand, at most once per evaluation: a rule
   * that names proc.pname thirty times through its macros calls the accessor
   * once, and not at all on a path that never reaches it.
   */
  read(text: string, get: FieldAccessor<E>): string {
    let name = this.accessors.get(text);
    if (name === undefined) {
      name = this.ref(get);
      this.accessors.set(text, name);
    }
    return `(r${name} === N ? (r${name} = ${name}(ev)) : r${name})`;
  }

  finish(body: string): CompiledCondition<E> {
    return this.build(`return ${body};`) as CompiledCondition<E>;
  }

  /** Builds `function (ev) { <statements> }` over the collected values; reads are shared by all statements. */
  build(statements: string): (event: E) => unknown {
    const declarations = this.values.map((_, i) => `const k${i} = k[${i}];`).join('\n');
    const reads = [...this.accessors.values()].map((name) => `r${name} = N`).join(', ');
    const source = `${declarations}
return function compiled(ev) {
  let v${reads ? `, ${reads}` : ''};
  ${statements}
};`;
    // The source holds only operators and generated names (see the module comment).
    const factory = new Function('k', 'N', source) as (k: unknown[], n: typeof NOT_READ) => (event: E) => unknown;
    return factory(this.values, NOT_READ);
  }
}

/**
 * Several conditions in one function, tried in order, sharing field reads:
 * what the engine runs per event type. Returns the index of the first
 * condition that holds, or -1.
 */
export function compileFirstMatch<E>(exprs: readonly Expr[], extractor: FieldExtractor<E>, knownType?: string): (event: E) => number {
  const em = new Emitter<E>();
  const ctx = { extractor, warnings: [] };
  const tests = exprs.map((expr, i) => `if (${emitNode(expr, ctx, em, knownType)}) return ${i};`);
  return em.build(`${tests.join('\n  ')}\n  return -1;`) as (event: E) => number;
}

/** Like compileFirstMatch, but every condition that holds: their indexes in order. */
export function compileAllMatches<E>(exprs: readonly Expr[], extractor: FieldExtractor<E>, knownType?: string): (event: E) => number[] {
  const em = new Emitter<E>();
  const ctx = { extractor, warnings: [] };
  const tests = exprs.map((expr, i) => `if (${emitNode(expr, ctx, em, knownType)}) out.push(${i});`);
  return em.build(`const out = [];\n  ${tests.join('\n  ')}\n  return out;`) as (event: E) => number[];
}

export function compileCondition<E>(
  expr: Expr,
  extractor: FieldExtractor<E>,
  warnings: CompileWarning[] = [],
): CompiledCondition<E> {
  const em = new Emitter<E>();
  return em.finish(emitNode(expr, { extractor, warnings }, em));
}

/**
 * `knownType`: the event type every event reaching this code has (the
 * engine compiles one function per type), so `evt.type` checks fold to
 * constants and V8 drops the branches they decide.
 */
function emitNode<E>(expr: Expr, ctx: OperandContext<E>, em: Emitter<E>, knownType?: string): string {
  switch (expr.kind) {
    case 'and':
      return `(${expr.children.map((c) => emitNode(c, ctx, em, knownType)).join(' && ')})`;
    case 'or':
      return `(${expr.children.map((c) => emitNode(c, ctx, em, knownType)).join(' || ')})`;
    case 'not':
      return `!${emitNode(expr.child, ctx, em, knownType)}`;
    case 'identifier':
      throw new ConditionCompileError(`Undefined macro '${expr.name}' used in filter.`, expr.pos);
    case 'unary': {
      const left = compileOperand(expr.left, ctx);
      if (!left.multi) return `(${em.read(left.text, left.get)} !== undefined)`;
      return `${em.ref(compileExists(left))}(ev)`;
    }
    case 'binary': {
      const check = compileBinary(expr, ctx);
      if (knownType !== undefined) {
        const folded = foldEventType(expr, knownType);
        if (folded !== undefined) return folded ? 'true' : 'false';
      }
      return check.inline ? emitInline(check.inline, em) : `${em.ref(check.run)}(ev)`;
    }
  }
}

/** The value of an `evt.type =|==|!=|in|intersects` check for events of type `type`; undefined for other checks. */
function foldEventType(expr: BinaryCheckExpr, type: string): boolean | undefined {
  if (expr.left.kind !== 'field' || expr.left.field !== 'evt.type' || expr.left.arg !== undefined) return undefined;
  const right = expr.right;
  const values = right.kind === 'list' ? right.values : right.kind === 'value' ? [right.value] : undefined;
  if (!values) return undefined;
  switch (expr.op) {
    case '=':
    case '==':
    case 'in':
    case 'intersects':
      return values.includes(type);
    case '!=':
      return !values.includes(type);
  }
  return undefined;
}

/** JS source for an inlinable check; `v` is the generated function's scratch variable. */
function emitInline<E>(c: InlineCheck<E>, em: Emitter<E>): string {
  const read = `(v = ${em.read(c.text, c.get)})`;
  const viaTest = `(${read} !== undefined && ${em.ref(c.test)}(v))`;
  if (c.kind === 'string') {
    if (c.op === 'in' || c.op === 'intersects') {
      const set = em.ref(new Set(c.constants!.map(String)));
      // Extractors give strings for string fields; anything else goes through the exact test.
      return `(typeof ${read} === 'string' ? ${set}.has(v) : v !== undefined && ${em.ref(c.test)}(v))`;
    }
    if (c.constant === undefined) return viaTest;
    const k = em.ref(String(c.constant));
    switch (c.op) {
      case '=':
      case '==':
        return `(typeof ${read} === 'string' ? v === ${k} : v !== undefined && ${em.ref(c.test)}(v))`;
      case '!=':
        return `(typeof ${read} === 'string' ? v !== ${k} : v !== undefined && ${em.ref(c.test)}(v))`;
      case 'contains':
        return `(typeof ${read} === 'string' ? v.includes(${k}) : v !== undefined && ${em.ref(c.test)}(v))`;
      case 'startswith':
        return `(typeof ${read} === 'string' ? v.startsWith(${k}) : v !== undefined && ${em.ref(c.test)}(v))`;
      case 'endswith':
        return `(typeof ${read} === 'string' ? v.endsWith(${k}) : v !== undefined && ${em.ref(c.test)}(v))`;
    }
    return viaTest;
  }
  if ((c.kind === 'numeric' || c.kind === 'boolean') && c.constant !== undefined) {
    const k = em.ref(c.constant);
    // Loose operators on purpose: a bigint constant equals the same number.
    const js: Record<string, string> = { '=': '==', '==': '==', '!=': '!=', '<': '<', '<=': '<=', '>': '>', '>=': '>=' };
    const op = js[c.op];
    if (op) return `(${read} !== undefined && v ${op} ${k})`;
  }
  return viaTest;
}

/** `exists` on a multi-valued operand: some value (an empty list is none). */
function compileExists<E>(left: CompiledOperand<E>): CompiledCondition<E> {
  const get = left.get;
  return (ev) => {
    const v = get(ev);
    return v !== undefined && (!Array.isArray(v) || v.length > 0);
  };
}

function parseValue(left: Pick<CompiledOperand<unknown>, 'type' | 'text'>, raw: string, pos: Expr['pos']): ScalarFieldValue {
  try {
    return parseConstant(left.type, raw);
  } catch (e) {
    throw new ConditionCompileError(`${(e as Error).message} (comparing '${left.text}')`, pos);
  }
}

function checkEventTypes(left: Pick<CompiledOperand<unknown>, 'field'>, values: readonly string[], pos: Expr['pos']): void {
  if (left.field?.name !== 'evt.type') return;
  for (const v of values) {
    if (!isKnownEventType(v)) throw new ConditionCompileError(`unknown event type ${v}`, pos);
  }
}

/**
 * Falco warns when a constant is spelled like a field or a transformer
 * (`proc.name = proc.pname` compares with the text "proc.pname"): the value,
 * trimmed, parses as one and names a known field.
 */
function warnFieldLikeConstants(values: readonly string[], pos: Expr['pos'], warnings: CompileWarning[]): void {
  for (const v of values) {
    const trimmed = v.trim();
    if (!trimmed.includes('.')) continue;
    let operand;
    try {
      operand = parseOperand(trimmed);
      if (operand.kind === 'field') resolveField(operand.field, operand.arg);
    } catch {
      continue;
    }
    const what = operand.kind === 'field' ? 'field' : 'field transformer';
    const fix = operand.kind === 'field' ? `; use val(${trimmed}) to compare with the field` : '';
    warnings.push({
      code: 'LOAD_COMPILE_CONDITION',
      message: `'${v}' may be a valid ${what} misused as a const string value${fix}`,
      pos,
    });
  }
}

function compileBinary<E>(expr: BinaryCheckExpr, ctx: OperandContext<E>): Check<E> {
  const left = compileOperand(expr.left, ctx);
  const kind = valueKindOf(left.type);
  const op = expr.op;
  const base = baseOp(op);
  const modifier = op.includes(' ') ? op.slice(op.indexOf(' ') + 1) : undefined;
  const notComparable = comparabilityError(left.type, base, left.multi && !left.anyElement);
  if (notComparable) throw new ConditionCompileError(`${notComparable} (field '${left.text}')`, expr.pos);
  const right = expr.right;

  if (right.kind === 'field' || right.kind === 'transformer') {
    if (right.kind === 'field') {
      throw new ConditionCompileError(`a field on the right-hand side must be wrapped in val(): val(${right.field})`, right.pos);
    }
    if (base === 'pmatch' || base === 'regex' || kind === 'ip network') {
      throw new ConditionCompileError(`'${op}' doesn't support right-hand side fields`, right.pos);
    }
    return { run: compileFieldToField(left, op, kind, compileOperand(right, ctx)) };
  }

  let test: ScalarTest;
  let inline: Omit<InlineCheck<E>, 'test'> | undefined;
  if (modifier !== undefined) {
    const values = right.kind === 'list' ? right.values : [right.value];
    checkEventTypes(left, values, expr.pos);
    test = modifierTest(modifier, values.map((v) => scalarTest(base, kind, parseValue(left, v, right.pos))));
  } else if (LIST_OPS.has(base)) {
    const values = right.kind === 'list' ? right.values : [right.value];
    checkEventTypes(left, values, expr.pos);
    warnFieldLikeConstants(values, right.pos, ctx.warnings);
    const constants = values.map((v) => parseValue(left, v, right.pos));
    test = setTest(base, kind, constants);
    if (left.multi && !left.anyElement) return { run: listFieldCheck(left, base, test) };
    if (base !== 'pmatch') inline = { get: left.get, text: left.text, op: base, kind, constants };
  } else {
    if (right.kind === 'list') throw new ConditionCompileError(`operator '${op}' does not take a list`, right.pos);
    checkEventTypes(left, [right.value], expr.pos);
    warnFieldLikeConstants([right.value], right.pos, ctx.warnings);
    try {
      const constant = parseValue(left, right.value, right.pos);
      test = scalarTest(base, kind, constant);
      inline = { get: left.get, text: left.text, op: base, kind, constant };
    } catch (e) {
      if (e instanceof ConditionCompileError && !e.pos) throw new ConditionCompileError(e.message, right.pos);
      throw e;
    }
  }
  if (inline && !left.multi) return { run: wrapMissing(left, test), inline: { ...inline, test } };
  return { run: wrapMissing(left, test) };
}

/** Applies a scalar test to the extracted value: false when missing, any element for ancestor/multi values. */
function wrapMissing<E>(left: CompiledOperand<E>, test: ScalarTest): CompiledCondition<E> {
  const get = left.get;
  if (!left.multi) {
    return (ev) => {
      const v = get(ev);
      return v !== undefined && test(v as ScalarFieldValue);
    };
  }
  return (ev) => anyMatches(get(ev), test);
}

function anyMatches(v: FieldValue, test: ScalarTest): boolean {
  if (v === undefined) return false;
  if (!Array.isArray(v)) return test(v as ScalarFieldValue);
  for (const x of v) if (test(x)) return true;
  return false;
}

/** List-valued field (e.g. container.mounts): `in` = every element in the set, `intersects` = some. */
function listFieldCheck<E>(left: CompiledOperand<E>, op: string, memberTest: ScalarTest): CompiledCondition<E> {
  const get = left.get;
  if (op === 'in') {
    return (ev) => {
      const v = get(ev);
      if (v === undefined) return false;
      if (!Array.isArray(v)) return memberTest(v as ScalarFieldValue);
      if (v.length === 0) return false;
      for (const x of v) if (!memberTest(x)) return false;
      return true;
    };
  }
  return (ev) => anyMatches(get(ev), memberTest);
}

/** `left op val(right)` or `left op transformer(...)`: the right value is read per event. */
function compileFieldToField<E>(
  left: CompiledOperand<E>,
  op: string,
  kind: ValueKind,
  right: CompiledOperand<E>,
): CompiledCondition<E> {
  const getL = left.get;
  const getR = right.get;
  const base = baseOp(op);
  return (ev) => {
    const l = getL(ev);
    const r = getR(ev);
    if (l === undefined || r === undefined) return false;
    const rightValues: readonly ScalarFieldValue[] = Array.isArray(r) ? r : [r as ScalarFieldValue];
    const test = LIST_OPS.has(base) ? setTest(base, kind, rightValues) : scalarTest(base, kind, rightValues[0]!);
    return anyMatches(l, test);
  };
}
