/**
 * Falcosidekick's environment variables for the outputs Peregrine shares, so
 * a sidekick deployment switches by changing the image. Each enabled output
 * becomes a destination named after it (`slack`, `pagerduty`, `webhook`)
 * unless the config file already has a destination of that name.
 *
 * `*_MINIMUMPRIORITY` follows Falco's names; "" means every priority. Unlike
 * Falcosidekick, `info` means Informational (sidekick treats it as "all").
 */
type RawConfig = Record<string, unknown>;

interface SidekickOutput {
  readonly name: string;
  /** The env var that enables the output (its "primary key"). */
  readonly enabledBy: string;
  /** sidekick env var → Peregrine setting key. */
  readonly settings: Readonly<Record<string, string>>;
  readonly fixed?: Readonly<Record<string, unknown>>;
}

const OUTPUTS: readonly SidekickOutput[] = [
  {
    name: 'slack',
    enabledBy: 'SLACK_WEBHOOKURL',
    settings: {
      SLACK_WEBHOOKURL: 'webhookUrl',
      SLACK_CHANNEL: 'channel',
      SLACK_USERNAME: 'username',
      SLACK_ICON: 'icon',
      SLACK_FOOTER: 'footer',
      SLACK_OUTPUTFORMAT: 'outputFormat',
    },
  },
  {
    name: 'pagerduty',
    enabledBy: 'PAGERDUTY_ROUTINGKEY',
    settings: { PAGERDUTY_ROUTINGKEY: 'routingKey', PAGERDUTY_REGION: 'region' },
  },
  {
    name: 'webhook',
    enabledBy: 'WEBHOOK_ADDRESS',
    settings: { WEBHOOK_ADDRESS: 'address', WEBHOOK_METHOD: 'method', WEBHOOK_CUSTOMHEADERS: 'customHeaders' },
  },
];

/** Names of the sidekick variables this module reads (for docs and tests). */
export const SIDEKICK_ENV_VARS: readonly string[] = [
  'LISTENADDRESS',
  'LISTENPORT',
  ...OUTPUTS.flatMap((o) => [...Object.keys(o.settings), `${o.name.toUpperCase()}_MINIMUMPRIORITY`]),
];

/**
 * Adds the sidekick outputs to the raw config. `origins` receives, for each
 * config key path set from a variable, the variable's name (for error messages).
 */
export function applySidekickEnv(raw: RawConfig, env: NodeJS.ProcessEnv, origins: Map<string, string> = new Map()): RawConfig {
  const out: RawConfig = { ...raw };
  const listen = { ...(asRecord(raw.listen) ?? {}) };
  if (nonEmpty(env.LISTENADDRESS) && listen.host === undefined) {
    listen.host = env.LISTENADDRESS;
    origins.set('listen.host', 'LISTENADDRESS');
  }
  if (nonEmpty(env.LISTENPORT) && listen.port === undefined) {
    listen.port = Number(env.LISTENPORT);
    origins.set('listen.port', 'LISTENPORT');
  }
  if (Object.keys(listen).length > 0) out.listen = listen;

  const destinations = { ...(asRecord(raw.destinations) ?? {}) };
  for (const output of OUTPUTS) {
    if (!nonEmpty(env[output.enabledBy]) || destinations[output.name] !== undefined) continue;
    const settings: Record<string, unknown> = { ...output.fixed };
    for (const [variable, key] of Object.entries(output.settings)) {
      if (nonEmpty(env[variable])) {
        settings[key] = env[variable];
        origins.set(`destinations.${output.name}.settings.${key}`, variable);
      }
    }
    const match: Record<string, unknown> = {};
    const minimumVariable = `${output.name.toUpperCase()}_MINIMUMPRIORITY`;
    const minimum = env[minimumVariable];
    if (nonEmpty(minimum)) {
      match.minimumPriority = minimum;
      origins.set(`destinations.${output.name}.match.minimumPriority`, minimumVariable);
    }
    destinations[output.name] = { type: output.name, settings, match };
  }
  if (Object.keys(destinations).length > 0) out.destinations = destinations;
  return out;
}

function nonEmpty(v: string | undefined): v is string {
  return v !== undefined && v.trim() !== '';
}

function asRecord(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}
