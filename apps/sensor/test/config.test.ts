import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DEFAULT_RULES_FILE, SensorConfigError, loadSensorConfig, parseSensorConfig, rulesFilesOf } from '../src/config/load.ts';
import { SENSOR_DOC, withSensorReference } from '../src/config/write-reference.ts';
import { parseSensorArgs } from '../src/command.ts';

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof SensorConfigError) return e.issues.map((i) => `${i.path}: ${i.message}`);
    throw e;
  }
  assert.fail('expected a SensorConfigError');
}

test('an empty configuration gives the documented defaults and the default rules', () => {
  const c = parseSensorConfig({});
  assert.deepEqual(rulesFilesOf(c), [DEFAULT_RULES_FILE]);
  assert.match(readFileSync(DEFAULT_RULES_FILE, 'utf8'), /rule: Read Sensitive File/);
  assert.equal(c.outputs.stdout.enabled, true);
  assert.equal(c.outputs.stdout.format, 'text');
  assert.equal(c.outputs.file.path, undefined);
  assert.equal(c.outputs.hub.url, undefined);
  assert.equal(c.metrics.host, '127.0.0.1', 'metrics on loopback by default');
  assert.equal(c.metrics.port, 8765);
  assert.equal(c.minimumPriority, 'Debug');
  assert.equal(c.probe.whenBehind, 'block');
});

test('every problem is reported with its key path and reason', () => {
  const issues = issuesOf(() =>
    parseSensorConfig({
      outputs: { stdout: { format: 'xml' }, hub: { url: 'ftp://x', spoolMaxBytes: -1, tls: { certFile: '/c.pem' } } },
      metrics: { port: 70000 },
      probe: { ringBytes: 5000 },
      minimumPriority: 'loud',
      exclusions: { pathPrefixes: [{ prefix: 'proc/' }] },
      colour: 'blue',
    }),
  );
  const paths = issues.map((i) => i.split(':')[0]);
  for (const p of [
    'outputs.stdout.format',
    'outputs.hub.url',
    'outputs.hub.spoolMaxBytes',
    'outputs.hub.tls.keyFile',
    'metrics.port',
    'probe.ringBytes',
    'minimumPriority',
    'exclusions.pathPrefixes.0.prefix',
    '(root)',
  ]) {
    assert.ok(paths.includes(p), `${p} in:\n${issues.join('\n')}`);
  }
  assert.ok(issues.some((i) => i.startsWith('minimumPriority: unknown priority "loud"')), issues.join('\n'));
  assert.ok(issues.some((i) => i === '(root): unknown key(s) "colour"'), issues.join('\n'));
  assert.ok(issues.some((i) => i.startsWith('probe.ringBytes: must be a power of two')), issues.join('\n'));
});

test('YAML file: syntax errors name line and column; options override its keys; ${env:NAME}', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pg-sensor-config-'));
  try {
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, 'outputs:\n  stdout: {format: json\n');
    const e = issuesOf(() => loadSensorConfig(broken));
    assert.match(e[0]!, /^\(line \d+, column \d+\): /);
    const missing = issuesOf(() => loadSensorConfig(join(dir, 'nope.yaml')));
    assert.match(missing[0]!, /^\(file\): cannot read: ENOENT/);

    const file = join(dir, 'sensor.yaml');
    writeFileSync(file, 'rules: [/a.yaml, /b.yaml]\noutputs:\n  stdout: {format: json}\n  hub: {url: "http://hub:2801", token: "${env:HUB_TOKEN}", lingerMs: 10}\n');
    const c = loadSensorConfig(file, { rules: ['/c.yaml'], outputs: { hub: { spoolDir: '/tmp/s' } } }, { HUB_TOKEN: 'sekret-token-value' });
    assert.deepEqual(c.rules, ['/c.yaml'], '--rules replaces the list');
    assert.equal(c.outputs.stdout.format, 'json', 'file keys kept');
    assert.equal(c.outputs.hub.url, 'http://hub:2801');
    assert.equal(c.outputs.hub.lingerMs, 10);
    assert.equal(c.outputs.hub.spoolDir, '/tmp/s', 'override merged into the file\'s mapping');
    assert.equal(c.outputs.hub.token, 'sekret-token-value');
    const unset = issuesOf(() => loadSensorConfig(file, {}, {}));
    assert.deepEqual(unset, ['outputs.hub.token: environment variable HUB_TOKEN is not set (referenced as ${env:HUB_TOKEN})']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('command-line options map onto config keys', () => {
  const p = parseSensorArgs([
    '--rules', '/r1.yaml', '--rules', '/r2.yaml', '--output', 'json', '--file', '/tmp/a.jsonl', '--hub', 'http://h:1',
    '--hub-token', 'tok', '--docker-socket', '/d.sock', '--cri-socket', '/c1.sock', '--cri-socket', '/c2.sock',
    '--metrics-port', '9000', '--hostname', 'node-1', '--config', '/etc/x.yaml', '--check',
  ]);
  assert.equal(p.configFile, '/etc/x.yaml');
  assert.equal(p.check, true);
  const c = parseSensorConfig({}, p.overrides);
  assert.deepEqual(c.rules, ['/r1.yaml', '/r2.yaml']);
  assert.equal(c.outputs.stdout.format, 'json');
  assert.equal(c.outputs.file.path, '/tmp/a.jsonl');
  assert.equal(c.outputs.hub.url, 'http://h:1');
  assert.equal(c.outputs.hub.token, 'tok');
  assert.deepEqual(c.containers.engines.docker.sockets, ['/d.sock']);
  assert.deepEqual(c.containers.engines.cri.sockets, ['/c1.sock', '/c2.sock']);
  assert.equal(c.metrics.port, 9000);
  assert.equal(c.hostname, 'node-1');
  assert.equal(parseSensorConfig({}, parseSensorArgs(['--output', 'none']).overrides).outputs.stdout.enabled, false);
  assert.throws(() => parseSensorArgs(['--colour']), /Unknown option '--colour'/);
  const bad = issuesOf(() => parseSensorConfig({}, parseSensorArgs(['--metrics-port', 'eighty']).overrides));
  assert.deepEqual(bad, ['metrics.port: Expected number, received string']);
});

test('docs/sensor.md carries the configuration reference generated from the schema', () => {
  const doc = readFileSync(SENSOR_DOC, 'utf8');
  assert.equal(withSensorReference(doc), doc, 'run: node --import tsx apps/sensor/src/config/write-reference.ts');
  for (const key of ['outputs.hub.spoolMaxBytes', 'containers.engines.cri.sockets', 'state.maxProcesses', 'exclusions.pathPrefixes[].prefix', 'drops.rate']) {
    assert.ok(doc.includes(`| \`${key}\``), key);
  }
});
