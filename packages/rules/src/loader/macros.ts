/**
 * Macro resolution on the AST (Falco `filter_macro_resolver`): every
 * identifier in boolean position is replaced by the macro's condition,
 * recursively; a macro reached again on its own path is a reference loop.
 * ASTs are immutable, so a macro's tree is shared rather than cloned.
 *
 * Linear in the size of the input tree: a tree already known to hold no
 * identifier (for example a macro resolved earlier) is returned without being
 * walked again, and within one resolution each macro is expanded once. Without
 * both, a chain of N macros each using the previous one costs O(N²) and
 * recurses N deep.
 */
import type { Expr, Pos } from '../condition/ast.ts';

export interface MacroResolution {
  readonly expr: Expr;
  /** Names of every macro substituted (directly or nested). */
  readonly resolved: ReadonlySet<string>;
  /** The first loop error, if any (it wins over unknown macros, as in Falco). */
  readonly error?: { message: string; pos: Pos };
  /** Unknown identifiers, by name, with the position of their first use. */
  readonly unknown: ReadonlyMap<string, Pos>;
}

/** The macros a condition may use, by name (a Map, or a view deciding visibility on lookup). */
export interface MacroLookup {
  get(name: string): Expr | undefined;
}

/**
 * Trees (by identity) that contain no identifier in boolean position: nothing
 * to resolve inside. Sound across calls because ASTs are never mutated.
 */
const identifierFree = new WeakSet<Expr>();

/** Work counters, for tests that check resolution stays linear. */
export const macroResolutionStats = { nodesVisited: 0 };

export function resolveMacros(expr: Expr, macros: MacroLookup): MacroResolution {
  const resolved = new Set<string>();
  const unknown = new Map<string, Pos>();
  const onPath = new Set<string>();
  // A macro expanded without error expands the same way wherever it is used
  // again in this call (a loop through it would have shown on its first
  // expansion), so its result is reused.
  const expanded = new Map<string, Expr>();
  let error: { message: string; pos: Pos } | undefined;

  const visit = (e: Expr): Expr => {
    if (identifierFree.has(e)) return e;
    macroResolutionStats.nodesVisited++;
    switch (e.kind) {
      case 'and':
      case 'or': {
        let changed = false;
        let free = true;
        const children = e.children.map((c) => {
          const n = visit(c);
          if (n !== c) changed = true;
          if (!identifierFree.has(n)) free = false;
          return n;
        });
        const out = changed ? { ...e, children } : e;
        if (free) identifierFree.add(out);
        return out;
      }
      case 'not': {
        const child = visit(e.child);
        const out = child !== e.child ? { ...e, child } : e;
        if (identifierFree.has(child)) identifierFree.add(out);
        return out;
      }
      case 'identifier': {
        const done = expanded.get(e.name);
        if (done !== undefined) return done;
        const body = macros.get(e.name);
        if (body === undefined) {
          if (!unknown.has(e.name)) unknown.set(e.name, e.pos);
          return e;
        }
        if (onPath.has(e.name)) {
          error ??= { message: `reference loop in macro '${e.name}'`, pos: e.pos };
          return e;
        }
        onPath.add(e.name);
        const hadError = error !== undefined;
        const out = visit(body);
        resolved.add(e.name);
        onPath.delete(e.name);
        if (!hadError && error === undefined) expanded.set(e.name, out);
        return out;
      }
      default:
        // Checks and other leaves hold no boolean-position identifier.
        identifierFree.add(e);
        return e;
    }
  };

  const out = visit(expr);
  return error ? { expr: out, resolved, error, unknown } : { expr: out, resolved, unknown };
}

/** Falco reports the alphabetically first unknown macro (its std::map order). */
export function firstUnknown(unknown: ReadonlyMap<string, Pos>): [string, Pos] | undefined {
  let best: [string, Pos] | undefined;
  for (const [name, pos] of unknown) if (!best || name < best[0]) best = [name, pos];
  return best;
}

export interface ExpansionShape {
  /** Nesting of and/or/not nodes (a lone check is depth 0). */
  readonly depth: number;
  /** Nodes of the tree as written out (shared macro trees counted at every use). */
  readonly size: number;
}

/**
 * Depth and size of a resolved condition, without recursion (chained macros
 * nest arbitrarily deep) and linear in the number of distinct nodes (a macro
 * used twice in each of N chained macros expands to 2^N nodes; the size says
 * so without walking them).
 */
export function expansionShape(expr: Expr): ExpansionShape {
  const shapes = new Map<Expr, ExpansionShape>();
  const childrenOf = (e: Expr): readonly Expr[] =>
    e.kind === 'and' || e.kind === 'or' ? e.children : e.kind === 'not' ? [e.child] : [];
  const stack: Expr[] = [expr];
  while (stack.length > 0) {
    const e = stack[stack.length - 1]!;
    if (shapes.has(e)) {
      stack.pop();
      continue;
    }
    const children = childrenOf(e);
    const pending = children.filter((c) => !shapes.has(c));
    if (pending.length > 0) {
      stack.push(...pending);
      continue;
    }
    stack.pop();
    let depth = 0;
    let size = 1;
    for (const c of children) {
      const s = shapes.get(c)!;
      depth = Math.max(depth, s.depth + 1);
      // Saturates rather than overflowing into Infinity precision loss: any
      // value past the caller's limit is as bad as any other.
      size = Math.min(size + s.size, Number.MAX_SAFE_INTEGER);
    }
    shapes.set(e, { depth, size });
  }
  return shapes.get(expr)!;
}
