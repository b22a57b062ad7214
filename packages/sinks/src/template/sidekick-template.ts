/**
 * Falcosidekick's templates are Go text/templates. Two kinds exist:
 *
 * - `messageformat` (Slack and a few others) runs over the payload:
 *   `{{ .Rule }}`, `{{ .Priority }}`, `{{ index .OutputFields "k8s.pod.name" }}`.
 * - `templatedfields` runs over `output_fields` itself:
 *   `{{ index . "k8s.ns.labels.team" }}`, `{{ .evt_type }}`.
 *
 * This rewrites the common subset of both into Peregrine's syntax so an
 * existing SLACK_MESSAGEFORMAT or TEMPLATEDFIELDS keeps working: fields,
 * `index`, string literals, parentheses and `or` (first non-empty argument,
 * which is what people use for defaults: `{{ or (index . "x") "none" }}`);
 * `{{ if X }}…{{ else }}…{{ end }}` and `{{ if not X }}` over one field become
 * sections (`{{#x}}…{{/x}}{{^x}}…{{/x}}`), `{{ range X }}…{{ . }}…{{ end }}`
 * a list section. Go's truth rule (false, 0, nil, empty string, list or map is
 * false) matches the sections' for every value an alert carries: Falcosidekick
 * decodes output_fields numbers as json.Number, a string, so "0" is true in
 * both. Comparisons (`eq`…), `else if`, `with`, variables (`$x := …`), pipes
 * and other functions are refused with a message saying what to write instead.
 */

/** What `.` is in the Go template: Falcosidekick's payload, or the output_fields map. */
export type SidekickTemplateRoot = 'payload' | 'outputFields';

export interface SidekickTemplateOptions {
  /**
   * `payload` for `*.messageformat`, `outputFields` for `templatedfields`.
   * @defaultValue 'payload'
   */
  readonly root?: SidekickTemplateRoot;
}

const PROPERTIES: Readonly<Record<string, string>> = {
  Output: 'output',
  Priority: 'priority',
  Rule: 'rule',
  Time: 'time',
  Source: 'source',
  Tags: 'tags',
  Hostname: 'hostname',
  UUID: 'uuid',
  OutputFields: 'output_fields',
};

// `.X` never starts a Peregrine tag (`.` alone is the loop item), so this
// cannot misread a Peregrine template.
// Also catches `{{ range .Tags }}`, `{{ if eq .Priority "x" }}`, `{{ or (index .OutputFields …`
// so they get the "not supported" (or converted) rather than "unknown field 'range'".
// Go's keywords and `$variables` cannot open a Peregrine tag either (`{{ range $i, $t := .Tags }}`).
const GO_PAYLOAD = /\{\{-?\s*(?:(?:[a-z]+\s+|\(\s*)*\.[A-Z]|(?:if|range|with|else|end|define|template|block)\b|\$)/;
// Over output_fields the keys are lower case (`.evt_type`), so the payload test
// does not work; a Go function or keyword, a parenthesis or `.name` opening a
// tag does. None of those can open a Peregrine tag: its fields are plain
// names (rule, output_fields, …) and `.` only appears alone.
const GO_OUTPUT_FIELDS = /\{\{-?\s*(?:(?:index|or|and|not|if|with|range|print|printf|println|len|eq|ne|lt|le|gt|ge|call|html|js|urlquery|slice|template|define|block)\b|\(|\.[A-Za-z_]|\$)/;

/** True when the text uses Falcosidekick's Go-template syntax (over the payload by default). */
export function isSidekickTemplate(source: string, options: SidekickTemplateOptions = {}): boolean {
  return (options.root === 'outputFields' ? GO_OUTPUT_FIELDS : GO_PAYLOAD).test(source);
}

/** Rewrites a Falcosidekick Go template into Peregrine's syntax; throws Error naming the unsupported action. */
export function convertSidekickTemplate(source: string, options: SidekickTemplateOptions = {}): string {
  const root = options.root ?? 'payload';
  // Go's trim markers: `{{- ` eats the whitespace before, ` -}}` the whitespace after.
  const trimmed = source.replace(/\s*\{\{-\s/g, '{{ ').replace(/\s-\}\}\s*/g, ' }}');
  // replace() visits the actions in order, so the open if/range blocks are a stack.
  const blocks: Block[] = [];
  const converted = trimmed.replace(/\{\{(-?)([\s\S]*?)(-?)\}\}/g, (whole: string, _l: string, body: string) => {
    const block = convertBlockAction(body, root, whole, blocks);
    if (block !== undefined) return block;
    const operands = convertAction(body, root, whole, blocks.some((b) => b.kind === 'range'));
    return `{{ ${operands.map((o, i) => (i === 0 ? o : `default ${o}`)).join(' | ')} }}`;
  });
  const unclosed = blocks.at(-1);
  if (unclosed !== undefined) throw new Error(`Falcosidekick template action "${unclosed.action}" has no matching {{ end }}`);
  return converted;
}

/** An open `{{ if }}` or `{{ range }}`: the section it became. */
interface Block {
  readonly kind: 'if' | 'range';
  readonly operand: string;
  /** The branch being written renders when the operand is empty (`if not x`, or the `else` of `if x`). */
  inverted: boolean;
  hasElse: boolean;
  readonly action: string;
}

/**
 * `if`, `else`, `end` and `range` actions → section tags; undefined for any
 * other action. A non-inverted section over a list repeats per item, so an
 * `if` branch that renders when `.Tags` is non-empty is refused (Go renders it
 * once): write `{{#tags}}…{{/tags}}` for a per-tag body instead.
 */
function convertBlockAction(body: string, root: SidekickTemplateRoot, whole: string, blocks: Block[]): string | undefined {
  const words = body.trim().split(/\s+/);
  const keyword = words[0];
  const onList = (operand: string, inverted: boolean) => {
    if (!inverted && operand === 'tags') {
      throw new Error(`Falcosidekick template action "${whole}": a branch that renders when .Tags is not empty is not converted (a section over tags repeats per tag); write {{#tags}}…{{/tags}} to repeat per tag, or test a single field`);
    }
  };
  const inRange = blocks.some((b) => b.kind === 'range');
  if (keyword === 'if') {
    const inverted = words[1] === 'not';
    const operand = singleOperand(body.trim().slice(inverted ? body.trim().indexOf('not') + 3 : 2), root, whole, inRange);
    onList(operand, inverted);
    blocks.push({ kind: 'if', operand, inverted, hasElse: false, action: whole });
    return `{{${inverted ? '^' : '#'}${operand}}}`;
  }
  if (keyword === 'else') {
    const top = blocks.at(-1);
    if (words.length > 1 || top === undefined || top.kind !== 'if' || top.hasElse) {
      throw new Error(`Falcosidekick template action "${whole}" is not supported here; only a plain {{ else }} inside {{ if … }} is converted (no else if, no second else)`);
    }
    onList(top.operand, !top.inverted);
    top.inverted = !top.inverted;
    top.hasElse = true;
    return `{{/${top.operand}}}{{${top.inverted ? '^' : '#'}${top.operand}}}`;
  }
  if (keyword === 'end') {
    const top = blocks.pop();
    if (top === undefined || words.length > 1) throw new Error(`Falcosidekick template action "${whole}" closes nothing`);
    return `{{/${top.operand}}}`;
  }
  if (keyword === 'range') {
    const operand = singleOperand(body.trim().slice('range'.length), root, whole, inRange);
    // Go ranges over a map's values; a section over a map renders once.
    if (operand === 'output_fields') throw new Error(`Falcosidekick template action "${whole}" is not converted: ranging over .OutputFields is not supported; name the fields, or use {{ output_fields | json }}`);
    blocks.push({ kind: 'range', operand, inverted: false, hasElse: false, action: whole });
    return `{{#${operand}}}`;
  }
  return undefined;
}

/** The condition of an `if`/`range`: exactly one field (`.Rule`, `index .OutputFields "x"`), no literal or `or`. */
function singleOperand(text: string, root: SidekickTemplateRoot, whole: string, inRange: boolean): string {
  const operands = convertAction(text, root, whole, inRange);
  if (operands.length !== 1 || operands[0].startsWith('"')) {
    throw new Error(`Falcosidekick template action "${whole}" is not supported; {{ if }} and {{ range }} are converted over one field only (e.g. {{ if index .OutputFields "k8s.pod.name" }})`);
  }
  return operands[0];
}

type Token =
  | { readonly kind: 'field'; readonly name: string }
  | { readonly kind: 'dot' }
  | { readonly kind: 'word'; readonly name: string }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'open' | 'close' | 'other'; readonly text: string };

/**
 * One action → the Peregrine operands of an `a | default b | default c`
 * chain (Go's `or` returns its first non-empty argument, else the last, which
 * is what that chain does).
 */
function convertAction(body: string, root: SidekickTemplateRoot, whole: string, inRange: boolean): string[] {
  const unsupported = (): Error =>
    new Error(
      `Falcosidekick template action "${whole}" is not supported; only ${root === 'payload' ? '{{ .Field }}, {{ index .OutputFields "name" }}' : '{{ index . "name" }}, {{ .name }}'}, ` +
        `string literals and {{ or … "default" }} are converted. ` +
        'Rewrite it in Peregrine\'s syntax (docs/sinks.md, Templates), e.g. {{#x}}…{{/x}} for if, {{ x | default "-" }}',
    );
  const tokens = tokenize(body, unsupported);
  let pos = 0;
  const peek = (): Token | undefined => tokens[pos];
  const next = (): Token => {
    const t = tokens[pos++];
    if (t === undefined) throw unsupported();
    return t;
  };

  // expression := 'or' argument+ | 'index' target "key" | argument
  const expression = (): string[] => {
    const first = peek();
    if (first?.kind === 'word' && first.name === 'or') {
      next();
      const out: string[] = [];
      while (pos < tokens.length && peek()?.kind !== 'close') out.push(...argument());
      if (out.length === 0) throw unsupported();
      return out;
    }
    if (first?.kind === 'word' && first.name === 'index') {
      next();
      const target = next();
      const isRoot = root === 'payload' ? target.kind === 'field' && target.name === 'OutputFields' : target.kind === 'dot';
      const key = next();
      if (!isRoot || key.kind !== 'string') throw unsupported();
      return [`output_fields[${quote(key.value)}]`];
    }
    return argument();
  };

  // argument := '(' expression ')' | .Field | "string"
  const argument = (): string[] => {
    const t = next();
    // Inside {{ range }} Go's `.` is the current item; Peregrine's section binds `.` the same way.
    if (inRange) {
      if (t.kind === 'dot') return ['.'];
      throw new Error(`Falcosidekick template action "${whole}" is not supported inside {{ range }}; only {{ . }} (the current item) is converted there`);
    }
    if (t.kind === 'open') {
      const inner = expression();
      if (next().kind !== 'close') throw unsupported();
      return inner;
    }
    if (t.kind === 'string') return [quote(t.value)];
    if (t.kind === 'field') {
      if (root === 'outputFields') return [`output_fields[${quote(t.name)}]`];
      const name = PROPERTIES[t.name];
      if (name === undefined) throw new Error(`Falcosidekick template field ".${t.name}" does not exist; fields are ${Object.keys(PROPERTIES).map((p) => `.${p}`).join(', ')}`);
      return [name];
    }
    throw unsupported();
  };

  const operands = expression();
  if (pos !== tokens.length) throw unsupported();
  return operands;
}

function tokenize(body: string, unsupported: () => Error): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < body.length) {
    const ch = body[i];
    if (/\s/.test(ch)) {
      i++;
    } else if (ch === '(' || ch === ')') {
      tokens.push({ kind: ch === '(' ? 'open' : 'close', text: ch });
      i++;
    } else if (ch === '.') {
      const m = /^\.([A-Za-z_][A-Za-z0-9_]*)/.exec(body.slice(i));
      // `.a.b` (nested field access) is not part of the subset: the rest becomes 'other'.
      if (m) {
        tokens.push({ kind: 'field', name: m[1] });
        i += m[0].length;
        if (body[i] === '.') tokens.push({ kind: 'other', text: '.' });
      } else {
        tokens.push({ kind: 'dot' });
        i++;
      }
    } else if (ch === '"') {
      let j = i + 1;
      while (j < body.length && body[j] !== '"') j += body[j] === '\\' ? 2 : 1;
      if (j >= body.length) throw unsupported();
      try {
        // Go's interpreted string literals share JSON's common escapes (\" \\ \n \t \uXXXX).
        tokens.push({ kind: 'string', value: JSON.parse(body.slice(i, j + 1)) as string });
      } catch {
        throw unsupported();
      }
      i = j + 1;
    } else {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(body.slice(i));
      if (m) {
        tokens.push({ kind: 'word', name: m[0] });
        i += m[0].length;
      } else {
        tokens.push({ kind: 'other', text: ch });
        i++;
      }
    }
  }
  return tokens;
}

/** A string literal in Peregrine's syntax (its escapes: \" \\ \n \t). */
function quote(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\t/g, '\\t')}"`;
}
