/**
 * Reload drill on a live probe: a child process creates files f0, f1, … in a
 * loop while the rules file is replaced by a broken one and then by a good
 * one. At each step the right rules are in force (alerts raised before the
 * good reload are v1's, after it v2's; the broken file changes nothing and
 * is reported with file:line:col), the probe's syscall set follows the rules,
 * and no event is lost: every file the child created has exactly one alert.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Alert } from '@peregrine/alert';
import { parseSensorConfig } from '../src/config/load.ts';
import { compileRuleSet, type ReloadResult } from '../src/pipeline/live-rules.ts';
import { Sensor } from '../src/sensor.ts';
import { collectingOutput, quietLogger, waitFor } from './sensor-support.ts';

function rulesV1(work: string): string {
  return `- rule: drill v1
  desc: a file created by the drill's child
  condition: evt.type in (open, openat, openat2) and fd.name startswith ${work}/f
  output: drill v1 %fd.name
  priority: WARNING
`;
}

function rulesV2(work: string): string {
  return `- rule: drill v2
  desc: a file created by the drill's child
  condition: evt.type in (open, openat, openat2) and fd.name startswith ${work}/f
  output: drill v2 %fd.name
  priority: NOTICE
- rule: drill v2 mkdir
  desc: a folder made by the test
  condition: evt.type in (mkdir, mkdirat) and evt.rawres >= 0
  output: drill v2 mkdir %evt.args
  priority: NOTICE
`;
}

test('reload drill: broken then good rules file while events flow; right rules at each step, no event gap', { timeout: 120_000 }, async () => {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'pg-reload-')));
  const work = join(dir, 'work');
  mkdirSync(work);
  const rulesFile = join(dir, 'rules.yaml');
  writeFileSync(rulesFile, rulesV1(work));
  const out = collectingOutput();
  const reloads: ReloadResult[] = [];
  const config = parseSensorConfig({
    rules: [rulesFile],
    outputs: { stdout: { enabled: false } },
    containers: { enabled: false },
    metrics: { enabled: false },
    // Room for bursts of whatever else this machine runs meanwhile (tests of others share it).
    probe: { ringBytes: 64 * 1024 * 1024 },
  });
  const sensor = await Sensor.start({ config, logger: quietLogger(), extraOutputs: [out] });
  // Index of the first alert emitted after each reload attempt.
  const alertsAtReload: number[] = [];
  sensor.onReload((r) => {
    reloads.push(r);
    alertsAtReload.push(out.alerts.length);
  });
  const child = spawn('/bin/sh', ['-c', 'i=0; while [ ! -e ../stop ]; do : > f$i; i=$((i+1)); sleep 0.005; done; echo $i > ../count'], { cwd: work, stdio: 'ignore' });
  const childExit = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    assert.ok(!sensor.rules.current.syscalls.includes('mkdirat'), 'v1 does not need mkdirat');
    await waitFor(() => out.alerts.length >= 20, 'v1 alerts flowing');

    // 1. A broken file: reported with file:line:col, v1 stays in force.
    writeFileSync(rulesFile, `${rulesV1(work)}- rule: broken\n  desc: x\n  condition: evt.type = openat and (proc.name = a\n  output: x\n  priority: WARNING\n`);
    await waitFor(() => reloads.length >= 1, 'the broken file is noticed');
    const bad = reloads[0]!;
    assert.equal(bad.ok, false);
    assert.match(bad.ok ? '' : bad.error, new RegExp(`${rulesFile.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+:\\d+: error`), 'file:line:col');
    assert.equal(sensor.rules.current.generation, 1);
    const afterBad = alertsAtReload[0]!;
    await waitFor(() => out.alerts.length >= afterBad + 20, 'alerts still flowing after the broken file');

    // 2. A good file, replaced the way editors and deploy tools do (write aside, rename over).
    writeFileSync(`${rulesFile}.tmp`, rulesV2(work));
    renameSync(`${rulesFile}.tmp`, rulesFile);
    await waitFor(() => reloads.some((r) => r.ok), 'the good file is loaded');
    const good = reloads.find((r) => r.ok)!;
    assert.ok(good.ok && good.syscallsChanged, 'v2 needs mkdir/mkdirat');
    assert.equal(sensor.rules.current.generation, 2);
    assert.ok(sensor.rules.current.syscalls.includes('mkdirat'));
    const swapAt = alertsAtReload[reloads.indexOf(good)]!;
    await waitFor(() => out.alerts.length >= swapAt + 20, 'v2 alerts flowing');
    // The probe captures the new syscall now: a folder made after the reload raises v2's other rule.
    // (By a child: the sensor's own process, this one, is excluded in the kernel.)
    assert.equal(spawnSync('mkdir', [join(dir, 'made-after-reload')]).status, 0);
    await waitFor(() => out.alerts.some((a) => a.rule === 'drill v2 mkdir' && a.output.includes('made-after-reload')), 'mkdir alert');

    writeFileSync(join(dir, 'stop'), '');
    await childExit;
    const count = Number(readFileSync(join(dir, 'count'), 'utf8').trim());
    const fileAlerts = (): Alert[] => out.alerts.filter((a) => a.rule === 'drill v1' || a.rule === 'drill v2');
    await waitFor(() => fileAlerts().some((a) => a.output_fields['fd.name'] === `${work}/f${count - 1}`), 'alert for the last file');

    // Right rules at each step: v1 strictly before the good reload, v2 after.
    out.alerts.forEach((a, i) => {
      if (a.rule === 'drill v1') assert.ok(i < swapAt, `v1 alert #${i} after the swap at ${swapAt}`);
      if (a.rule === 'drill v2') assert.ok(i >= swapAt, `v2 alert #${i} before the swap at ${swapAt}`);
    });
    // No gap, no duplicate: f0 … f(count-1), once each, in order.
    const seq = fileAlerts().map((a) => Number(String(a.output_fields['fd.name']).slice(`${work}/f`.length)));
    assert.equal(seq.length, count, `one alert per file created (${count} files)`);
    seq.forEach((n, i) => assert.equal(n, i, `alert ${i} is for f${i}`));
    assert.ok(fileAlerts().filter((a) => a.rule === 'drill v1').length >= 40);
    assert.ok(fileAlerts().filter((a) => a.rule === 'drill v2').length >= 20);
    const drops = sensor.snapshot();
    assert.equal(drops.kernelDrops + drops.userDrops, 0, 'no drops during the drill');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await sensor.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the syscall set: the rules\' event types plus the state syscalls; rules the probe cannot feed are named', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pg-rules-set-'));
  try {
    const file = join(dir, 'r.yaml');
    writeFileSync(
      file,
      `- rule: kill only
  desc: d
  condition: evt.type = kill
  output: o
  priority: NOTICE
- rule: kill or unlink
  desc: d
  condition: evt.type in (kill, unlinkat)
  output: o
  priority: NOTICE
`,
    );
    const v = compileRuleSet([file], {}, 1);
    for (const s of ['unlinkat', 'openat', 'close', 'dup2', 'socket', 'connect', 'accept4', 'execve']) assert.ok(v.syscalls.includes(s), s);
    assert.ok(!v.syscalls.includes('chmod'), 'only what the rules or the state need');
    assert.deepEqual(v.unsupported, ['kill']);
    assert.deepEqual(v.uncovered, [
      { rule: 'kill only', missing: ['kill'], never: true },
      { rule: 'kill or unlink', missing: ['kill'], never: false },
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
