import type { Logger } from 'pino';
import type { z } from 'zod';
import type { Sink } from './sink.ts';

/** What every sink factory gets from the hub. */
export interface SinkDeps {
  /** A child logger already bound to this destination (e.g. `{ sink: 'slack-secops' }`). */
  readonly logger: Logger;
}

/**
 * One destination type: its name, the zod schema of its settings (defaults
 * included) and a factory. The hub validates raw config with `settingsSchema`
 * at start-up and passes the parsed value to `create`.
 *
 * `Settings` is the parsed type; the default `unknown` is what a registry of
 * mixed modules can promise. `create` is declared as a method so a typed
 * module is assignable to `SinkModule<unknown>`: call it only with the output
 * of this module's own `settingsSchema.parse`, or use `createSink`.
 */
export interface SinkModule<Settings = unknown> {
  readonly type: string;
  /** One line for docs and `--help`. */
  readonly summary: string;
  readonly settingsSchema: z.ZodType<Settings, z.ZodTypeDef, unknown>;
  create(settings: Settings, deps: SinkDeps): Sink;
}
