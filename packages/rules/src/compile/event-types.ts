/**
 * The set of event types a condition can match (libs `ppm_codes.cpp`
 * algebra): `and` intersects, `or` unions, `not` is pushed to the leaves by
 * De Morgan, `evt.type =|==|!=|in` define sets, every other check is neutral
 * (any type), and `evt.num = 0` (the `never_true` macro) matches nothing.
 * Used to index rules by type and to tell the probe which syscalls matter.
 */
import type { Expr } from '../condition/ast.ts';

/** A set of event types, or its complement ("every type except …"). */
interface TypeSet {
  readonly complement: boolean;
  readonly names: ReadonlySet<string>;
}

const ALL: TypeSet = { complement: true, names: new Set() };
const NONE: TypeSet = { complement: false, names: new Set() };

function intersect(a: TypeSet, b: TypeSet): TypeSet {
  if (!a.complement && !b.complement) return { complement: false, names: new Set([...a.names].filter((n) => b.names.has(n))) };
  if (a.complement && b.complement) return { complement: true, names: new Set([...a.names, ...b.names]) };
  const [pos, neg] = a.complement ? [b, a] : [a, b];
  return { complement: false, names: new Set([...pos.names].filter((n) => !neg.names.has(n))) };
}

function union(a: TypeSet, b: TypeSet): TypeSet {
  if (!a.complement && !b.complement) return { complement: false, names: new Set([...a.names, ...b.names]) };
  if (a.complement && b.complement) return { complement: true, names: new Set([...a.names].filter((n) => b.names.has(n))) };
  const [pos, neg] = a.complement ? [b, a] : [a, b];
  return { complement: true, names: new Set([...neg.names].filter((n) => !pos.names.has(n))) };
}

function negate(s: TypeSet): TypeSet {
  return { complement: !s.complement, names: s.names };
}

function leaf(expr: Expr): TypeSet {
  if (expr.kind !== 'binary' || expr.left.kind !== 'field') return ALL;
  const field = expr.left.arg === undefined ? expr.left.field : undefined;
  const values = expr.right.kind === 'list' ? expr.right.values : expr.right.kind === 'value' ? [expr.right.value] : undefined;
  if (!values) return ALL;
  if (field === 'evt.type') {
    const names = new Set(values);
    switch (expr.op) {
      case '=':
      case '==':
      case 'in':
        return { complement: false, names };
      case '!=':
        return { complement: true, names };
    }
    return ALL;
  }
  if (field === 'evt.num' && (expr.op === '=' || expr.op === '==') && values.length === 1 && values[0] === '0') return NONE;
  return ALL;
}

function typesOf(expr: Expr, negated: boolean): TypeSet {
  switch (expr.kind) {
    case 'and':
    case 'or': {
      const useIntersect = (expr.kind === 'and') !== negated;
      return expr.children.map((c) => typesOf(c, negated)).reduce(useIntersect ? intersect : union);
    }
    case 'not':
      return typesOf(expr.child, !negated);
    default: {
      const s = leaf(expr);
      // A neutral check stays neutral under negation; only evt.type/evt.num sets flip.
      if (s === ALL) return ALL;
      return negated ? negate(s) : s;
    }
  }
}

/** The event types `expr` can match: a finite set, or `'all'` when it is not restricted (or only by exclusion). */
export function eventTypesOf(expr: Expr): ReadonlySet<string> | 'all' {
  const s = typesOf(expr, false);
  return s.complement ? 'all' : s.names;
}
