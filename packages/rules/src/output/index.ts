/**
 * Rule outputs: format strings (`%field` tokens, `<NA>`, typed output_fields),
 * load-time validation, Falco's suggested container fields, and Falco JSON
 * alerts.
 */
export {
  compileOutputFormat,
  compileFieldValue,
  validateOutputFormat,
  OutputFormatError,
  NOT_AVAILABLE,
  SUGGESTED_OUTPUT_FIELDS,
  suggestedOutputSuffix,
  withSuggestedOutput,
  type CompiledOutputFormat,
  type OutputIssue,
  type RenderedOutput,
} from './format.ts';
export { createAlertBuilder, formatEventTime, toEpochNanos, type AlertRule, type AlertBuilderOptions } from './alert.ts';
