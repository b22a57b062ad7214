/**
 * Falcosidekick's templates are Go text/templates. Two kinds exist:
 *
 * - `messageformat` (Slack and a few others) runs over the payload:
 *   `{{ .Rule }}`, `{{ .Priority }}`, `{{ index .OutputFields "k8s.pod.name" }}`.
 * - `templatedfields` runs over `output_fields` itself:
 *   `{{ index . "k8s.ns.labels.team" }}`, `{{ .evt_type }}`.
 *
 * This rewrites the plain-value subset of both into Peregrine's syntax so an
 * existing SLACK_MESSAGEFORMAT or TEMPLATEDFIELDS keeps working: fields,
 * `index`, string literals, parentheses and `or` (first non-empty argument,
 * which is what people use for defaults: `{{ or (index . "x") "none" }}`).
 * Other control flow (`if`, `range`, pipes, other functions) is refused with a
 * message saying what to write instead.
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
const GO_PAYLOAD = /\{\{-?\s*(?:[a-z]+\s+|\(\s*)*\.[A-Z]/;
// Over output_fields the keys are lower case (`.evt_type`), so the payload test
// does not work; a Go function or keyword, a parenthesis or `.name` opening a
// tag does. None of those can open a Peregrine tag: its fields are plain
// names (rule, output_fields, …) and `.` only appears alone.
const GO_OUTPUT_FIELDS = /\{\{-?\s*(?:(?:index|or|and|not|if|with|range|print|printf|println|len|eq|ne|lt|le|gt|ge|call|html|js|urlquery|slice|template|define|block)\b|\(|\.[A-Za-z_])/;

/** True when the text uses Falcosidekick's Go-template syntax (over the payload by default). */
export function isSidekickTemplate(source: string, options: SidekickTemplateOptions = {}): boolean {
  return (options.root === 'outputFields' ? GO_OUTPUT_FIELDS : GO_PAYLOAD).test(source);
}

/** Rewrites a Falcosidekick Go template into Peregrine's syntax; throws Error naming the unsupported action. */
export function convertSidekickTemplate(source: string, options: SidekickTemplateOptions = {}): string {
  const root = options.root ?? 'payload';
  // Go's trim markers: `{{- ` eats the whitespace before, ` -}}` the whitespace after.
  const trimmed = source.replace(/\s*\{\{-\s/g, '{{ ').replace(/\s-\}\}\s*/g, ' }}');
  return trimmed.replace(/\{\{(-?)([\s\S]*?)(-?)\}\}/g, (whole: string, _l: string, body: string) => {
    const operands = convertAction(body, root, whole);
    return `{{ ${operands.map((o, i) => (i === 0 ? o : `default ${o}`)).join(' | ')} }}`;
  });
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
function convertAction(body: string, root: SidekickTemplateRoot, whole: string): string[] {
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
