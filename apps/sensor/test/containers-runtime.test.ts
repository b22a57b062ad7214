import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { startContainerRuntimes } from '@peregrine/testkit';
import type { ContainerRuntimes } from '@peregrine/testkit';
import { ContainerRegistry } from '../src/containers/registry.ts';
import { matchProcCgroup } from '../src/containers/cgroup.ts';

// Real containerd (CRI) and dockerd from Debian's packages, real pods and
// containers from locally built images; the sensor's view of them goes
// /proc/<pid>/cgroup → our parser → the registry → the runtimes' own APIs.

let env: ContainerRuntimes;
let registry: ContainerRegistry;

before(async () => {
  env = await startContainerRuntimes();
  // How long the environment took to come up, by step (for whoever keeps it small).
  console.log(`container environment up in ${env.startup.total} ms: ${JSON.stringify(env.startup)}`);
  registry = new ContainerRegistry({
    // Lists of sockets like the plugin's engines.*.sockets; one that does not exist is skipped.
    engines: { cri: { sockets: ['/run/peregrine-no-such-runtime.sock', env.containerdSocket] }, docker: { sockets: [env.dockerSocket] } },
    pollIntervalMs: 0,
    exitedTtlMs: 0,
    logger: pino({ level: 'silent' }),
  });
});

after(async () => {
  await registry?.close();
  await env?.stop();
});

function procCgroup(pid: number): string {
  return readFileSync(`/proc/${pid}/cgroup`, 'utf8');
}

test('a CRI pod + container (not privileged, labels): id from its cgroup, metadata from containerd', async () => {
  const pod = await env.runPod({
    name: 'web-7d4b9c',
    namespace: 'shop',
    labels: { app: 'web', tier: 'front' },
    container: { name: 'nginx-like', labels: { role: 'server' } },
  });
  const id = registry.idForProcCgroup(procCgroup(pod.pid));
  assert.equal(id, pod.containerId.slice(0, 12));
  assert.equal(matchProcCgroup(procCgroup(pod.pid))?.fullId, pod.containerId);
  const info = await registry.whenKnown(id, 10_000);
  assert.ok(info, 'metadata arrives');
  assert.equal(info.id, id);
  assert.equal(info.fullId, pod.containerId);
  assert.equal(info.type, 'containerd');
  assert.equal(info.name, 'nginx-like');
  assert.equal(info.image, 'docker.io/local/busybox:test');
  assert.equal(info.imageRepository, 'docker.io/local/busybox');
  assert.equal(info.imageTag, 'test');
  assert.equal(info.privileged, false);
  assert.equal(info.podName, 'web-7d4b9c');
  assert.equal(info.podNamespace, 'shop');
  assert.equal(info.podUid, pod.uid);
  assert.equal(info.podSandboxId, pod.sandboxId);
  assert.deepEqual(info.podLabels, { app: 'web', tier: 'front' });
  assert.equal(info.labels?.role, 'server');
  assert.ok(info.startTs !== undefined && info.startTs > 1_600_000_000_000_000_000n, `start time in ns: ${info.startTs}`);
});

test('a privileged CRI pod + container on the host network', async () => {
  const pod = await env.runPod({
    name: 'agent-x1',
    namespace: 'kube-system',
    privileged: true,
    hostNetwork: true,
    labels: { app: 'agent' },
    container: { name: 'agent' },
  });
  const id = registry.idForProcCgroup(procCgroup(pod.pid));
  assert.equal(id, pod.containerId.slice(0, 12));
  const info = await registry.whenKnown(id, 10_000);
  assert.ok(info);
  assert.equal(info.name, 'agent');
  assert.equal(info.privileged, true);
  assert.equal(info.podName, 'agent-x1');
  assert.equal(info.podNamespace, 'kube-system');
  assert.equal(info.podUid, pod.uid);
  assert.equal(info.podLabels?.app, 'agent');
});

test('a Docker container (privileged, labels): metadata from the Docker Engine API; gone from the cache once removed', async () => {
  const container = await env.runDockerContainer({ name: 'tools-1', privileged: true, labels: { owner: 'ops' } });
  const text = procCgroup(container.pid);
  assert.match(text, new RegExp(`:/docker/${container.id}$`, 'm'));
  const id = registry.idForProcCgroup(text);
  assert.equal(id, container.id.slice(0, 12));
  assert.equal(registry.typeOf(id), 'docker');
  const info = await registry.whenKnown(id, 10_000);
  assert.ok(info);
  assert.equal(info.type, 'docker');
  assert.equal(info.name, 'tools-1');
  assert.equal(info.image, 'docker.io/local/busybox:test');
  assert.equal(info.imageRepository, 'local/busybox');
  assert.equal(info.imageTag, 'test');
  assert.equal(info.privileged, true);
  assert.equal(info.labels?.owner, 'ops');
  assert.equal(info.podName, undefined);
  assert.equal(info.podNamespace, undefined);
  assert.equal(info.podLabels, undefined);

  await env.docker!.ok('DELETE', `/containers/${container.id}?force=1`);
  await registry.poll();
  assert.equal(registry.info(id), undefined, 'a removed container expires (exitedTtlMs 0 here)');
});

test('the poll knows a new container before its first event: its first lookup is already answered', async () => {
  const container = await env.runDockerContainer({ name: 'fresh-1' });
  await registry.poll();
  const id = registry.idForProcCgroup(procCgroup(container.pid));
  const info = registry.info(id);
  assert.ok(info, 'known synchronously at the first sight of its cgroup');
  assert.equal(info.name, 'fresh-1');
  assert.equal(info.privileged, false);
});

test('a host process gives host and no k8s fields', () => {
  const text = procCgroup(process.pid);
  const id = registry.idForProcCgroup(text);
  assert.equal(id, 'host');
  const info = registry.info(id);
  assert.equal(info?.type, 'host');
  assert.equal(info?.podName, undefined);
  assert.equal(info?.podNamespace, undefined);
  assert.equal(info?.podUid, undefined);
  assert.equal(info?.podLabels, undefined);
});
