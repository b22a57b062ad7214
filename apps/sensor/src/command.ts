import { parseArgs } from 'node:util';
import pino from 'pino';
import { ProbePreconditionError, findLimitations, findProblems, gatherFacts } from '@peregrine/native';
import { RuleLoadError, formatDiagnostic } from '@peregrine/rules';
import { DEFAULT_RULES_FILE, SensorConfigError, loadSensorConfig, rulesFilesOf, type ConfigOverrides } from './config/load.ts';
import type { SensorConfig } from './config/schema.ts';
import { compileRuleSet } from './pipeline/live-rules.ts';
import { Sensor } from './sensor.ts';

export const SENSOR_HELP = `Usage: peregrine sensor [options]

Watch this machine with the eBPF probe and raise Falco alerts: process, fd and
container state rebuilt from syscall events, Falco rules evaluated locally,
alerts to stdout, a JSONL file and/or a Peregrine hub (with an on-disk spool
while the hub is away). Needs root (CAP_BPF + CAP_PERFMON) and a kernel with
BTF. Configuration reference: docs/sensor.md.

Options:
  --rules FILE          Rules file or folder, loaded in order as Falco does.
                        Repeatable; replaces the defaults (like falco -r).
                        Default: ${DEFAULT_RULES_FILE.replace(/^.*\/packages\//, 'packages/')}
  --output text|json    Alerts on stdout as Falco text lines (default) or Falco
                        JSON, one per line. --output none: nothing on stdout.
  --file PATH           Also append alerts to PATH, one Falco JSON per line.
  --hub URL             Also post alerts to a Peregrine hub (POST URL/v1/alerts,
                        batched, gzip, retries; spooled on disk while it is away).
  --hub-token TOKEN     Bearer token for the hub (or outputs.hub.token with
                        \${env:NAME} in the config file).
  --spool-dir DIR       Hub spool folder (default /var/lib/peregrine/spool).
  --docker-socket PATH  Docker Engine API socket for container metadata.
                        Repeatable; default /var/run/docker.sock.
  --cri-socket PATH     CRI (containerd, cri-o) socket for container and pod
                        metadata. Repeatable; default containerd's and cri-o's.
  --metrics-port N      Port of /metrics (Prometheus) and /healthz (default 8765;
                        0 picks a free port). Loopback only unless
                        --metrics-host (or metrics.host) says otherwise.
  --metrics-host ADDR   Address for /metrics and /healthz (default 127.0.0.1).
  --hostname NAME       hostname in alerts (default: this machine's).
  --config FILE         YAML configuration for everything else: outputs (hub
                        batching, gzip, TLS, spool size), container engines,
                        state table bounds, in-kernel exclusions, drop alerts,
                        log level. Options above override its keys.
  --log-level LEVEL     fatal, error, warn, info (default), debug, trace. Logs go
                        to stderr.
  --check               Validate the configuration and the rules, check that the
                        probe can start here (root, BTF), print the syscall set,
                        and exit (0: ready; 1: it would not start; 2: bad config).
  -h, --help            This text.

Signals: SIGHUP reloads the rules (as does a change of a rules file); a broken
file is reported with file:line:col and the rules in force stay. SIGTERM or
SIGINT detach the probe, flush the outputs (the hub's unsent alerts go to the
spool) and exit 0.
`;

/** Which option set a config key, to name it in an error. */
const OPTION_OF: Record<string, string> = {
  rules: '--rules',
  'outputs.stdout.format': '--output',
  'outputs.file.path': '--file',
  'outputs.hub.url': '--hub',
  'outputs.hub.token': '--hub-token',
  'outputs.hub.spoolDir': '--spool-dir',
  'containers.engines.docker.sockets': '--docker-socket',
  'containers.engines.cri.sockets': '--cri-socket',
  'metrics.port': '--metrics-port',
  'metrics.host': '--metrics-host',
  hostname: '--hostname',
  logLevel: '--log-level',
};

/** Every option of `peregrine sensor` (a test checks each is in SENSOR_HELP). */
export const SENSOR_OPTIONS = {
  config: { type: 'string' },
  rules: { type: 'string', multiple: true },
  output: { type: 'string' },
  file: { type: 'string' },
  hub: { type: 'string' },
  'hub-token': { type: 'string' },
  'spool-dir': { type: 'string' },
  'docker-socket': { type: 'string', multiple: true },
  'cri-socket': { type: 'string', multiple: true },
  'metrics-port': { type: 'string' },
  'metrics-host': { type: 'string' },
  hostname: { type: 'string' },
  'log-level': { type: 'string' },
  check: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface ParsedSensorArgs {
  readonly configFile?: string;
  readonly overrides: ConfigOverrides;
  readonly check: boolean;
  readonly help: boolean;
}

function numberOrText(v: string): number | string {
  return /^\d+$/.test(v) ? Number(v) : v;
}

/** Command-line options → the config file path and overrides of config keys. Throws on unknown options. */
export function parseSensorArgs(args: string[]): ParsedSensorArgs {
  const { values } = parseArgs({
    args,
    options: SENSOR_OPTIONS,
    strict: true,
    allowPositionals: false,
  });
  const o: Record<string, unknown> = {};
  const set = (path: string, value: unknown): void => {
    if (value === undefined) return;
    const keys = path.split('.');
    let at = o;
    for (const k of keys.slice(0, -1)) at = (at[k] ??= {}) as Record<string, unknown>;
    at[keys[keys.length - 1]!] = value;
  };
  set('rules', values.rules);
  if (values.output === 'none') set('outputs.stdout.enabled', false);
  else if (values.output !== undefined) {
    set('outputs.stdout.enabled', true);
    set('outputs.stdout.format', values.output);
  }
  set('outputs.file.path', values.file);
  set('outputs.hub.url', values.hub);
  set('outputs.hub.token', values['hub-token']);
  set('outputs.hub.spoolDir', values['spool-dir']);
  set('containers.engines.docker.sockets', values['docker-socket']);
  set('containers.engines.cri.sockets', values['cri-socket']);
  set('metrics.port', values['metrics-port'] === undefined ? undefined : numberOrText(values['metrics-port']));
  set('metrics.host', values['metrics-host']);
  set('hostname', values.hostname);
  set('logLevel', values['log-level']);
  return { configFile: values.config, overrides: o, check: values.check === true, help: values.help === true };
}

function describeConfigError(e: SensorConfigError): string {
  const lines = e.issues.map((i) => {
    const option = OPTION_OF[i.path] ?? OPTION_OF[i.path.replace(/\.\d+$/, '')];
    return `  ${i.path}: ${i.message}${option ? ` (from ${option})` : ''}`;
  });
  return `peregrine sensor: invalid configuration (${e.source}):\n${lines.join('\n')}`;
}

/** The message and exit code for a failure to start. */
export function startFailure(err: unknown, command = 'peregrine sensor'): { message: string; code: number } | undefined {
  if (err instanceof SensorConfigError) return { message: describeConfigError(err).replace(/^peregrine sensor/, command), code: 2 };
  if (err instanceof RuleLoadError) {
    const errors = err.diagnostics.filter((d) => d.severity === 'error');
    return { message: `${command}: the rules do not load:\n${(errors.length > 0 ? errors : err.diagnostics).map(formatDiagnostic).join('\n')}`, code: 1 };
  }
  if (err instanceof ProbePreconditionError) {
    return { message: `${command}: ${err.message}\nThe sensor needs root (or CAP_BPF + CAP_PERFMON), a kernel with BTF and tracefs: fix what is listed above (README.md, "Troubleshooting").`, code: 1 };
  }
  return undefined;
}

function check(config: SensorConfig): number {
  const files = rulesFilesOf(config);
  const v = compileRuleSet(files, { hostname: config.hostname, allMatches: config.ruleMatching === 'all', minimumPriority: config.minimumPriority }, 1);
  console.log(`configuration OK; rules OK: ${v.rules.rules.length} rule(s) from ${files.join(', ')}`);
  for (const w of v.warnings) console.log(`warning: ${w}`);
  console.log(`syscalls captured (${v.syscalls.length}): ${v.syscalls.join(', ')}`);
  for (const u of v.uncovered) console.log(`warning: rule "${u.rule}" ${u.never ? 'cannot fire' : 'fires only in part'}: the probe does not capture ${u.missing.join(', ')}`);
  const outputs = [
    config.outputs.stdout.enabled ? `stdout (${config.outputs.stdout.format})` : undefined,
    config.outputs.file.path !== undefined ? `file ${config.outputs.file.path}` : undefined,
    config.outputs.hub.url !== undefined ? `hub ${config.outputs.hub.url} (spool ${config.outputs.hub.spoolDir})` : undefined,
  ].filter(Boolean);
  console.log(`outputs: ${outputs.join(', ') || '(none)'}`);
  const facts = gatherFacts();
  const problems = findProblems(facts);
  if (problems.length > 0) {
    console.log(`the probe cannot start here:\n  - ${problems.join('\n  - ')}`);
    return 1;
  }
  console.log('probe: preconditions met (root/capabilities, BTF, tracefs)');
  for (const limitation of findLimitations(facts)) console.log(`warning: ${limitation}`);
  return 0;
}

/**
 * `peregrine sensor [options]`: loads the config and rules, starts the
 * sensor, reloads on SIGHUP, stops cleanly on SIGTERM/SIGINT. Resolves to
 * the exit code.
 */
export async function runSensorCommand(args: string[]): Promise<number> {
  let parsed: ParsedSensorArgs;
  try {
    parsed = parseSensorArgs(args);
  } catch (e) {
    console.error(`peregrine sensor: ${(e as Error).message}\n\n${SENSOR_HELP}`);
    return 2;
  }
  if (parsed.help) {
    console.log(SENSOR_HELP);
    return 0;
  }
  let config: SensorConfig;
  try {
    config = loadSensorConfig(parsed.configFile, parsed.overrides);
    if (parsed.check) return check(config);
  } catch (e) {
    const f = startFailure(e);
    if (!f) throw e;
    console.error(f.message);
    return f.code;
  }
  const logger = pino({ name: 'sensor', level: config.logLevel, redact: ['*.token'] }, pino.destination(2));
  let sensor: Sensor;
  try {
    sensor = await Sensor.start({ config, logger });
  } catch (e) {
    const f = startFailure(e);
    if (!f) {
      console.error(`peregrine sensor: cannot start: ${(e as Error).message}`);
      return 1;
    }
    console.error(f.message);
    return f.code;
  }
  return waitForStop(sensor);
}

/** SIGHUP reloads; SIGTERM/SIGINT close the sensor and resolve to the exit code. */
export function waitForStop(sensor: Sensor): Promise<number> {
  const onHup = (): void => {
    sensor.reload('SIGHUP');
  };
  process.on('SIGHUP', onHup);
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      process.off('SIGHUP', onHup);
      sensor.logger.info({ signal }, 'stopping: detaching the probe, flushing outputs');
      sensor.close().then(
        () => {
          sensor.logger.info('stopped');
          resolve(0);
        },
        (err: unknown) => {
          sensor.logger.error({ err }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
