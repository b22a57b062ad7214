// End-to-end drill of issue 9 ("Alerts out"): real `peregrine sensor` processes
// on the live probe post what they raise to the real hub, started as its own
// process with `peregrine hub --config FILE` (its embedded redis-server keeps its
// data in a folder of this test, so the queues survive the hub's restart),
// delivering to a local webhook receiver. The hub is away for two minutes while
// the sensor raises 1,000 alerts and is itself restarted half way.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { eventually, freeLoopbackPort, startHttpReceiver } from '../support/index.ts';
import type { HttpReceiver, ReceivedRequest } from '../support/index.ts';

// What `npx peregrine` runs (the workspace's bin), started with node directly so signals reach the hub itself.
const PEREGRINE_BIN = fileURLToPath(new URL('../../apps/cli/bin/peregrine.js', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TOKEN = 'e2e-sensor-token';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface HubChild {
  readonly child: ChildProcess;
  output(): string;
  /** SIGTERM (the hub drains and stops its redis-server); resolves with the exit code. */
  stop(): Promise<number | null>;
}

async function startHub(configPath: string, port: number): Promise<HubChild> {
  const child = spawn(process.execPath, [PEREGRINE_BIN, 'hub', '--config', configPath, '--port', String(port), '--log-level', 'warn'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (c: Buffer) => {
    output = (output + c.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`hub exited during start-up (${child.exitCode}):\n${output}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`hub not ready after 60 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** A `peregrine sensor` process watching this machine, posting to the hub, with its spool in `spoolDir`. */
interface SensorChild {
  readonly child: ChildProcess;
  readonly metricsPort: number;
  output(): string;
  /** A sample of the sensor's /metrics: the sum of the series that match; undefined when none does. */
  metric(series: RegExp): Promise<number | undefined>;
  /** SIGTERM (the probe detaches, unsent alerts go to the spool); resolves with the exit code. */
  stop(): Promise<number | null>;
}

async function startSensor(args: { rules: string; config: string; hubUrl: string; spoolDir: string }): Promise<SensorChild> {
  const metricsPort = await freeLoopbackPort();
  const child = spawn(
    process.execPath,
    [PEREGRINE_BIN, 'sensor', '--config', args.config, '--rules', args.rules, '--output', 'none', '--hub', args.hubUrl, '--hub-token', TOKEN, '--spool-dir', args.spoolDir, '--metrics-port', String(metricsPort)],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const keep = (c: Buffer) => {
    output = (output + c.toString()).slice(-40_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 90_000;
  while (!output.includes('sensor running')) {
    if (child.exitCode !== null) throw new Error(`sensor exited during start-up (${child.exitCode}):\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`sensor not running after 90 s:\n${output}`);
    }
    await sleep(50);
  }
  return {
    child,
    metricsPort,
    output: () => output,
    async metric(series) {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      const lines = text.split('\n').filter((l) => !l.startsWith('#') && series.test(l));
      return lines.length === 0 ? undefined : lines.reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** The drill numbers of the alerts the webhook received, in arrival order (batches are JSON arrays). */
function receivedNumbers(requests: readonly ReceivedRequest[]): number[] {
  return requests.flatMap((r) =>
    (JSON.parse(r.body) as Array<{ output_fields: Record<string, string> }>).map((a) => {
      const m = /mark-(\d+)$/.exec(a.output_fields['fd.name'] ?? '');
      if (!m) throw new Error(`an alert that is not the drill's: ${JSON.stringify(a)}`);
      return Number(m[1]);
    }),
  );
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k);

describe('hub outage drill (real hub process, embedded Redis, real sensor processes on the live probe)', () => {
  let work: string;
  let receiver: HttpReceiver;
  let configPath: string;
  const hubs: HubChild[] = [];
  const sensors: SensorChild[] = [];

  before(async () => {
    // fd.name is the resolved path: the marks' folder is named by its real path.
    work = realpathSync(mkdtempSync(join(tmpdir(), 'e2e-hub-outage-')));
    chmodSync(work, 0o755);
    receiver = await startHttpReceiver();
    configPath = join(work, 'hub.yaml');
    writeFileSync(
      configPath,
      [
        'listen: { host: 127.0.0.1 }',
        `auth: { tokens: ["${TOKEN}"] }`,
        `redis: { dataDir: "${join(work, 'redis')}" }`,
        // One delivery at a time keeps the webhook's arrival order the hub's queue order.
        'delivery: { concurrency: 1, maxBatch: 200, backoffInitialMs: 100, backoffMaxMs: 1000 }',
        'destinations:',
        '  hook:',
        '    type: webhook',
        `    settings: { address: "${receiver.url}/in", batchAsArray: true }`,
        '',
      ].join('\n'),
    );
  });

  after(async () => {
    for (const s of sensors) await s.stop();
    for (const h of hubs) await h.stop();
    await receiver.close();
    rmSync(work, { recursive: true, force: true });
  });

  test('hub stopped for 2 minutes while the sensor raises 1,000 alerts, the sensor restarted mid-outage: all arrive after it returns, in order, none twice', { timeout: 480_000 }, async () => {
    const port = await freeLoopbackPort();
    const hubUrl = `http://127.0.0.1:${port}`;
    const marks = join(work, 'marks');
    const spoolDir = join(work, 'spool');
    const rules = join(work, 'drill-rules.yaml');
    writeFileSync(
      rules,
      `- rule: Hub outage drill\n  desc: a file of the drill opened\n  condition: evt.type in (open, openat, openat2) and fd.name startswith ${marks}/mark-\n  output: drill mark opened (file=%fd.name)\n  priority: WARNING\n`,
    );
    const sensorConfig = join(work, 'sensor.yaml');
    // Retries every ≤ 2 s, so the hub's return is noticed quickly; no container lookups (host process only).
    writeFileSync(sensorConfig, 'watchRules: false\ncontainers: { enabled: false }\noutputs: { hub: { lingerMs: 20, backoffInitialMs: 200, backoffMaxMs: 2000 } }\n');
    mkdirSync(marks);
    // Each alert is one file of the drill opened (created) by this process, numbered in order.
    const raise = (n: number) => writeFileSync(join(marks, `mark-${String(n).padStart(5, '0')}`), '');
    const startOurSensor = async () => {
      const s = await startSensor({ rules, config: sensorConfig, hubUrl, spoolDir });
      sensors.push(s);
      return s;
    };
    // A rule's series appears with its first alert.
    const drillAlerts = async (s: SensorChild) => (await s.metric(/^peregrine_sensor_alerts_total\{[^}]*rule="Hub outage drill"/)) ?? 0;
    const spooled = (s: SensorChild) => s.metric(/^peregrine_sensor_spool_alerts\b/);

    let hub = await startHub(configPath, port);
    hubs.push(hub);
    let sensor = await startOurSensor();
    let n = 0;
    // Before the outage: straight through.
    for (; n < 20; n++) raise(n);
    await receiver.waitFor((rs) => receivedNumbers(rs).length >= 20, 60_000);
    assert.equal(await spooled(sensor), 0);

    // The outage: two minutes, 1,000 alerts at an even pace, the sensor restarted half way.
    assert.equal(await hub.stop(), 0, `the hub stopped cleanly:\n${hub.output()}`);
    const outageMs = 120_000;
    const outageStart = Date.now();
    const during = 1000;
    const first = n;
    let raisedBySensor = first;
    for (let k = 0; k < during; k++, n++) {
      if (k === during / 2) {
        // Every alert raised so far was seen by this sensor before it is stopped.
        await eventually(`sensor 1 raised ${raisedBySensor} drill alerts`, async () => (await drillAlerts(sensor)) >= raisedBySensor, 60_000, 100);
        assert.equal(await sensor.stop(), 0, `sensor 1 stopped cleanly:\n${sensor.output()}`);
        sensor = await startOurSensor();
        assert.equal(await spooled(sensor), during / 2, 'the restarted sensor found the first half in its spool');
        raisedBySensor = 0;
      }
      raise(n);
      raisedBySensor++;
      const due = outageStart + ((k + 1) * outageMs) / during;
      if (due > Date.now()) await sleep(due - Date.now());
    }
    await eventually(`sensor 2 raised ${raisedBySensor} drill alerts`, async () => (await drillAlerts(sensor)) >= raisedBySensor, 60_000, 100);
    await eventually('every outage alert in the spool', async () => (await spooled(sensor)) === during, 60_000, 100);
    assert.deepEqual(receivedNumbers(receiver.requests), range(0, first), 'nothing got through while the hub was down');
    assert.ok(((await sensor.metric(/^peregrine_sensor_spool_oldest_age_seconds\b/)) ?? 0) > 0, 'the spool reports the age of its oldest alert');

    // The hub returns; alerts raised while the spool drains queue behind it.
    hub = await startHub(configPath, port);
    hubs.push(hub);
    for (let k = 0; k < 20; k++, n++) raise(n);
    await receiver.waitFor((rs) => receivedNumbers(rs).length >= n, 180_000);
    // Anything still in flight in the hub would show up as a duplicate: wait until its queue is empty.
    await sleep(2000);
    const got = receivedNumbers(receiver.requests);
    assert.equal(new Set(got).size, got.length, `none twice (${got.length - new Set(got).size} duplicates)`);
    // Events the probe lost (its ring full while other work floods the machine) would be a gap
    // here that is not the hub output's: the message says so. The counter's series appears with its first drop.
    const probeDrops = (await sensor.metric(/^peregrine_sensor_drops_total\{/)) ?? 0;
    assert.deepEqual(got, range(0, n), `all, in order (events the second sensor's probe lost: ${probeDrops})`);
    assert.equal(await spooled(sensor), 0);
    assert.equal(await sensor.metric(/^peregrine_sensor_output_alerts\{[^}]*output="hub"[^}]*stat="dropped"/), 0, 'the spool dropped nothing');
    assert.equal(await sensor.metric(/^peregrine_sensor_output_alerts\{[^}]*output="hub"[^}]*stat="refused"/), 0, 'the hub refused nothing');
    assert.equal(await sensor.stop(), 0, sensor.output());
  });
});
