import { SinkConfigError, describeZodIssues } from './errors.ts';
import type { Sink } from './sink.ts';
import type { SinkDeps, SinkModule } from './sink-module.ts';
import { fileSinkModule } from './file/index.ts';
import { kafkaSinkModule } from './kafka/index.ts';
import { lambdaSinkModule } from './lambda/index.ts';
import { openSearchSinkModule } from './opensearch/index.ts';
import { pagerDutySinkModule } from './pagerduty/index.ts';
import { slackSinkModule } from './slack/index.ts';
import { stdoutSinkModule } from './stdout/index.ts';
import { webhookSinkModule } from './webhook/index.ts';

/**
 * Every destination type, by `type`. Frozen: the set is fixed at build time.
 * Each entry is typed precisely in its own module (e.g. `webhookSinkModule`).
 */
export const sinkModules: Readonly<Record<string, SinkModule>> = Object.freeze(
  Object.fromEntries([slackSinkModule, pagerDutySinkModule, webhookSinkModule, stdoutSinkModule, fileSinkModule, kafkaSinkModule, openSearchSinkModule, lambdaSinkModule].map((m: SinkModule) => [m.type, m])),
);

/**
 * Validates raw settings with the type's schema and builds the sink. Throws
 * SinkConfigError listing every problem as `<name>.<key path>: reason` — for
 * start-up, never per delivery.
 */
export function createSink(type: string, rawSettings: unknown, deps: SinkDeps, name: string = type): Sink {
  const module = sinkModules[type];
  if (module === undefined) {
    throw new SinkConfigError(
      'PGR_SINKS_UNKNOWN_TYPE',
      `destination "${name}": unknown sink type "${type}"; known types: ${Object.keys(sinkModules).join(', ')}`,
    );
  }
  const parsed = module.settingsSchema.safeParse(rawSettings);
  if (!parsed.success) {
    const issues = describeZodIssues(parsed.error);
    throw new SinkConfigError(
      'PGR_SINKS_CONFIG_INVALID',
      `destination "${name}" (${type}) has invalid settings:\n${issues.map((i) => `  ${name}.${i.path}: ${i.message}`).join('\n')}`,
      issues,
    );
  }
  return module.create(parsed.data, deps);
}
