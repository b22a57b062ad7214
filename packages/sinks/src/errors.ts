import type { ZodError } from 'zod';

/** Every error this package throws (delivery failures are results, not errors). */
export const SINK_ERROR_CODES = {
  PGR_SINKS_UNKNOWN_TYPE: 'no sink module for this type',
  PGR_SINKS_CONFIG_INVALID: 'sink settings failed validation',
  PGR_SINKS_TEMPLATE_INVALID: 'a template failed to compile',
} as const;

export type SinkErrorCode = keyof typeof SINK_ERROR_CODES;

/** A destination's settings are wrong: lists every problem with its key path. */
export class SinkConfigError extends Error {
  override readonly name = 'SinkConfigError';
  constructor(
    readonly code: 'PGR_SINKS_UNKNOWN_TYPE' | 'PGR_SINKS_CONFIG_INVALID',
    message: string,
    /** One entry per problem: dotted key path (relative to the destination's settings) and reason. */
    readonly issues: ReadonlyArray<{ readonly path: string; readonly message: string }> = [],
  ) {
    super(message);
  }
}

/** Zod issues as `path: reason` lines, e.g. `customHeaders.X Bad: "X Bad" is not a valid HTTP header name`. */
export function describeZodIssues(error: ZodError): Array<{ path: string; message: string }> {
  return error.issues.map((issue) => ({
    path: issue.path.length === 0 ? '(settings)' : issue.path.join('.'),
    message: issue.message,
  }));
}
