/** Syntax tree of a template; built by template-parser.ts, compiled by template.ts. */

/** Top-level alert fields a template may name. */
export const ALERT_FIELDS = [
  'rule',
  'priority',
  'source',
  'hostname',
  'output',
  'message',
  'time',
  'uuid',
  'tags',
  'output_fields',
] as const;
export type AlertField = (typeof ALERT_FIELDS)[number];

/** `.`, `@index`, `@first`, `@last`: only meaningful inside a section. */
export type LoopVariable = '.' | '@index' | '@first' | '@last';

export type Operand =
  | { readonly kind: 'path'; readonly field: AlertField; readonly keys: ReadonlyArray<string | number>; readonly offset: number }
  | { readonly kind: 'loop'; readonly name: LoopVariable; readonly offset: number }
  | { readonly kind: 'literal'; readonly value: string | number; readonly offset: number };

export type Filter =
  | { readonly name: 'json' | 'upper' | 'lower' }
  | { readonly name: 'default'; readonly fallback: Operand }
  | { readonly name: 'join'; readonly separator: string };

export type TemplateNode =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'value'; readonly operand: Operand; readonly filters: readonly Filter[] }
  | {
      readonly kind: 'section';
      readonly inverted: boolean;
      readonly operand: Operand;
      readonly body: readonly TemplateNode[];
    };

/** Canonical text of an operand: how a `{{/…}}` tag is matched to its opener. */
export function operandText(op: Operand): string {
  switch (op.kind) {
    case 'loop':
      return op.name;
    case 'literal':
      return JSON.stringify(op.value);
    case 'path':
      return op.field + op.keys.map((k) => `[${JSON.stringify(k)}]`).join('');
  }
}
