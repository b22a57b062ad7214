import { stringifyJsonExact } from '@peregrine/alert';
import type { Alert, OutputFieldValue } from '@peregrine/alert';
import { falcoMessage } from '../falco/falco-text.ts';
import type { AlertField, Filter, LoopVariable, Operand, TemplateNode } from './template-ast.ts';
import { parseTemplate } from './template-parser.ts';

export interface TemplateOptions {
  /**
   * `text`: values are inserted as they are. `json`: every inserted value is
   * JSON-string-escaped (no quotes added), so `"rule": "{{ rule }}"` stays
   * valid JSON whatever the rule name holds; `{{ x | json }}` inserts a whole
   * JSON value (quotes, arrays, null) and is not escaped again. `slack`:
   * inserted values get `&`, `<`, `>` escaped as Slack's mrkdwn requires (so
   * Falco's `<NA>` shows instead of vanishing); the template's own text is
   * left alone, so `<https://…|links>` written in the template still work.
   * @defaultValue 'text'
   */
  readonly escape?: 'text' | 'json' | 'slack';
}

/** A compiled template: a plain function of the alert. */
export type RenderTemplate = (alert: Alert) => string;

type FieldMap = Readonly<Record<string, OutputFieldValue>>;
/** Anything an operand can yield: an output field value, the whole field map, or nothing. */
type Value = OutputFieldValue | FieldMap | undefined;

/** Loop state inside a `{{#section}}`: the current item and its position. */
interface Scope {
  readonly item: Value;
  readonly index: number;
  readonly length: number;
}

const TOP: Scope = { item: undefined, index: 0, length: 0 };

type Escape = NonNullable<TemplateOptions['escape']>;
type Part = (alert: Alert, scope: Scope) => string;
type Getter = (alert: Alert, scope: Scope) => Value;

/**
 * Compiles a logic-light template once into closures (no eval, no
 * `new Function`). Throws `TemplateError` (line, column, what) on bad syntax.
 *
 * - `{{ rule }}`, `{{ priority }}`, `{{ source }}`, `{{ hostname }}`, `{{ output }}`,
 *   `{{ message }}` (output without Falco's time/priority prefix), `{{ time }}`, `{{ uuid }}`, `{{ tags }}`
 * - `{{ output_fields["k8s.pod.name"] }}`, `{{ tags[0] }}`
 * - filters: `| json`, `| upper`, `| lower`, `| default "-"` (or another field), `| join ", "`
 * - sections: `{{#tags}}{{ . }}{{^@last}}, {{/@last}}{{/tags}}` iterates a list;
 *   on any other value it renders once if the value is present and not
 *   false/empty; `{{^x}}…{{/x}}` renders when it is absent or empty
 * - comments `{{! … }}`; a literal `{{` is `{{ "{{" }}`
 *
 * Missing fields and nulls render as the empty string (use `default`).
 * Integers beyond 2^53 (bigint) render with all their digits, as text and in `| json`.
 */
export function compileTemplate(source: string, options: TemplateOptions = {}): RenderTemplate {
  const escape = options.escape ?? 'text';
  const parts = compileNodes(parseTemplate(source), escape);
  if (parts.length === 1) {
    const only = parts[0];
    return (alert) => only(alert, TOP);
  }
  return (alert) => {
    let out = '';
    for (const part of parts) out += part(alert, TOP);
    return out;
  };
}

function compileNodes(nodes: readonly TemplateNode[], escape: Escape): Part[] {
  return nodes.map((node): Part => {
    switch (node.kind) {
      case 'text': {
        const text = node.text;
        return () => text;
      }
      case 'value':
        return compileValue(compileOperand(node.operand), node.filters, escape);
      case 'section':
        return compileSection(compileOperand(node.operand), node.inverted, compileNodes(node.body, escape));
    }
  });
}

function compileValue(get: Getter, filters: readonly Filter[], escape: Escape): Part {
  let apply: Getter = get;
  let producesJson = false;
  for (const filter of filters) {
    const inner = apply;
    producesJson = filter.name === 'json';
    switch (filter.name) {
      case 'json':
        apply = (a, s) => stringifyJsonExact(inner(a, s) ?? null);
        break;
      case 'upper':
        apply = (a, s) => toText(inner(a, s)).toUpperCase();
        break;
      case 'lower':
        apply = (a, s) => toText(inner(a, s)).toLowerCase();
        break;
      case 'join': {
        const sep = filter.separator;
        apply = (a, s) => {
          const v = inner(a, s);
          return Array.isArray(v) ? v.join(sep) : v;
        };
        break;
      }
      case 'default': {
        const fallback = compileOperand(filter.fallback);
        apply = (a, s) => {
          const v = inner(a, s);
          return isEmpty(v) ? fallback(a, s) : v;
        };
        break;
      }
    }
  }
  const final = apply;
  if (escape === 'json' && !producesJson) return (a, s) => escapeJsonString(toText(final(a, s)));
  if (escape === 'slack') return (a, s) => escapeSlackText(toText(final(a, s)));
  return (a, s) => toText(final(a, s));
}

function compileSection(get: Getter, inverted: boolean, body: Part[]): Part {
  const renderBody = (alert: Alert, scope: Scope): string => {
    let out = '';
    for (const part of body) out += part(alert, scope);
    return out;
  };
  if (inverted) return (alert, scope) => (isEmpty(get(alert, scope)) ? renderBody(alert, scope) : '');
  return (alert, scope) => {
    const value = get(alert, scope);
    if (isEmpty(value)) return '';
    if (!Array.isArray(value)) return renderBody(alert, { item: value, index: 0, length: 1 });
    let out = '';
    for (let i = 0; i < value.length; i++) out += renderBody(alert, { item: value[i], index: i, length: value.length });
    return out;
  };
}

function compileOperand(op: Operand): Getter {
  switch (op.kind) {
    case 'literal': {
      const value = op.value;
      return () => value;
    }
    case 'loop':
      return loopGetter(op.name);
    case 'path': {
      let get: Getter = fieldGetter(op.field);
      for (const key of op.keys) {
        const inner = get;
        get = (a, s) => lookup(inner(a, s), key);
      }
      return get;
    }
  }
}

function loopGetter(name: LoopVariable): Getter {
  switch (name) {
    case '.':
      return (_a, s) => s.item;
    case '@index':
      return (_a, s) => s.index;
    case '@first':
      return (_a, s) => s.index === 0;
    case '@last':
      return (_a, s) => s.index === s.length - 1;
  }
}

function fieldGetter(field: AlertField): Getter {
  switch (field) {
    case 'message':
      return (a) => falcoMessage(a);
    case 'output_fields':
      return (a) => a.output_fields;
    default:
      return (a) => a[field];
  }
}

function lookup(container: Value, key: string | number): Value {
  if (Array.isArray(container)) return typeof key === 'number' ? container[key] : undefined;
  if (isRecord(container) && typeof key === 'string') return Object.hasOwn(container, key) ? container[key] : undefined;
  return undefined;
}

function isRecord(v: Value): v is FieldMap {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isEmpty(v: Value): boolean {
  if (v === undefined || v === null || v === false || v === '') return true;
  if (Array.isArray(v)) return v.length === 0;
  return isRecord(v) && Object.keys(v).length === 0;
}

function toText(v: Value): string {
  if (v === undefined || v === null) return '';
  if (Array.isArray(v)) return v.join(', ');
  if (isRecord(v)) return stringifyJsonExact(v);
  return String(v);
}

/** Slack mrkdwn control characters (https://api.slack.com/reference/surfaces/formatting#escaping). */
export function escapeSlackText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** JSON string contents without the surrounding quotes. */
function escapeJsonString(text: string): string {
  const quoted = JSON.stringify(text);
  return quoted.slice(1, quoted.length - 1);
}
