/**
 * The condition AST, shaped like libs' `filter/ast.h` so that the canonical
 * string (`asString`, Falco's `condition_compiled`) comes out byte for byte.
 */

/** Position of a node's first character: idx from 0, line and col from 1. */
export interface Pos {
  readonly idx: number;
  readonly line: number;
  readonly col: number;
}

export interface AndExpr {
  readonly kind: 'and';
  readonly children: Expr[];
  readonly pos: Pos;
}
export interface OrExpr {
  readonly kind: 'or';
  readonly children: Expr[];
  readonly pos: Pos;
}
export interface NotExpr {
  readonly kind: 'not';
  readonly child: Expr;
  readonly pos: Pos;
}
/** A bare name in boolean position: a macro reference until the loader resolves it. */
export interface IdentifierExpr {
  readonly kind: 'identifier';
  readonly name: string;
  readonly pos: Pos;
}
/** `field exists`. */
export interface UnaryCheckExpr {
  readonly kind: 'unary';
  readonly left: FieldOrTransformer;
  readonly op: 'exists';
  readonly pos: Pos;
}
/** `left op right`, e.g. `proc.name in (a, b)`, `fd.name startswith /etc`, `a.b = val(c.d)`. */
export interface BinaryCheckExpr {
  readonly kind: 'binary';
  readonly left: FieldOrTransformer;
  /** The operator as written, e.g. `=`, `in`, `contains`; with a modifier: `= oneof`. */
  readonly op: string;
  readonly right: ValueExpr | ListExpr | FieldOrTransformer;
  readonly pos: Pos;
}
/** A field, optionally with `[arg]`. Dotted args stay in the name (`evt.arg.flags`). */
export interface FieldExpr {
  readonly kind: 'field';
  readonly field: string;
  readonly arg?: string;
  readonly pos: Pos;
}
/** `tolower(x)`, `join("-", (a, b))`, `getopt(proc.args, "nt:")[t]`, and `val(x)` on the right side. */
export interface TransformerExpr {
  readonly kind: 'transformer';
  readonly transformer: string;
  readonly values: Array<FieldOrTransformer | ValueExpr | TransformerListExpr>;
  readonly arg?: string;
  readonly pos: Pos;
}
/** `(a, b)` as a transformer argument. */
export interface TransformerListExpr {
  readonly kind: 'transformer_list';
  readonly children: Array<FieldOrTransformer | ValueExpr>;
  readonly pos: Pos;
}
/** A constant: a bare or (already unescaped) quoted string, or a number as written. */
export interface ValueExpr {
  readonly kind: 'value';
  readonly value: string;
  readonly pos: Pos;
}
/** `(v1, v2)` after `in`, `intersects`, `pmatch` or a modifier. */
export interface ListExpr {
  readonly kind: 'list';
  readonly values: string[];
  readonly pos: Pos;
}

export type FieldOrTransformer = FieldExpr | TransformerExpr;
export type Expr = AndExpr | OrExpr | NotExpr | IdentifierExpr | UnaryCheckExpr | BinaryCheckExpr;
