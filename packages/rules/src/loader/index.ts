/**
 * The rules-file loader: Falco rules YAML → lists, macros and rules with
 * their final conditions, and Falco's errors/warnings with file positions.
 */
export { loadRuleFiles, loadRuleSources, type LoadOptions, type LoadResult, type LoadedRules, type RulesSource } from './load.ts';
export type { LoadedRule, AppendOutput } from './compiler.ts';
export {
  formatDiagnostic,
  RuleLoadError,
  ERROR_CODES,
  WARNING_CODES,
  type Diagnostic,
  type ErrorCode,
  type WarningCode,
  type ItemKind,
  type ItemRef,
  type Location,
} from './diagnostics.ts';
export { matchesWildcard, type RuleSelection, type RuleMatcher } from './selection.ts';
export { ENGINE_VERSION, BUILTIN_PLUGIN_VERSIONS } from './versions.ts';
export type { PluginRequirement } from './collector.ts';
