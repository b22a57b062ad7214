/**
 * `peregrine sensor` as a user runs it: a child process of the real CLI.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SENSOR_HELP, SENSOR_OPTIONS, parseSensorArgs } from '../src/command.ts';
import { waitFor } from './sensor-support.ts';

const PEREGRINE = fileURLToPath(new URL('../../cli/bin/peregrine.js', import.meta.url));

function peregrine(args: string[], opts: { uid?: number } = {}): { status: number | null; stdout: string; stderr: string } {
  const cmd = opts.uid === undefined ? [process.execPath, PEREGRINE, ...args] : ['setpriv', `--reuid=${opts.uid}`, `--regid=${opts.uid}`, '--clear-groups', '--inh-caps=-all', process.execPath, PEREGRINE, ...args];
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', timeout: 120_000, env: { ...process.env, HOME: tmpdir() } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('--help documents every option the command accepts', () => {
  const r = peregrine(['sensor', '--help']);
  assert.equal(r.status, 0);
  assert.equal(r.stdout.trim(), SENSOR_HELP.trim());
  for (const [name, spec] of Object.entries(SENSOR_OPTIONS)) {
    assert.match(SENSOR_HELP, new RegExp(`^  ${'short' in spec ? `-${spec.short}, ` : ''}--${name}\\b`, 'm'), `--${name} documented`);
  }
  const documented = [...SENSOR_HELP.matchAll(/^ {2}(?:-\w, )?--([a-z-]+)/gm)].map((m) => m[1]);
  assert.deepEqual(documented.sort(), Object.keys(SENSOR_OPTIONS).sort(), 'no documented option that does not exist');
  assert.throws(() => parseSensorArgs(['--no-such-option']));
});

test('--check validates config and rules and shows the syscall set; errors name the key or file:line:col', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pg-sensor-cmd-'));
  try {
    const ok = peregrine(['sensor', '--check']);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /configuration OK; rules OK: \d+ rule\(s\) from .*peregrine_rules\.yaml/);
    assert.match(ok.stdout, /syscalls captured \(\d+\): .*\bopenat\b.*\bclose\b/);
    assert.match(ok.stdout, /probe: preconditions met/);

    const badPort = peregrine(['sensor', '--check', '--metrics-port', 'eighty']);
    assert.equal(badPort.status, 2);
    assert.match(badPort.stderr, /metrics\.port: Expected number, received string \(from --metrics-port\)/);

    const rules = join(dir, 'broken.yaml');
    writeFileSync(rules, '- rule: r\n  desc: d\n  condition: evt.type = openat and\n  output: o\n  priority: WARNING\n');
    const broken = peregrine(['sensor', '--rules', rules]);
    assert.equal(broken.status, 1);
    assert.match(broken.stderr, new RegExp(`the rules do not load:\\n${rules.replace(/[.]/g, '\\.')}:\\d+:\\d+: error`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('without root: says what is missing and how to fix it, exit 1', () => {
  const r = peregrine(['sensor', '--metrics-port', '0'], { uid: 65534 });
  assert.equal(r.status, 1, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, /the eBPF probe cannot start/);
  assert.match(r.stderr, /missing CAP_BPF and CAP_PERFMON \(euid 65534\): run as root/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
});

test('SIGHUP reloads the rules without restarting; SIGTERM stops with exit 0', { timeout: 120_000 }, async () => {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'pg-sensor-hup-')));
  chmodSync(dir, 0o755);
  const rules = join(dir, 'rules.yaml');
  const rule = (name: string) => `- rule: ${name}\n  desc: d\n  condition: evt.type in (open, openat) and fd.name startswith ${dir}/mark\n  output: ${name} %fd.name\n  priority: WARNING\n`;
  writeFileSync(rules, rule('hup before'));
  const config = join(dir, 'sensor.yaml');
  writeFileSync(config, 'watchRules: false\ncontainers: {enabled: false}\n');
  const child = spawn(process.execPath, [PEREGRINE, 'sensor', '--config', config, '--rules', rules, '--output', 'json', '--metrics-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const rulesOf = (): string[] => stdout.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { rule: string }).rule);
  try {
    await waitFor(() => stderr.includes('sensor running'), `sensor start:\n${stderr}`, 60_000);
    spawnSync('touch', [join(dir, 'mark1')]);
    await waitFor(() => rulesOf().includes('hup before'), 'alert of the first rules');
    writeFileSync(rules, rule('hup after'));
    child.kill('SIGHUP');
    await waitFor(() => stderr.includes('rules reloaded (SIGHUP)'), `reload:\n${stderr}`);
    spawnSync('touch', [join(dir, 'mark2')]);
    await waitFor(() => rulesOf().includes('hup after'), 'alert of the reloaded rules');
    assert.deepEqual(rulesOf(), ['hup before', 'hup after']);
    child.kill('SIGTERM');
    assert.equal(await exit, 0, stderr);
    assert.match(stderr, /"signal":"SIGTERM".*stopping/);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
