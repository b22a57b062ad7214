/**
 * Exceptions become condition text (Falco `build_rule_exception_infos`),
 * applied to the rule's final condition before lists and macros:
 * `(cond) and not (F C (v1, v2))` for a single field,
 * `(cond) and not (( F1 C1 V1 and  F2 C2 V2) or (…))` for a field list.
 */
import { failIf } from './diagnostics.ts';
import type { ExceptionInfo } from './collector.ts';
import { MappedText, type TextOrigin } from './mapped-text.ts';
import { quoteItem } from './lists.ts';
import { isListOperator, isStrOperatorWithModifier } from './operators.ts';

function parenItem(e: string): string {
  return e[0] !== '(' ? `(${e})` : e;
}

/** The `and not …` clause of one exception, or '' when it has no values. */
export function exceptionClause(ex: ExceptionInfo): string {
  let icond = '';
  if (!ex.fields.isList) {
    for (const val of ex.values) {
      failIf(val.isList, 'LOAD_ERR_VALIDATE', 'Expected values array to contain a list of strings', val.loc ?? ex.ctx);
      icond += icond === '' ? `(${ex.fields.item} ${ex.comps.item} (` : ', ';
      icond += quoteItem(val.item);
    }
    icond += icond === '' ? '' : '))';
    return icond;
  }
  icond = '(';
  for (const values of ex.values) {
    failIf(
      ex.fields.items.length !== values.items.length,
      'LOAD_ERR_VALIDATE',
      'Fields and values lists must have equal length',
      values.loc ?? ex.ctx,
    );
    icond += icond === '(' ? '' : ' or ';
    icond += '(';
    ex.fields.items.forEach((field, k) => {
      icond += k === 0 ? '' : ' and ';
      const value = values.items[k]!;
      const comp = ex.comps.items[k]!.item;
      let istr: string;
      if (value.isList) {
        istr = `(${value.items.map((v) => quoteItem(v.item)).join(', ')})`;
      } else if (isListOperator(comp) || isStrOperatorWithModifier(comp)) {
        istr = parenItem(value.item);
      } else {
        istr = quoteItem(value.item);
      }
      icond += ` ${field.item} ${comp} ${istr}`;
    });
    icond += ')';
  }
  icond += ')';
  return icond === '()' ? '' : icond;
}

/** The rule condition with its exceptions applied; clause text maps to each exception's item. */
export function applyExceptions(cond: MappedText, exceptions: readonly ExceptionInfo[]): MappedText {
  let text = MappedText.of('(').concat(cond, ')');
  for (const ex of exceptions) {
    const clause = exceptionClause(ex);
    if (clause === '') continue;
    const origin: TextOrigin = { map: () => ex.ctx, location: () => ex.ctx };
    text = text.concat(' and not ', MappedText.fixedAt(clause, origin));
  }
  return text;
}

/** Every field an exception compares (Falco keeps them as `exception_fields`). */
export function exceptionFields(exceptions: readonly ExceptionInfo[]): string[] {
  const out = new Set<string>();
  for (const ex of exceptions) {
    if (ex.values.length === 0) continue;
    if (ex.fields.isList) for (const f of ex.fields.items) out.add(f.item);
    else out.add(ex.fields.item);
  }
  return [...out].sort();
}
