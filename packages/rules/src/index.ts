/**
 * @peregrine/rules — the Falco rule language as a pure library:
 * load rules YAML (lists, macros, exceptions, append/override), parse
 * conditions, compile them to closures indexed by event type, format outputs.
 * No I/O beyond reading rule files.
 */

// Conditions: parse, canonical text.
export type * from './condition/ast.ts';
export { parseCondition, parseOperand, ConditionSyntaxError, type ParseOptions } from './condition/parser.ts';
export { asString } from './condition/as-string.ts';

// Field extraction seam.
export type { FieldType, FieldRef, FieldValue, ScalarFieldValue, FieldAccessor, FieldExtractor } from './extract.ts';

// Compilation and the runtime engine.
export { compileCondition, type CompiledCondition } from './compile/condition.ts';
export { checkCondition, type CheckIssue } from './compile/check.ts';
export { eventTypesOf } from './compile/event-types.ts';
export { ConditionCompileError, type CompileWarning } from './compile/errors.ts';
export {
  compileRules,
  type CompiledRules,
  type CompiledRule,
  type CompileRulesOptions,
  type EngineRule,
} from './engine/index.ts';

// Loading rules files.
export {
  loadRuleFiles,
  loadRuleSources,
  type LoadResult,
  type LoadedRules,
  type LoadedRule,
} from './loader/index.ts';
export { formatDiagnostic, RuleLoadError, type Diagnostic } from './loader/diagnostics.ts';
export {
  matchesWildcard,
  ENGINE_VERSION,
  BUILTIN_PLUGIN_VERSIONS,
  ERROR_CODES,
  WARNING_CODES,
  type LoadOptions,
  type RulesSource,
  type RuleSelection,
  type RuleMatcher,
  type AppendOutput,
  type PluginRequirement,
  type ErrorCode,
  type WarningCode,
  type ItemKind,
  type ItemRef,
  type Location,
} from './loader/index.ts';

// Fields, outputs, field-map events.
export {
  resolveField,
  UnknownFieldError,
  FieldArgumentError,
  ConstantParseError,
  parseConstant,
  suggestField,
  fieldNames,
  fieldSpec,
  isComparable,
  comparabilityError,
  comparableKind,
  isKnownEventType,
  knownEventTypes,
  parseIp,
  parseCidr,
  ipInCidr,
  formatIp,
  type ResolvedField,
  type IpAddress,
  type IpNetwork,
  type FieldSpec,
} from './fields/index.ts';
export {
  compileOutputFormat,
  validateOutputFormat,
  compileFieldValue,
  OutputFormatError,
  NOT_AVAILABLE,
  SUGGESTED_OUTPUT_FIELDS,
  suggestedOutputSuffix,
  withSuggestedOutput,
  createAlertBuilder,
  formatEventTime,
  type CompiledOutputFormat,
  type OutputIssue,
  type RenderedOutput,
  type AlertRule,
  type AlertBuilderOptions,
} from './output/index.ts';
export {
  fieldMapExtractor,
  fieldMapEvent,
  parseFieldMapEvents,
  readFieldMapEvents,
  FieldMapParseError,
  type FieldMapEvent,
  type FieldMapValue,
  type FieldMapProblem,
} from './fieldmap/index.ts';
