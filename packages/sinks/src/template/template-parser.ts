import { ALERT_FIELDS, operandText } from './template-ast.ts';
import type { AlertField, Filter, LoopVariable, Operand, TemplateNode } from './template-ast.ts';
import { TemplateError, positionOf } from './template-error.ts';

/*
 * Grammar (whitespace allowed inside tags):
 *   template   := (text | '{{' tag '}}')*
 *   tag        := '!' comment | '#' operand | '^' operand | '/' operand | expression
 *   expression := operand ('|' filter)*
 *   filter     := 'json' | 'upper' | 'lower' | 'default' operand | 'join' string
 *   operand    := field ('[' (string | integer) ']')* | '.' | '@index' | '@first' | '@last' | string | number
 */

type Token =
  | { readonly kind: 'ident'; readonly text: string; readonly offset: number }
  | { readonly kind: 'string'; readonly value: string; readonly offset: number }
  | { readonly kind: 'number'; readonly value: number; readonly offset: number }
  | { readonly kind: 'punct'; readonly text: '[' | ']' | '|' | '.'; readonly offset: number };

const FILTERS = ['json', 'upper', 'lower', 'default', 'join'];
const LOOP_VARIABLES: readonly string[] = ['@index', '@first', '@last'];

interface OpenSection {
  readonly inverted: boolean;
  readonly operand: Operand;
  readonly offset: number;
  readonly body: TemplateNode[];
}

export function parseTemplate(source: string): TemplateNode[] {
  function fail(offset: number, detail: string): never {
    const { line, column } = positionOf(source, offset);
    throw new TemplateError(line, column, detail, source);
  }

  // A cursor over one tag's tokens; running past the end is an error at the tag's end.
  class Reader {
    private i = 0;
    constructor(
      private readonly tokens: readonly Token[],
      readonly endOffset: number,
    ) {}
    done(): boolean {
      return this.i >= this.tokens.length;
    }
    peek(): Token | undefined {
      return this.tokens[this.i];
    }
    next(): Token {
      const tok = this.tokens[this.i++];
      if (tok === undefined) return fail(this.endOffset, "the tag ends too early before '}}'");
      return tok;
    }
    expectEnd(where: string): void {
      const tok = this.peek();
      if (tok !== undefined) fail(tok.offset, `unexpected ${describe(tok)} ${where}`);
    }
  }

  const root: TemplateNode[] = [];
  const stack: OpenSection[] = [];
  const current = (): TemplateNode[] => (stack.length > 0 ? stack[stack.length - 1].body : root);

  let pos = 0;
  while (pos < source.length) {
    const open = source.indexOf('{{', pos);
    if (open === -1) {
      current().push({ kind: 'text', text: source.slice(pos) });
      break;
    }
    if (open > pos) current().push({ kind: 'text', text: source.slice(pos, open) });
    const close = source.indexOf('}}', open + 2);
    if (close === -1) fail(open, "'{{' is never closed by '}}' (to print a literal '{{', write {{ \"{{\" }})");
    const bodyStart = open + 2;
    const inner = source.slice(bodyStart, close);
    pos = close + 2;

    const lead = inner.trimStart();
    const leadOffset = bodyStart + (inner.length - lead.length);
    const sigil = lead[0];
    if (sigil === '!') continue; // comment
    if (sigil === '#' || sigil === '^') {
      const operand = parseSectionOperand(lead.slice(1), leadOffset + 1);
      stack.push({ inverted: sigil === '^', operand, offset: open, body: [] });
      continue;
    }
    if (sigil === '/') {
      const operand = parseSectionOperand(lead.slice(1), leadOffset + 1);
      const section = stack.pop();
      if (section === undefined) fail(open, `'{{/${operandText(operand)}}}' closes a section that was never opened`);
      else {
        if (operandText(section.operand) !== operandText(operand)) {
          const at = positionOf(source, section.offset);
          fail(
            open,
            `'{{/${operandText(operand)}}}' does not match the open section '${operandText(section.operand)}' ` +
              `(opened at line ${at.line}, column ${at.column}); close it with '{{/${operandText(section.operand)}}}'`,
          );
        }
        current().push({ kind: 'section', inverted: section.inverted, operand: section.operand, body: section.body });
      }
      continue;
    }
    current().push(parseExpression(inner, bodyStart));
  }
  if (stack.length > 0) {
    const open = stack[stack.length - 1];
    fail(open.offset, `section '${operandText(open.operand)}' is never closed (add '{{/${operandText(open.operand)}}}')`);
  }
  return root;

  function parseSectionOperand(text: string, offset: number): Operand {
    const tokens = tokenize(text, offset);
    const reader = new Reader(tokens, offset + text.length);
    const operand = parseOperand(reader);
    if (operand.kind === 'literal') fail(operand.offset, 'a section needs a field, not a literal');
    reader.expectEnd('after the section name');
    return operand;
  }

  function parseExpression(text: string, offset: number): TemplateNode {
    const tokens = tokenize(text, offset);
    if (tokens.length === 0) fail(offset, "empty '{{ }}': put a field name inside, e.g. {{ rule }}");
    const reader = new Reader(tokens, offset + text.length);
    const operand = parseOperand(reader);
    const filters: Filter[] = [];
    while (!reader.done()) {
      const bar = reader.next();
      if (bar.kind !== 'punct' || bar.text !== '|') fail(bar.offset, `expected '|' or '}}' but found ${describe(bar)}`);
      filters.push(parseFilter(reader));
    }
    return { kind: 'value', operand, filters };
  }

  function parseFilter(reader: Reader): Filter {
    const name = reader.next();
    if (name.kind !== 'ident' || !FILTERS.includes(name.text)) {
      return fail(name.offset, `unknown filter ${describe(name)}; filters are ${FILTERS.join(', ')}`);
    }
    switch (name.text) {
      case 'default':
        if (reader.done()) fail(reader.endOffset, "'default' needs a value, e.g. | default \"-\"");
        return { name: 'default', fallback: parseOperand(reader) };
      case 'join': {
        const sep = reader.next();
        if (sep.kind !== 'string') return fail(sep.offset, `'join' needs a quoted separator, e.g. | join ", "`);
        return { name: 'join', separator: sep.value };
      }
      default:
        return { name: name.text as 'json' | 'upper' | 'lower' };
    }
  }

  function parseOperand(reader: Reader): Operand {
    const tok = reader.next();
    if (tok.kind === 'string' || tok.kind === 'number') return { kind: 'literal', value: tok.value, offset: tok.offset };
    if (tok.kind === 'punct' && tok.text === '.') return { kind: 'loop', name: '.', offset: tok.offset };
    if (tok.kind !== 'ident') return fail(tok.offset, `expected a field name but found ${describe(tok)}`);
    if (tok.text.startsWith('@')) {
      if (!LOOP_VARIABLES.includes(tok.text)) fail(tok.offset, `unknown loop variable '${tok.text}'; use ${LOOP_VARIABLES.join(', ')}`);
      return { kind: 'loop', name: tok.text as LoopVariable, offset: tok.offset };
    }
    if (!(ALERT_FIELDS as readonly string[]).includes(tok.text)) {
      fail(tok.offset, `unknown field '${tok.text}'; fields are ${ALERT_FIELDS.join(', ')} (output field values: output_fields["k8s.pod.name"])`);
    }
    const field = tok.text as AlertField;
    const keys: Array<string | number> = [];
    for (;;) {
      const peek = reader.peek();
      if (peek?.kind === 'punct' && peek.text === '.') {
        fail(peek.offset, `use brackets to look inside '${field}': Falco field names contain dots, e.g. output_fields["fd.name"]`);
      }
      if (!(peek?.kind === 'punct' && peek.text === '[')) break;
      reader.next();
      const key = reader.next();
      if (key.kind !== 'string' && key.kind !== 'number') fail(key.offset, `expected a quoted key or an index inside [ ] but found ${describe(key)}`);
      else keys.push(key.value);
      const end = reader.next();
      if (end.kind !== 'punct' || end.text !== ']') fail(end.offset, `expected ']' but found ${describe(end)}`);
    }
    return { kind: 'path', field, keys, offset: tok.offset };
  }

  function tokenize(text: string, offset: number): Token[] {
    const tokens: Token[] = [];
    let i = 0;
    while (i < text.length) {
      const ch = text[i];
      const at = offset + i;
      if (/\s/.test(ch)) {
        i++;
      } else if (ch === '"' || ch === "'") {
        let value = '';
        let j = i + 1;
        for (;;) {
          if (j >= text.length) fail(at, `string starting here is not closed with ${ch}`);
          const c = text[j];
          if (c === ch) break;
          if (c === '\\') {
            const esc = text[j + 1];
            const mapped = esc === 'n' ? '\n' : esc === 't' ? '\t' : esc === '\\' || esc === '"' || esc === "'" ? esc : undefined;
            if (mapped === undefined) fail(offset + j, `unknown escape '\\${esc ?? ''}' in string (use \\" \\' \\\\ \\n \\t)`);
            else value += mapped;
            j += 2;
          } else {
            value += c;
            j++;
          }
        }
        tokens.push({ kind: 'string', value, offset: at });
        i = j + 1;
      } else if (/[0-9-]/.test(ch)) {
        const m = /^-?\d+(\.\d+)?/.exec(text.slice(i));
        if (!m) fail(at, `unexpected '${ch}'`);
        else {
          tokens.push({ kind: 'number', value: Number(m[0]), offset: at });
          i += m[0].length;
        }
      } else if (/[A-Za-z_@]/.test(ch)) {
        const m = /^@?[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i));
        if (!m) fail(at, `unexpected '${ch}'`);
        else {
          tokens.push({ kind: 'ident', text: m[0], offset: at });
          i += m[0].length;
        }
      } else if (ch === '[' || ch === ']' || ch === '|' || ch === '.') {
        tokens.push({ kind: 'punct', text: ch, offset: at });
        i++;
      } else {
        fail(at, `unexpected character '${ch}' in tag`);
      }
    }
    return tokens;
  }

  function describe(tok: Token): string {
    switch (tok.kind) {
      case 'ident':
        return `'${tok.text}'`;
      case 'punct':
        return `'${tok.text}'`;
      case 'string':
        return `the string ${JSON.stringify(tok.value)}`;
      case 'number':
        return `the number ${tok.value}`;
    }
  }
}
