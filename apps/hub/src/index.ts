// Public entry of @peregrine/hub: re-exports only.
export { startHub } from './hub.ts';
export type { RunningHub, StartHubOptions } from './hub.ts';
export { loadHubConfig, parseHubConfig } from './config/load.ts';
export { hubConfigSchema } from './config/schema.ts';
export type { HubConfig, HubConfigInput, DestinationConfig, MatchConfig, DeliveryConfig, ThrottleConfig, EnrichConfig } from './config/schema.ts';
export { SIDEKICK_ENV_VARS, unreadSidekickVariables } from './config/sidekick-env.ts';
export { HubConfigError, RedisUnavailableError, HUB_ERROR_CODES } from './errors.ts';
export type { HubErrorCode, ConfigIssue } from './errors.ts';
export type { DeadLetterEntry } from './delivery/dead-letter.ts';
export { HubMetrics } from './metrics.ts';
export { runHubCommand } from './command.ts';
export { exitAfterShutdown } from './exit-after-shutdown.ts';
