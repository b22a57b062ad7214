/**
 * Load diagnostics: Falco's `load_result` errors and warnings, each with the
 * place in the rules file it is about (file:line:col and the item).
 *
 * Codes are Falco's (`falco_load_result.cpp`), so a Falco user recognises
 * them and can grep for them; messages are Falco's texts.
 */

export const ERROR_CODES = [
  'LOAD_ERR_FILE_READ',
  'LOAD_ERR_YAML_PARSE',
  'LOAD_ERR_YAML_VALIDATE',
  'LOAD_ERR_COMPILE_CONDITION',
  'LOAD_ERR_COMPILE_OUTPUT',
  'LOAD_ERR_VALIDATE',
  'LOAD_ERR_EXTENSION',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export const WARNING_CODES = [
  'LOAD_UNKNOWN_SOURCE',
  'LOAD_UNSAFE_NA_CHECK',
  'LOAD_NO_EVTTYPE',
  'LOAD_UNKNOWN_FILTER',
  'LOAD_UNUSED_MACRO',
  'LOAD_UNUSED_LIST',
  'LOAD_UNKNOWN_ITEM',
  'LOAD_DEPRECATED_ITEM',
  'LOAD_WARNING_EXTENSION',
  'LOAD_APPEND_NO_VALUES',
  'LOAD_EXCEPTION_NAME_NOT_UNIQUE',
  'LOAD_INVALID_MACRO_NAME',
  'LOAD_INVALID_LIST_NAME',
  'LOAD_COMPILE_CONDITION',
  'LOAD_UNKNOWN_KEY',
] as const;
export type WarningCode = (typeof WARNING_CODES)[number];

export type ItemKind =
  | 'rule'
  | 'macro'
  | 'list'
  | 'exception'
  | 'required_engine_version'
  | 'required_plugin_versions'
  | 'item';

export interface ItemRef {
  readonly kind: ItemKind;
  /** Empty when the item has no name (yet), e.g. a malformed item. */
  readonly name: string;
}

/** A place in a rules file. line and col start at 1. */
export interface Location {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  /** The rule, macro or list the diagnostic is about. */
  readonly item?: ItemRef;
  /**
   * Context for `item`: the macro a rule's position lies in, or the rule an
   * exception belongs to.
   */
  readonly via?: ItemRef;
}

export interface Diagnostic {
  readonly severity: 'error' | 'warning';
  /** Falco's code: `LOAD_ERR_*` for errors, `LOAD_*` for warnings. */
  readonly code: ErrorCode | WarningCode;
  /** Falco's message text (no position prefix). */
  readonly message: string;
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly item?: ItemRef;
  /** Context: the macro a rule's position lies in, or the rule an exception belongs to. */
  readonly via?: ItemRef;
}

function describeItem(item: ItemRef): string {
  if (item.kind === 'item') return item.name === '' ? 'item' : `item '${item.name}'`;
  return item.name === '' ? item.kind : `${item.kind} '${item.name}'`;
}

/**
 * `file:line:col: error LOAD_ERR_…: rule 'X': message` — the compiler-style
 * line editors and CI logs can jump to.
 */
export function formatDiagnostic(d: Diagnostic): string {
  const where = d.item ? `${describeItem(d.item)}${d.via ? ` (in ${describeItem(d.via)})` : ''}: ` : '';
  return `${d.file}:${d.line}:${d.col}: ${d.severity} ${d.code}: ${where}${d.message}`;
}

export function makeDiagnostic(
  severity: 'error' | 'warning',
  code: ErrorCode | WarningCode,
  message: string,
  loc: Location,
): Diagnostic {
  const d: Diagnostic = { severity, code, message, file: loc.file, line: loc.line, col: loc.col };
  return { ...d, ...(loc.item ? { item: loc.item } : {}), ...(loc.via ? { via: loc.via } : {}) };
}

/**
 * Thrown inside the loader at the first error (Falco's `rule_load_exception`);
 * caught at the file boundary and turned into the result's error.
 */
export class LoadFailure extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly failure: string,
    readonly loc: Location,
  ) {
    super(failure);
  }
}

/** Throws `LoadFailure` when `cond` holds — the shape of Falco's THROW macro. */
export function failIf(cond: boolean, code: ErrorCode, message: string, loc: Location): void {
  if (cond) throw new LoadFailure(code, message, loc);
}

/** Thrown by `loadRuleFiles` when loading failed; carries every diagnostic. */
export class RuleLoadError extends Error {
  constructor(
    readonly diagnostics: readonly Diagnostic[],
  ) {
    const errors = diagnostics.filter((d) => d.severity === 'error');
    super(
      errors.length > 0
        ? `rules failed to load:\n${errors.map(formatDiagnostic).join('\n')}`
        : 'rules failed to load',
    );
    this.name = 'RuleLoadError';
  }
}

/** Collects warnings (deduplicated: each compile pass re-reports unchanged items). */
export class DiagnosticSink {
  readonly errors: Diagnostic[] = [];
  readonly warnings: Diagnostic[] = [];
  private readonly seen = new Set<string>();

  warn(code: WarningCode, message: string, loc: Location): void {
    this.push(makeDiagnostic('warning', code, message, loc));
  }

  error(code: ErrorCode, message: string, loc: Location): void {
    this.push(makeDiagnostic('error', code, message, loc));
  }

  private push(d: Diagnostic): void {
    const key = `${d.severity}|${d.code}|${d.file}|${d.line}|${d.col}|${d.message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    (d.severity === 'error' ? this.errors : this.warnings).push(d);
  }
}
