import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ProbePreconditionError, findProblems, gatherFacts } from '@peregrine/native';
import { Sensor, loadSensorConfig, rulesFilesOf, startFailure, type SensorConfig } from '@peregrine/sensor';
import type { Command } from '../command.ts';
import { wantsHelp } from '../command.ts';

const PEREGRINE_BIN = fileURLToPath(new URL('../../bin/peregrine.js', import.meta.url));

/** Maps to a hub `slack` destination when set (the only thing to do to get alerts in Slack). */
export const SLACK_ENV = 'SLACK_WEBHOOK_URL';

const HELP = `Usage: peregrine run [options]

Watch this machine: starts the alert hub (with its own embedded Redis, on
loopback) as a child process and the sensor with Peregrine's default rules in
this process. Alerts are printed on stdout (Falco text lines), appended to a
JSONL file, and posted to the hub, which delivers them to Slack when
${SLACK_ENV} is set. Needs root and a kernel with BTF (as \`peregrine sensor\`).
\`npm start\` runs this after the bootstrap. Ctrl-C (SIGINT) or SIGTERM stops
both: the probe is detached, the alerts are flushed, the hub drains.

Options:
  --dir DIR            Folder for the alert file, logs, the hub's Redis data and
                       the sensor's spool (default .cache/run).
  --rules FILE         Rules file; repeatable; replaces the default rules.
  --output text|json   Alerts on stdout as Falco text (default) or JSON lines.
  --hub-port N         The hub's port (default 2801).
  --hub-host ADDR      Address the hub listens on (default 127.0.0.1; 0.0.0.0
                       lets other sensors post to it).
  --hub-config FILE    Use this hub configuration (docs/hub.md) instead of the
                       generated one (its listen keys are still overridden).
  --metrics-port N     The sensor's /metrics and /healthz port (default 8765).
  --sensor-config FILE Sensor configuration for the rest (docs/sensor.md).

Environment:
  ${SLACK_ENV}    A Slack incoming-webhook URL: every alert is also sent
                       to Slack by the hub (retries, dead-letter included).
`;

interface RunOptions {
  readonly dir: string;
  readonly rules?: string[];
  readonly output: string;
  readonly hubPort: number;
  readonly hubHost: string;
  readonly hubConfig?: string;
  readonly metricsPort: number;
  readonly sensorConfig?: string;
}

function parseRunArgs(args: string[]): RunOptions {
  const { values } = parseArgs({
    args,
    options: {
      dir: { type: 'string' },
      rules: { type: 'string', multiple: true },
      output: { type: 'string' },
      'hub-port': { type: 'string' },
      'hub-host': { type: 'string' },
      'hub-config': { type: 'string' },
      'metrics-port': { type: 'string' },
      'sensor-config': { type: 'string' },
    },
    strict: true,
  });
  const port = (name: string, v: string | undefined, d: number): number => {
    if (v === undefined) return d;
    const n = Number(v);
    if (!/^\d+$/.test(v) || n > 65535) throw new Error(`${name} must be a port number 0-65535, got "${v}"`);
    return n;
  };
  const output = values.output ?? 'text';
  if (output !== 'text' && output !== 'json') throw new Error(`--output must be text or json, got "${output}"`);
  return {
    dir: resolve(values.dir ?? '.cache/run'),
    rules: values.rules,
    output,
    hubPort: port('--hub-port', values['hub-port'], 2801),
    hubHost: values['hub-host'] ?? '127.0.0.1',
    hubConfig: values['hub-config'],
    metricsPort: port('--metrics-port', values['metrics-port'], 8765),
    sensorConfig: values['sensor-config'],
  };
}

/** The generated hub configuration: loopback, embedded Redis in the run folder, Slack when asked. */
function hubConfigYaml(o: RunOptions, env: NodeJS.ProcessEnv): string {
  const lines = [
    '# Written by `peregrine run` at each start; pass --hub-config FILE to use your own.',
    'listen:',
    `  host: ${JSON.stringify(o.hubHost)}`,
    `  port: ${o.hubPort}`,
    'redis:',
    `  dataDir: ${JSON.stringify(resolve(o.dir, 'hub-redis'))}`,
    'destinations:',
  ];
  if (env[SLACK_ENV]) {
    lines.push('  slack:', '    type: slack', '    settings:', `      webhookUrl: "\${env:${SLACK_ENV}}"`);
  } else {
    lines.push('  {}');
  }
  return `${lines.join('\n')}\n`;
}

/** Child pids of a process (the hub's embedded redis-server), from /proc. */
function childPids(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      for (const c of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/)) if (c) out.push(Number(c));
    }
  } catch {
    // gone, or no /proc
  }
  return out;
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((r) => child.once('exit', (code) => r(code)));
}

async function waitForHub(url: string, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the hub exited during start-up (code ${child.exitCode ?? child.signalCode}); see ${logFile}`);
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`the hub was not ready after 60 s; see ${logFile}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export const runCommand: Command = {
  name: 'run',
  summary: 'Run hub + sensor together on this machine (what `npm start` runs)',
  async run(args: string[]): Promise<number> {
    if (wantsHelp(args)) {
      console.log(HELP);
      return 0;
    }
    let o: RunOptions;
    try {
      o = parseRunArgs(args);
    } catch (e) {
      console.error(`peregrine run: ${(e as Error).message}\n\n${HELP}`);
      return 2;
    }
    // Root and BTF are checked before the hub starts, so a missing one is said at once.
    const problems = findProblems(gatherFacts());
    if (problems.length > 0) {
      console.error(startFailure(new ProbePreconditionError(problems), 'peregrine run')!.message);
      return 1;
    }

    mkdirSync(o.dir, { recursive: true });
    const alertsFile = resolve(o.dir, 'alerts.jsonl');
    const sensorLog = resolve(o.dir, 'sensor.log');
    const hubLog = resolve(o.dir, 'hub.log');
    const hubUrl = `http://${o.hubHost === '0.0.0.0' ? '127.0.0.1' : o.hubHost}:${o.hubPort}`;

    // The sensor's configuration first: a mistake is reported before anything starts.
    let config: SensorConfig;
    try {
      config = loadSensorConfig(
        o.sensorConfig,
        {
          rules: o.rules,
          outputs: { stdout: { enabled: true, format: o.output }, file: { path: alertsFile }, hub: { url: hubUrl, spoolDir: resolve(o.dir, 'spool') } },
          metrics: { port: o.metricsPort },
        },
        process.env,
      );
    } catch (e) {
      const f = startFailure(e, 'peregrine run');
      if (!f) throw e;
      console.error(f.message);
      return f.code;
    }

    let hubConfigFile = o.hubConfig;
    if (hubConfigFile === undefined) {
      hubConfigFile = resolve(o.dir, 'hub.yaml');
      writeFileSync(hubConfigFile, hubConfigYaml(o, process.env), { mode: 0o600 });
    }
    const hubLogFd = openSync(hubLog, 'a');
    // Its own process group: Ctrl-C reaches this process only, which stops the sensor
    // first (its last alerts reach the hub) and then the hub.
    const hub = spawn(process.execPath, [PEREGRINE_BIN, 'hub', '--config', hubConfigFile, '--port', String(o.hubPort)], {
      stdio: ['ignore', hubLogFd, hubLogFd],
      detached: true,
      env: process.env,
    });
    closeSync(hubLogFd);
    const killHubOnExit = (): void => {
      if (hub.exitCode === null && hub.signalCode === null) hub.kill('SIGTERM');
    };
    process.once('exit', killHubOnExit);
    const stopHub = async (): Promise<number | null> => {
      killHubOnExit();
      return exited(hub);
    };

    let sensor: Sensor;
    try {
      await waitForHub(hubUrl, hub, hubLog);
      // The hub and its Redis are ours: their own file and network activity is not what we watch.
      sensor = await Sensor.start({ config, logFile: sensorLog, excludePids: [hub.pid!, ...childPids(hub.pid!)] });
    } catch (e) {
      await stopHub();
      const f = startFailure(e, 'peregrine run');
      console.error(f ? f.message : `peregrine run: ${(e as Error).message}`);
      return f?.code ?? 1;
    }

    const slack = process.env[SLACK_ENV] ? `alerts also go to Slack (${SLACK_ENV} is set)` : `to get alerts in Slack too: ${SLACK_ENV}=https://hooks.slack.com/services/… npm start`;
    console.error(
      [
        'peregrine run: started',
        `  hub      pid ${hub.pid}, ${hubUrl} (POST /v1/alerts; embedded Redis in ${resolve(o.dir, 'hub-redis')}), log ${hubLog}`,
        `  sensor   pid ${process.pid}, ${rulesFilesOf(config).join(', ')}: ${sensor.rules.current.rules.rules.length} rules, ${sensor.rules.current.syscalls.length} syscalls; metrics ${sensor.metricsUrl ?? '(off)'}/metrics; log ${sensorLog}`,
        `  alerts   on stdout and in ${alertsFile}; posted to the hub (spool ${resolve(o.dir, 'spool')})`,
        `  ${slack}`,
        '  Ctrl-C stops both.',
      ].join('\n'),
    );

    return new Promise<number>((resolveExit) => {
      let stopping = false;
      const onHup = (): void => {
        sensor.reload('SIGHUP');
      };
      process.on('SIGHUP', onHup);
      const stop = async (why: string, code: number): Promise<void> => {
        if (stopping) return;
        stopping = true;
        process.off('SIGHUP', onHup);
        console.error(`peregrine run: stopping (${why})`);
        let exit = code;
        try {
          await sensor.close();
        } catch (err) {
          console.error(`peregrine run: the sensor did not close cleanly: ${(err as Error).message}`);
          exit = 1;
        }
        const hubCode = await stopHub();
        if (hubCode !== 0 && code === 0) {
          console.error(`peregrine run: the hub exited with ${hubCode}; see ${hubLog}`);
          exit = 1;
        }
        process.off('exit', killHubOnExit);
        console.error('peregrine run: stopped');
        resolveExit(exit);
      };
      process.once('SIGINT', () => void stop('SIGINT', 0));
      process.once('SIGTERM', () => void stop('SIGTERM', 0));
      hub.once('exit', (code, signal) => {
        if (stopping) return;
        console.error(`peregrine run: the hub exited unexpectedly (${code ?? signal}); see ${hubLog}`);
        void stop('hub exited', 1);
      });
    });
  },
};
