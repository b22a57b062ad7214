import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import type { Alert } from '@peregrine/alert';
import { validateAlert } from '@peregrine/alert';
import { formatAlertLine } from '../src/output/stdout-output.ts';
import { parseSensorConfig } from '../src/config/load.ts';
import { DROP_RULE, DropMonitor, TokenBucket, dropAlert, type DropCounters } from '../src/drop-alert.ts';
import { SensorMetrics, startMetricsServer, type SensorSnapshot } from '../src/metrics.ts';
import { Sensor } from '../src/sensor.ts';
import { collectingOutput, quietLogger, waitFor } from './sensor-support.ts';

const snapshot = (over: Partial<SensorSnapshot> = {}): SensorSnapshot => ({
  eventsByType: { openat: 10, execve: 2, sched: 5 },
  eventsEvaluated: 12,
  kernelDrops: 3,
  userDrops: 1,
  malformedRecords: 0,
  processes: 7,
  fds: 40,
  evictedProcesses: 0,
  containers: { entries: 2, known: 1, lookups: 5, lookupFailures: 1 },
  outputs: { hub: { sent: 4, spoolAlerts: 6, spoolBytes: 1200, spoolOldestAgeSeconds: 9 } },
  rulesLoaded: 8,
  rulesGeneration: 2,
  reloadFailures: 1,
  ...over,
});

function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('/metrics reads the sensor at scrape time; /healthz answers 200 or 503', async () => {
  let snap = snapshot();
  let healthy = true;
  const metrics = new SensorMetrics(() => snap);
  metrics.observeAlert({ rule: 'Read Sensitive File', priority: 'Warning' } as Alert);
  metrics.batchSeconds.observe(0.002);
  const server = await startMetricsServer(metrics, () => ({ ok: healthy, probe: healthy ? 'running' : 'closed' }), '127.0.0.1', 0);
  try {
    let text = await (await fetch(`${server.url}/metrics`)).text();
    assert.equal(value(text, 'peregrine_sensor_events_total{type="openat"}'), 10);
    assert.equal(value(text, 'peregrine_sensor_events_evaluated_total'), 12);
    assert.equal(value(text, 'peregrine_sensor_drops_total{where="kernel"}'), 3);
    assert.equal(value(text, 'peregrine_sensor_drops_total{where="user"}'), 1);
    assert.equal(value(text, 'peregrine_sensor_alerts_total{rule="Read Sensitive File",priority="Warning"}'), 1);
    assert.equal(value(text, 'peregrine_sensor_state_entries{table="processes"}'), 7);
    assert.equal(value(text, 'peregrine_sensor_state_entries{table="containers"}'), 2);
    assert.equal(value(text, 'peregrine_sensor_container_lookups_total{result="failed"}'), 1);
    assert.equal(value(text, 'peregrine_sensor_spool_bytes'), 1200);
    assert.equal(value(text, 'peregrine_sensor_spool_oldest_age_seconds'), 9);
    assert.equal(value(text, 'peregrine_sensor_output_alerts{output="hub",stat="sent"}'), 4);
    assert.equal(value(text, 'peregrine_sensor_batch_evaluation_seconds_count'), 1);
    assert.equal(value(text, 'peregrine_sensor_rules_generation'), 2);
    // Cumulative counters follow the source without double counting.
    snap = snapshot({ eventsByType: { openat: 25, execve: 2, sched: 5 }, kernelDrops: 3 });
    text = await (await fetch(`${server.url}/metrics`)).text();
    assert.equal(value(text, 'peregrine_sensor_events_total{type="openat"}'), 25);
    assert.equal(value(text, 'peregrine_sensor_drops_total{where="kernel"}'), 3);

    const ok = await fetch(`${server.url}/healthz`);
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { ok: true, probe: 'running' });
    healthy = false;
    assert.equal((await fetch(`${server.url}/healthz`)).status, 503);
    assert.equal((await fetch(`${server.url}/other`)).status, 404);
  } finally {
    await server.close();
  }
});

test('drops: Falco\'s internal alert with kernel and user-space counts, rate-limited by a token bucket', () => {
  const a = dropAlert({ events: 1000, kernelDrops: 40, userDrops: 2 }, 'node-1');
  assert.equal(a.rule, DROP_RULE);
  assert.equal(a.rule, 'Falco internal: syscall event drop');
  assert.equal(a.priority, 'Debug');
  assert.equal(a.output, 'Falco internal: syscall event drop. 42 system calls dropped in last second.');
  assert.equal(a.output_fields.n_drops, '42');
  assert.equal(a.output_fields.n_drops_buffer_total, '40');
  assert.equal(a.output_fields.n_drops_userspace, '2');
  assert.equal(a.output_fields.ebpf_enabled, '1');
  assert.equal(validateAlert(JSON.parse(JSON.stringify(a))).ok, true, 'a valid alert for the hub');
  assert.match(formatAlertLine(a, 'text'), /: Debug Falco internal: syscall event drop\. 42 system calls dropped in last second\.$/);

  const bucket = new TokenBucket(1 / 30, 1, 0);
  assert.equal(bucket.take(0), true);
  assert.equal(bucket.take(1000), false);
  assert.equal(bucket.take(31_000), true);

  let counters: DropCounters = { events: 0, kernelDrops: 0, userDrops: 0 };
  const emitted: Alert[] = [];
  const logged: string[] = [];
  const monitor = new DropMonitor({
    read: () => counters,
    hostname: 'h',
    alert: true,
    log: true,
    rate: 1 / 3600,
    maxBurst: 1,
    emit: (x) => emitted.push(x),
    logger: { warn: (_o, m) => logged.push(m) },
    intervalMs: 3_600_000,
  });
  try {
    monitor.check();
    assert.equal(emitted.length, 0, 'no drops, no alert');
    counters = { events: 500, kernelDrops: 7, userDrops: 0 };
    monitor.check();
    counters = { events: 900, kernelDrops: 9, userDrops: 1 };
    monitor.check();
    assert.equal(emitted.length, 1, 'the second interval with drops is within the rate limit');
    assert.equal(emitted[0]!.output_fields.n_drops, '7');
    assert.equal(emitted[0]!.output_fields.n_evts, '500');
    assert.deepEqual(logged, [emitted[0]!.output]);
    assert.deepEqual(monitor.stats, { intervalsWithDrops: 2, actionsTaken: 1 });
  } finally {
    monitor.close();
  }
});

test('a live sensor counts events, alerts and state in /metrics and is healthy', { timeout: 60_000 }, async () => {
  const out = collectingOutput();
  const config = parseSensorConfig({ outputs: { stdout: { enabled: false } }, containers: { enabled: false }, metrics: { port: 0 } });
  const sensor = await Sensor.start({ config, logger: quietLogger(), extraOutputs: [out] });
  try {
    const url = sensor.metricsUrl!;
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(spawnSync('cat', ['/etc/shadow'], { stdio: 'ignore' }).status, 0);
    await waitFor(() => out.alerts.some((a) => a.rule === 'Read Sensitive File' && a.output_fields['proc.name'] === 'cat'), 'Read Sensitive File alert');
    const text = await (await fetch(`${url}/metrics`)).text();
    assert.ok((value(text, 'peregrine_sensor_alerts_total{rule="Read Sensitive File",priority="Warning"}') ?? 0) >= 1, text);
    assert.ok((value(text, 'peregrine_sensor_events_total{type="openat"}') ?? 0) >= 1);
    assert.ok((value(text, 'peregrine_sensor_events_evaluated_total') ?? 0) >= 1);
    assert.ok((value(text, 'peregrine_sensor_state_entries{table="processes"}') ?? 0) > 10);
    assert.ok((value(text, 'peregrine_sensor_batch_evaluation_seconds_count') ?? 0) >= 1);
    const health = await fetch(`${url}/healthz`);
    assert.equal(health.status, 200);
    const body = (await health.json()) as { ok: boolean; probe: string; rules: { generation: number } };
    assert.equal(body.probe, 'running');
    assert.equal(body.rules.generation, 1);
  } finally {
    await sensor.close();
  }
  assert.equal(sensor.health().ok, false, 'closed');
});
