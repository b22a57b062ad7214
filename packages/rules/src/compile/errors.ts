import type { Pos } from '../condition/ast.ts';

/** A condition that parses but cannot be compiled: unknown field, bad constant, unsupported operator… */
export class ConditionCompileError extends Error {
  constructor(
    message: string,
    readonly pos?: Pos,
  ) {
    super(message);
    this.name = 'ConditionCompileError';
  }
}

/** A compile-time remark that does not stop the load (Falco's warnings). */
export interface CompileWarning {
  readonly code: string;
  readonly message: string;
  readonly pos?: Pos;
}
