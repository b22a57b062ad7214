/**
 * Acceptance on a real kernel with real containers (issue 9): the seed
 * article's custom rules over Peregrine's default rules (which supply the
 * `write` and `chmod` macros) each fire once from a real action, with the
 * output fields expected for it; and the container metadata of a CRI pod
 * (privileged and not, with labels), a Docker container and a host process
 * is right on the first alert after the container started.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { startContainerRuntimes, type ContainerRuntimes } from '@peregrine/testkit';
import { criExec, dockerExec, fieldText, LiveHarness, runAction, type RecordedAlert } from './live-harness.ts';
import { SELF_COMM } from './support.ts';

const PEREGRINE_RULES = fileURLToPath(new URL('../../../packages/rules/rules/peregrine_rules.yaml', import.meta.url));
const SEED_RULES = fileURLToPath(new URL('./fixtures/seed_rules.yaml', import.meta.url));
const CONTAINER_FIELDS_RULES = fileURLToPath(new URL('./fixtures/container_fields_rules.yaml', import.meta.url));

let env: ContainerRuntimes;
let harness: LiveHarness;

before(async () => {
  env = await startContainerRuntimes();
  harness = LiveHarness.start({
    rules: [PEREGRINE_RULES, SEED_RULES, CONTAINER_FIELDS_RULES],
    containers: { dockerSockets: [env.dockerSocket], criSockets: [env.containerdSocket] },
  });
});

after(async () => {
  await harness?.close();
  await env?.stop();
});

/** Exactly one alert of the rule for the action (after the stragglers had time to arrive). */
async function once(rule: string, who: Parameters<LiveHarness['alertsFor']>[1]): Promise<RecordedAlert> {
  const hits = await harness.waitFor(rule, who);
  assert.ok(hits.length >= 1, `${rule} did not fire; ${harness.describe(who)}`);
  await harness.settle();
  const all = harness.alertsFor(rule, who);
  assert.equal(all.length, 1, `${rule} fired ${all.length} times: ${all.map((r) => r.alert.output).join(' | ')}`);
  return all[0]!;
}

function expectFields(r: RecordedAlert, expected: Record<string, string | undefined>): void {
  for (const [key, value] of Object.entries(expected)) {
    assert.ok(key in r.alert.output_fields, `${r.alert.rule}: output_fields has no ${key} (${JSON.stringify(r.alert.output_fields)})`);
    assert.equal(fieldText(r.alert, key), value, `${r.alert.rule}: ${key}`);
  }
}

test('seed: a file written below /etc (created and removed) fires once', async () => {
  const file = `/etc/pg-seed-${randomUUID()}`;
  const script = `echo seed > ${file}; rm -f ${file}`;
  try {
    const run = await runAction('/bin/sh', ['-c', script]);
    assert.equal(run.exitCode, 0, run.stderr);
    const r = await once('Seed write below etc', { pid: run.pid });
    expectFields(r, {
      'user.name': 'root',
      'proc.cmdline': `sh -c ${script}`,
      'proc.name': 'sh',
      'fd.name': file,
      'container.id': 'host',
    });
    assert.equal(r.alert.priority, 'Error');
  } finally {
    rmSync(file, { force: true });
  }
});

/** The bits' names in libsinsp's chmod_mode table order (S_IXOTH first, S_ISUID last): 0644 -> S_IROTH|S_IRGRP|S_IWUSR|S_IRUSR. */
function modeNames(mode: number): string {
  const order = ['S_IXOTH', 'S_IWOTH', 'S_IROTH', 'S_IXGRP', 'S_IWGRP', 'S_IRGRP', 'S_IXUSR', 'S_IWUSR', 'S_IRUSR', 'S_ISVTX', 'S_ISGID', 'S_ISUID'];
  const names = order.filter((_, bit) => (mode & (1 << bit)) !== 0);
  return names.length > 0 ? names.join('|') : '0';
}

test('seed: chmod of /etc/passwd to the mode it already has fires once', async () => {
  const mode = (statSync('/etc/passwd').mode & 0o7777).toString(8).padStart(4, '0');
  const run = await runAction('chmod', [mode, '/etc/passwd']);
  assert.equal(run.exitCode, 0, run.stderr);
  const r = await once('Seed chmod of /etc/passwd', { pid: run.pid });
  expectFields(r, {
    'user.name': 'root',
    'proc.cmdline': `chmod ${mode} /etc/passwd`,
    'evt.arg.filename': '/etc/passwd',
    // PT_MODE: evt.arg.mode is the bit names (libsinsp's chmod_mode order), not the octal number.
    'evt.arg.mode': modeNames(Number.parseInt(mode, 8)),
    'evt.res': 'SUCCESS',
  });
});

test('seed: a process named kubectl with exec arguments fires once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pg-seed-kubectl-'));
  try {
    const kubectl = join(dir, 'kubectl');
    copyFileSync('/bin/true', kubectl);
    const run = await runAction(kubectl, ['exec', '-it', 'web-0', '--', 'sh']);
    assert.equal(run.exitCode, 0, run.stderr);
    const r = await once('Seed kubectl exec', { pid: run.pid });
    expectFields(r, {
      'user.name': 'root',
      'proc.cmdline': 'kubectl exec -it web-0 -- sh',
      'proc.args': 'exec -it web-0 -- sh',
      'proc.pname': SELF_COMM,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('seed: a shell in a Docker container fires once, with its container fields on the first alert', async () => {
  const c = await env.runDockerContainer({ name: `seed-shell-${process.pid}`, labels: { app: 'ignored-outside-k8s' } });
  const id = c.id.slice(0, 12);
  const marker = `pg-meta-${randomUUID()}`;
  // Right after start: no waiting for the registry to learn the container.
  assert.equal(await dockerExec(env, c.id, ['sh', '-c', `echo ${marker}`]), 0);
  const r = await once('Seed shell in a container', { containerId: id, marker });
  const expected = {
    'container.id': id,
    'container.name': c.name,
    'container.image.repository': 'local/busybox',
    'container.privileged': 'false',
    'proc.name': 'sh',
    'proc.cmdline': `sh -c echo ${marker}`,
    'user.name': 'root',
    'k8s.pod.name': '<NA>',
    'k8s.ns.name': '<NA>',
    'k8s.pod.uid': '<NA>',
    'k8s.pod.label[app]': '<NA>',
  };
  expectFields(r, expected);
  // Whatever rule alerted first for this container printed the same container fields.
  const first = harness.recorded.find((x) => x.containerId === id);
  assert.ok(first);
  for (const [key, value] of Object.entries(expected)) {
    if ((key.startsWith('container.') || key.startsWith('k8s.')) && key in first.alert.output_fields) assert.equal(fieldText(first.alert, key), value, `first alert: ${key}`);
  }
});

/** The first alert of the container (any rule) and the marked shell's alert, both with the expected container/k8s fields. */
async function expectFirstAlertFields(containerId: string, marker: string, expected: Record<string, string>): Promise<void> {
  const hits = await harness.waitFor('Marked shell with container fields', { containerId, marker });
  assert.equal(hits.length, 1, `the marked shell alerted ${hits.length} times; ${harness.describe({ containerId, marker })}`);
  const first = harness.recorded.find((x) => x.containerId === containerId);
  assert.ok(first);
  for (const r of [first, hits[0]!]) {
    for (const [key, value] of Object.entries(expected)) {
      if (!(key in r.alert.output_fields)) continue; // the first alert's rule may print fewer fields
      assert.equal(fieldText(r.alert, key), value, `${r.alert.rule} (${r === first ? 'first alert of the container' : 'marked shell'}): ${key}`);
    }
  }
  for (const key of Object.keys(expected)) assert.ok(key in hits[0]!.alert.output_fields, key);
}

test('container metadata: a CRI pod + container (not privileged, labels) on its first alert', async () => {
  const pod = await env.runPod({
    name: `web-${process.pid}`,
    namespace: 'shop',
    labels: { app: 'web', tier: 'front' },
    container: { name: 'web-server' },
  });
  const id = pod.containerId.slice(0, 12);
  const marker = `pg-meta-${randomUUID()}`;
  const run = await criExec(env, pod.containerId, ['sh', '-c', `echo ${marker}`]);
  assert.equal(run.exitCode, 0, run.stderr);
  await expectFirstAlertFields(id, marker, {
    'container.id': id,
    'container.name': 'web-server',
    'container.image.repository': 'docker.io/local/busybox',
    'container.privileged': 'false',
    'k8s.pod.name': pod.name,
    'k8s.ns.name': 'shop',
    'k8s.pod.uid': pod.uid,
    'k8s.pod.label[app]': 'web',
  });
});

test('container metadata: a privileged CRI pod + container on its first alert', async () => {
  const pod = await env.runPod({
    name: `agent-${process.pid}`,
    namespace: 'kube-system',
    privileged: true,
    labels: { app: 'agent' },
    container: { name: 'agent' },
  });
  const id = pod.containerId.slice(0, 12);
  const marker = `pg-meta-${randomUUID()}`;
  const run = await criExec(env, pod.containerId, ['sh', '-c', `echo ${marker}`]);
  assert.equal(run.exitCode, 0, run.stderr);
  await expectFirstAlertFields(id, marker, {
    'container.id': id,
    'container.name': 'agent',
    'container.image.repository': 'docker.io/local/busybox',
    'container.privileged': 'true',
    'k8s.pod.name': pod.name,
    'k8s.ns.name': 'kube-system',
    'k8s.pod.uid': pod.uid,
    'k8s.pod.label[app]': 'agent',
  });
});

test('container metadata: a privileged Docker container on its first alert (no k8s fields)', async () => {
  const c = await env.runDockerContainer({ name: `tools-${process.pid}`, privileged: true, labels: { app: 'tools' } });
  const id = c.id.slice(0, 12);
  const marker = `pg-meta-${randomUUID()}`;
  assert.equal(await dockerExec(env, c.id, ['sh', '-c', `echo ${marker}`]), 0);
  await expectFirstAlertFields(id, marker, {
    'container.id': id,
    'container.name': c.name,
    'container.image.repository': 'local/busybox',
    'container.privileged': 'true',
    'k8s.pod.name': '<NA>',
    'k8s.ns.name': '<NA>',
    'k8s.pod.uid': '<NA>',
    'k8s.pod.label[app]': '<NA>',
  });
});

test('container metadata: a host process gives host and no k8s fields', async () => {
  const marker = `pg-meta-${randomUUID()}`;
  const run = await runAction('/bin/sh', ['-c', `echo ${marker}`]);
  assert.equal(run.exitCode, 0);
  const hits = await harness.waitFor('Marked shell with container fields', { pid: run.pid });
  assert.equal(hits.length, 1, harness.describe({ pid: run.pid }));
  expectFields(hits[0]!, {
    'container.id': 'host',
    'container.name': 'host',
    'k8s.pod.name': '<NA>',
    'k8s.ns.name': '<NA>',
    'k8s.pod.uid': '<NA>',
    'k8s.pod.label[app]': '<NA>',
  });
});
