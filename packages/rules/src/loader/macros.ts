/**
 * Macro resolution on the AST (Falco `filter_macro_resolver`): every
 * identifier in boolean position is replaced by the macro's condition,
 * recursively; a macro reached again on its own path is a reference loop.
 * ASTs are immutable, so a macro's tree is shared rather than cloned.
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

export function resolveMacros(expr: Expr, macros: ReadonlyMap<string, Expr>): MacroResolution {
  const resolved = new Set<string>();
  const unknown = new Map<string, Pos>();
  const path: string[] = [];
  let error: { message: string; pos: Pos } | undefined;

  const visit = (e: Expr): Expr => {
    switch (e.kind) {
      case 'and':
      case 'or': {
        let changed = false;
        const children = e.children.map((c) => {
          const n = visit(c);
          if (n !== c) changed = true;
          return n;
        });
        return changed ? { ...e, children } : e;
      }
      case 'not': {
        const child = visit(e.child);
        return child !== e.child ? { ...e, child } : e;
      }
      case 'identifier': {
        const body = macros.get(e.name);
        if (body === undefined) {
          if (!unknown.has(e.name)) unknown.set(e.name, e.pos);
          return e;
        }
        if (path.includes(e.name)) {
          error ??= { message: `reference loop in macro '${e.name}'`, pos: e.pos };
          return e;
        }
        path.push(e.name);
        const out = visit(body);
        resolved.add(e.name);
        path.pop();
        return out;
      }
      default:
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
