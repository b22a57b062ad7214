/** Every error the hub throws (delivery failures are results, not errors). */
export const HUB_ERROR_CODES = {
  PGR_HUB_CONFIG_INVALID: 'the hub configuration failed validation',
  PGR_HUB_REDIS_UNAVAILABLE: 'Redis could not be reached or started',
} as const;

export type HubErrorCode = keyof typeof HUB_ERROR_CODES;

/** One configuration problem: dotted key path and reason. */
export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
}

/** The configuration is wrong; lists every problem found, each with its key path. */
export class HubConfigError extends Error {
  override readonly name = 'HubConfigError';
  readonly code = 'PGR_HUB_CONFIG_INVALID';
  constructor(
    readonly source: string,
    readonly issues: readonly ConfigIssue[],
  ) {
    super(`invalid hub configuration (${source}):\n${issues.map((i) => `  ${i.path}: ${i.message}`).join('\n')}`);
  }
}

/** Redis is missing, not installed, or did not start. */
export class RedisUnavailableError extends Error {
  override readonly name = 'RedisUnavailableError';
  readonly code = 'PGR_HUB_REDIS_UNAVAILABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
