/**
 * Load-time validation of a resolved condition: compiles it against an
 * extractor that reads nothing, so every error the real compile would raise
 * (unknown field, unsupported operator, bad constant, unknown event type,
 * invalid regex…) and every warning is reported without an event source.
 */
import type { Expr, Pos } from '../condition/ast.ts';
import type { FieldExtractor } from '../extract.ts';
import { compileCondition } from './condition.ts';
import { ConditionCompileError, type CompileWarning } from './errors.ts';

export interface CheckIssue {
  readonly message: string;
  readonly pos?: Pos;
  readonly code?: string;
}

const NO_EVENTS: FieldExtractor<unknown> = { accessor: () => () => undefined };

export function checkCondition(expr: Expr): { errors: CheckIssue[]; warnings: CheckIssue[] } {
  const warnings: CompileWarning[] = [];
  try {
    compileCondition(expr, NO_EVENTS, warnings);
    return { errors: [], warnings };
  } catch (e) {
    if (e instanceof ConditionCompileError) return { errors: [{ message: e.message, pos: e.pos }], warnings };
    throw e;
  }
}
