/**
 * Comparison operators as the exception builder needs them (libs
 * `parser::supported_operators`, Falco `rule_loader_cmpop.h`).
 */

const SUPPORTED_OPERATORS = new Set([
  '=', '==', '!=', '<=', '>=', '<', '>', 'exists',
  'contains', 'icontains', 'bcontains', 'startswith', 'bstartswith', 'endswith',
  'glob', 'iglob', 'in', 'intersects', 'pmatch', 'regex',
]);

/** The operators whose right side is a list: `in`, `intersects`, `pmatch`. */
const LIST_OPERATORS = new Set(['in', 'intersects', 'pmatch']);

/** String operators that accept a list modifier (`startswith oneof (…)`). */
const MODIFIABLE_OPERATORS = new Set([
  '=', '==', '!=', 'contains', 'icontains', 'bcontains', 'startswith', 'bstartswith',
  'endswith', 'glob', 'iglob', 'regex',
]);

const MODIFIERS = new Set(['oneof', 'anyof', 'allof']);

export function isSupportedOperator(op: string): boolean {
  return SUPPORTED_OPERATORS.has(op);
}

export function isListOperator(op: string): boolean {
  return LIST_OPERATORS.has(op);
}

/** `<string op> oneof|anyof|allof`, e.g. `startswith oneof`; not `in oneof` or `>= oneof`. */
export function isStrOperatorWithModifier(op: string): boolean {
  const parts = op.trim().split(/\s+/);
  return parts.length === 2 && MODIFIABLE_OPERATORS.has(parts[0]!) && MODIFIERS.has(parts[1]!);
}
