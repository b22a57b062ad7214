/**
 * The condition parser: a hand-written recursive-descent port of the libs
 * grammar (`userspace/libsinsp/filter/parser.h`, libs 0.25). Lexing is done
 * by anchored regexes at the cursor with no backtracking across keywords, as
 * in libs, so the same strings are accepted and rejected.
 */
import type {
  BinaryCheckExpr,
  Expr,
  FieldExpr,
  FieldOrTransformer,
  ListExpr,
  Pos,
  TransformerExpr,
  TransformerListExpr,
  ValueExpr,
} from './ast.ts';
import { EscapeError, unescapeQuoted } from './escaping.ts';

export class ConditionSyntaxError extends Error {
  constructor(
    message: string,
    readonly pos: Pos,
  ) {
    super(message);
    this.name = 'ConditionSyntaxError';
  }
}

export interface ParseOptions {
  /** Nesting cap; Falco configures 1000 for rule conditions. */
  readonly maxDepth?: number;
}

/** Transformers allowed on either side; `val(` is right-hand only. */
export const TRANSFORMERS = ['tolower', 'toupper', 'b64', 'basename', 'len', 'join', 'concat', 'getopt'] as const;

const RE = {
  notBlank: /not[ \t\n\v\f\r]+/y,
  identifier: /[a-zA-Z]+[a-zA-Z0-9_]*/y,
  fieldName: /[a-zA-Z]+[a-zA-Z0-9_]*(?:\.[a-zA-Z]+[a-zA-Z0-9_]*)+/y,
  fieldArgBare: /[^\][\"'\s]+/y,
  hexNumber: /0[xX][0-9a-fA-F]+/y,
  number: /[+\-]?[0-9]+\.?[0-9]*(?:[eE][+\-][0-9]+)?/y,
  bareString: /[^()"'\s=,]+/y,
  transformer: /(tolower|toupper|b64|basename|len|join|concat|getopt)\(/y,
  val: /val\(/y,
  numOp: /<=|<|>=|>/y,
  symbolStrOp: /==|=|!=/y,
  wordStrOp: /(bcontains|bstartswith|contains|endswith|glob|icontains|iglob|startswith|regex)(?=[ \t\n\v\f\r])/y,
  listOp: /intersects|in|pmatch/y,
  modifier: /(oneof|anyof|allof)[ \t\n\v\f\r]+/y,
};

const BLANKS = new Set([' ', '\t', '\b', '\r', '\n']);

class Parser {
  private idx = 0;
  private line = 1;
  private col = 1;
  private depth = 0;
  private lastToken = '';

  constructor(
    private readonly input: string,
    private readonly maxDepth: number,
  ) {}

  parse(): Expr {
    if (this.input.length === 0) this.fail('filter input string is empty');
    const expr = this.parseOr();
    this.lexBlank();
    if (this.idx < this.input.length) {
      this.fail(`unexpected token after '${this.lastToken}', expecting 'or', 'and'`);
    }
    return expr;
  }

  /** Parses exactly one field or transformer occupying the whole input (output format tokens). */
  parseOperandOnly(): FieldOrTransformer {
    const operand = this.parseFieldOrTransformer();
    if (!operand || this.idx < this.input.length) this.fail('expected a field or a transformer');
    return operand;
  }

  // ---- positions and low-level lexing -----------------------------------

  private pos(): Pos {
    return { idx: this.idx, line: this.line, col: this.col };
  }

  private advance(n: number): void {
    for (let i = 0; i < n; i++) {
      const c = this.input[this.idx++];
      if (c === '\n' || c === '\r') {
        this.line++;
        this.col = 1;
      } else {
        this.col++;
      }
    }
  }

  private restore(p: Pos): void {
    this.idx = p.idx;
    this.line = p.line;
    this.col = p.col;
  }

  private fail(message: string, at: Pos = this.pos()): never {
    throw new ConditionSyntaxError(message, at);
  }

  private lexBlank(): boolean {
    const start = this.idx;
    while (this.idx < this.input.length && BLANKS.has(this.input[this.idx]!)) this.advance(1);
    return this.idx > start;
  }

  private lexRegex(re: RegExp): string | undefined {
    re.lastIndex = this.idx;
    const m = re.exec(this.input);
    if (!m) return undefined;
    this.lastToken = m[0];
    this.advance(m[0].length);
    return m[0];
  }

  private lexString(s: string): boolean {
    if (!this.input.startsWith(s, this.idx)) return false;
    this.lastToken = s;
    this.advance(s.length);
    return true;
  }

  private peek(s: string): boolean {
    return this.input.startsWith(s, this.idx);
  }

  /** A quoted string token: ends at the first matching quote not preceded by a backslash. */
  private lexQuoted(): string | undefined {
    const quote = this.input[this.idx];
    if (quote !== '"' && quote !== "'") return undefined;
    let end = this.idx + 1;
    while (end < this.input.length) {
      if (this.input[end] === quote && this.input[end - 1] !== '\\') break;
      end++;
    }
    if (end >= this.input.length) return undefined;
    const token = this.input.slice(this.idx, end + 1);
    const at = this.pos();
    let value: string;
    try {
      value = unescapeQuoted(token);
    } catch (e) {
      if (e instanceof EscapeError) this.fail(e.message, at);
      throw e;
    }
    this.lastToken = token;
    this.advance(token.length);
    return value;
  }

  private enter(): void {
    if (++this.depth > this.maxDepth) this.fail(`exceeded max depth limit of ${this.maxDepth}`);
  }

  private leave(): void {
    this.depth--;
  }

  // ---- boolean structure ---------------------------------------------------

  private parseOr(): Expr {
    this.enter();
    this.lexBlank();
    const pos = this.pos();
    const children = [this.parseAnd()];
    this.lexBlank();
    while (this.lexString('or')) {
      if (!this.lexBlank() && !this.peek('(')) this.fail("expected blank or '(' after 'or'");
      children.push(this.parseAnd());
      this.lexBlank();
    }
    this.leave();
    return children.length === 1 ? children[0]! : { kind: 'or', children, pos };
  }

  private parseAnd(): Expr {
    this.enter();
    this.lexBlank();
    const pos = this.pos();
    const children = [this.parseNot()];
    this.lexBlank();
    while (this.lexString('and')) {
      if (!this.lexBlank() && !this.peek('(')) this.fail("expected blank or '(' after 'and'");
      children.push(this.parseNot());
      this.lexBlank();
    }
    this.leave();
    return children.length === 1 ? children[0]! : { kind: 'and', children, pos };
  }

  private parseNot(): Expr {
    this.enter();
    this.lexBlank();
    const pos = this.pos();
    // A run of `not`s collapses by parity, as libs does.
    let negated = false;
    for (;;) {
      if (this.lexRegex(RE.notBlank) !== undefined) {
        negated = !negated;
        continue;
      }
      if (this.peek('not(')) {
        this.advance(3);
        negated = !negated;
      }
      break;
    }
    const child = this.parseCheck();
    this.leave();
    return negated ? { kind: 'not', child, pos } : child;
  }

  private parseCheck(): Expr {
    this.enter();
    this.lexBlank();
    const pos = this.pos();
    if (this.lexString('(')) {
      const inner = this.parseOr();
      this.lexBlank();
      if (!this.lexString(')')) this.fail("expected a ')' token");
      this.leave();
      return inner;
    }
    const left = this.parseFieldOrTransformer();
    if (left) {
      const check = this.parseCondition(left, pos);
      this.leave();
      return check;
    }
    const name = this.lexRegex(RE.identifier);
    if (name !== undefined) {
      this.leave();
      return { kind: 'identifier', name, pos };
    }
    this.fail("expected a '(' token, a field check, or an identifier");
  }

  // ---- operands --------------------------------------------------------------

  /** FIELDNAME[arg] or a transformer (`tolower(`…); undefined when neither starts here. */
  private parseFieldOrTransformer(): FieldOrTransformer | undefined {
    const pos = this.pos();
    const field = this.lexRegex(RE.fieldName);
    if (field !== undefined) return this.finishField(field, pos);
    const t = this.lexRegex(RE.transformer);
    if (t !== undefined) return this.finishTransformer(t.slice(0, -1), pos);
    return undefined;
  }

  private finishField(field: string, pos: Pos): FieldExpr {
    const arg = this.parseFieldArg();
    return arg === undefined ? { kind: 'field', field, pos } : { kind: 'field', field, arg, pos };
  }

  private parseFieldArg(): string | undefined {
    if (!this.lexString('[')) return undefined;
    let arg = this.lexQuoted();
    if (arg === undefined) arg = this.lexRegex(RE.fieldArgBare);
    if (arg === undefined) this.fail('expected a valid field argument: a quoted string or a bare string');
    if (!this.lexString(']')) this.fail("expected a ']' token");
    return arg;
  }

  private finishTransformer(transformer: string, pos: Pos): TransformerExpr {
    this.enter();
    const values: TransformerExpr['values'] = [];
    for (;;) {
      this.lexBlank();
      const argPos = this.pos();
      if (this.lexString('(')) {
        values.push(this.parseTransformerList(argPos));
      } else {
        const arg = this.parseTransformerScalarArg();
        if (!arg) this.fail('expected a field, a transformer, a quoted string, a number or a list as transformer argument');
        values.push(arg);
      }
      this.lexBlank();
      if (this.lexString(',')) continue;
      if (this.lexString(')')) break;
      this.fail("expected a ',' or ')' token");
    }
    const arg = this.parseFieldArg();
    this.leave();
    return arg === undefined
      ? { kind: 'transformer', transformer, values, pos }
      : { kind: 'transformer', transformer, values, arg, pos };
  }

  /** Field | FieldTransformer | QuotedStr | NumValue. */
  private parseTransformerScalarArg(): FieldOrTransformer | ValueExpr | undefined {
    const pos = this.pos();
    const operand = this.parseFieldOrTransformer();
    if (operand) return operand;
    const quoted = this.lexQuoted();
    if (quoted !== undefined) return { kind: 'value', value: quoted, pos };
    const num = this.lexRegex(RE.hexNumber) ?? this.lexRegex(RE.number);
    if (num !== undefined) return { kind: 'value', value: num, pos };
    return undefined;
  }

  private parseTransformerList(pos: Pos): TransformerListExpr {
    const children: TransformerListExpr['children'] = [];
    this.lexBlank();
    if (this.lexString(')')) return { kind: 'transformer_list', children, pos };
    for (;;) {
      this.lexBlank();
      const arg = this.parseTransformerScalarArg();
      if (!arg) this.fail('expected a field, a transformer, a quoted string or a number in transformer list');
      children.push(arg);
      this.lexBlank();
      if (this.lexString(',')) continue;
      if (this.lexString(')')) return { kind: 'transformer_list', children, pos };
      this.fail("expected a ',' or ')' token");
    }
  }

  /** `val(field)` or a transformer, for the right-hand side. */
  private parseRhsOperand(): FieldOrTransformer | undefined {
    const pos = this.pos();
    if (this.lexRegex(RE.val) !== undefined) {
      this.lexBlank();
      const fpos = this.pos();
      const name = this.lexRegex(RE.fieldName);
      if (name === undefined) this.fail('expected a field name inside val()');
      const field = this.finishField(name, fpos);
      this.lexBlank();
      if (!this.lexString(')')) this.fail("expected a ')' token");
      return { kind: 'transformer', transformer: 'val', values: [field], pos };
    }
    const t = this.lexRegex(RE.transformer);
    if (t !== undefined) return this.finishTransformer(t.slice(0, -1), pos);
    return undefined;
  }

  // ---- conditions ----------------------------------------------------------

  private parseCondition(left: FieldOrTransformer, pos: Pos): Expr {
    this.lexBlank();
    if (this.lexString('exists')) return { kind: 'unary', left, op: 'exists', pos };

    const numOp = this.lexRegex(RE.numOp);
    if (numOp !== undefined) {
      this.lexBlank();
      return this.binary(left, numOp, this.parseRhsOperand() ?? this.parseNumValue(), pos);
    }

    const strOp = this.lexRegex(RE.symbolStrOp) ?? this.lexRegex(RE.wordStrOp);
    if (strOp !== undefined) {
      // A modifier needs a blank between it and the operator (`==oneof` is a value).
      const modified = this.lexBlank() ? this.parseModifier() : undefined;
      if (modified) return this.binary(left, `${strOp} ${modified.modifier}`, modified.list, pos);
      return this.binary(left, strOp, this.parseRhsOperand() ?? this.parseStrValue(), pos);
    }

    const listOp = this.lexRegex(RE.listOp);
    if (listOp !== undefined) {
      this.lexBlank();
      return this.binary(left, listOp, this.parseRhsOperand() ?? this.parseListValue(), pos);
    }
    this.fail('expected a valid operator');
  }

  private binary(left: FieldOrTransformer, op: string, right: BinaryCheckExpr['right'], pos: Pos): BinaryCheckExpr {
    return { kind: 'binary', left, op, right, pos };
  }

  /** `oneof|anyof|allof` + blank, recognised only before `(` or an identifier other than and/or/not. */
  private parseModifier(): { modifier: string; list: ListExpr | ValueExpr } | undefined {
    const start = this.pos();
    const word = this.lexRegex(RE.modifier);
    if (word === undefined) return undefined;
    const modifier = word.trim();
    if (this.peek('(')) return { modifier, list: this.parseListValue() };
    const idPos = this.pos();
    const id = this.lexRegex(RE.identifier);
    if (id !== undefined && id !== 'and' && id !== 'or' && id !== 'not') {
      return { modifier, list: { kind: 'value', value: id, pos: idPos } };
    }
    this.restore(start);
    return undefined;
  }

  private parseNumValue(): ValueExpr {
    const pos = this.pos();
    const num = this.lexRegex(RE.hexNumber) ?? this.lexRegex(RE.number);
    if (num === undefined) this.fail('expected a number value');
    return { kind: 'value', value: num, pos };
  }

  private parseStrValue(): ValueExpr {
    const pos = this.pos();
    const quoted = this.lexQuoted();
    if (quoted !== undefined) return { kind: 'value', value: quoted, pos };
    const bare = this.lexRegex(RE.bareString);
    if (bare === undefined) this.fail('expected a valid string value');
    return { kind: 'value', value: bare, pos };
  }

  /** `( v, v, … )`, `()`, or a bare identifier taken as a value. */
  private parseListValue(): ListExpr | ValueExpr {
    const pos = this.pos();
    if (this.lexString('(')) {
      const values: string[] = [];
      this.lexBlank();
      if (this.lexString(')')) return { kind: 'list', values, pos };
      for (;;) {
        this.lexBlank();
        values.push(this.parseStrValue().value);
        this.lexBlank();
        if (this.lexString(',')) continue;
        if (this.lexString(')')) return { kind: 'list', values, pos };
        this.fail("expected a ',' or ')' token");
      }
    }
    const id = this.lexRegex(RE.identifier);
    if (id !== undefined) return { kind: 'value', value: id, pos };
    this.fail("expected a '(' token or an identifier as list value");
  }
}

/** Parses a condition into its AST. Throws ConditionSyntaxError with the position of the problem. */
export function parseCondition(text: string, options: ParseOptions = {}): Expr {
  return new Parser(text, options.maxDepth ?? 1000).parse();
}

/** Parses a whole string as one field or transformer expression (used by output format tokens). */
export function parseOperand(text: string): FieldOrTransformer {
  return new Parser(text, 1000).parseOperandOnly();
}
