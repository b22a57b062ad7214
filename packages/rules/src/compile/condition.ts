/**
 * Compiles a resolved condition AST (lists substituted, macros expanded) into
 * one closure per node: `(event) => boolean`. No tree walk per event.
 *
 * Semantics follow libs: a check on a value that cannot be extracted is false
 * for every operator (`!=` included); `and`/`or` short-circuit; ancestor
 * fields without an index match when any ancestor satisfies the check; list
 * fields with `in` need every element in the set, with `intersects` one.
 */
import type { BinaryCheckExpr, Expr, UnaryCheckExpr } from '../condition/ast.ts';
import { parseOperand } from '../condition/parser.ts';
import type { FieldExtractor, FieldValue, ScalarFieldValue } from '../extract.ts';
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

export function compileCondition<E>(
  expr: Expr,
  extractor: FieldExtractor<E>,
  warnings: CompileWarning[] = [],
): CompiledCondition<E> {
  return compileNode(expr, { extractor, warnings });
}

function compileNode<E>(expr: Expr, ctx: OperandContext<E>): CompiledCondition<E> {
  switch (expr.kind) {
    case 'and': {
      const parts = expr.children.map((c) => compileNode(c, ctx));
      if (parts.length === 2) {
        const [a, b] = parts as [CompiledCondition<E>, CompiledCondition<E>];
        return (ev) => a(ev) && b(ev);
      }
      return (ev) => {
        for (const p of parts) if (!p(ev)) return false;
        return true;
      };
    }
    case 'or': {
      const parts = expr.children.map((c) => compileNode(c, ctx));
      if (parts.length === 2) {
        const [a, b] = parts as [CompiledCondition<E>, CompiledCondition<E>];
        return (ev) => a(ev) || b(ev);
      }
      return (ev) => {
        for (const p of parts) if (p(ev)) return true;
        return false;
      };
    }
    case 'not': {
      const inner = compileNode(expr.child, ctx);
      return (ev) => !inner(ev);
    }
    case 'identifier':
      throw new ConditionCompileError(`Undefined macro '${expr.name}' used in filter.`, expr.pos);
    case 'unary':
      return compileExists(expr, ctx);
    case 'binary':
      return compileBinary(expr, ctx);
  }
}

function compileExists<E>(expr: UnaryCheckExpr, ctx: OperandContext<E>): CompiledCondition<E> {
  const left = compileOperand(expr.left, ctx);
  const get = left.get;
  if (left.multi) {
    return (ev) => {
      const v = get(ev);
      return v !== undefined && (!Array.isArray(v) || v.length > 0);
    };
  }
  return (ev) => get(ev) !== undefined;
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

function compileBinary<E>(expr: BinaryCheckExpr, ctx: OperandContext<E>): CompiledCondition<E> {
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
    if (base === 'pmatch' || base === 'regex' || kind === 'ipnet') {
      throw new ConditionCompileError(`'${op}' doesn't support right-hand side fields`, right.pos);
    }
    return compileFieldToField(left, op, kind, compileOperand(right, ctx));
  }

  let test: ScalarTest;
  if (modifier !== undefined) {
    const values = right.kind === 'list' ? right.values : [right.value];
    checkEventTypes(left, values, expr.pos);
    test = modifierTest(modifier, values.map((v) => scalarTest(base, kind, parseValue(left, v, right.pos))));
  } else if (LIST_OPS.has(base)) {
    const values = right.kind === 'list' ? right.values : [right.value];
    checkEventTypes(left, values, expr.pos);
    warnFieldLikeConstants(values, right.pos, ctx.warnings);
    test = setTest(base, kind, values.map((v) => parseValue(left, v, right.pos)));
    if (left.multi && !left.anyElement) return listFieldCheck(left, base, test);
  } else {
    if (right.kind === 'list') throw new ConditionCompileError(`operator '${op}' does not take a list`, right.pos);
    checkEventTypes(left, [right.value], expr.pos);
    warnFieldLikeConstants([right.value], right.pos, ctx.warnings);
    try {
      test = scalarTest(base, kind, parseValue(left, right.value, right.pos));
    } catch (e) {
      if (e instanceof ConditionCompileError && !e.pos) throw new ConditionCompileError(e.message, right.pos);
      throw e;
    }
  }
  return wrapMissing(left, test);
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
