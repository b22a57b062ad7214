// The chart installed for real (issue 12): this repository's images built from its Dockerfiles
// under the test dockerd and imported into containerd's k8s.io namespace, a single-node cluster
// (startTestKubeNode: kubelet on that containerd, scheduler, controller-manager), then
// `helm install --wait` of helm/peregrine with the seed's custom rules, a Slack destination at the
// lab's Slack stand-in (deploy/docker/receiver.Dockerfile) and the responder. The sensor pod loads
// its probe inside the pod; `kubectl exec -it` into a Deployment's pod raises "Terminal shell in
// container" (CRITICAL here) with its k8s.pod.name/k8s.ns.name at the stand-in, a write under
// /etc and a chmod of /etc/passwd raise the other seed rules, and the responder deletes the pod
// (its ReplicaSet replaces it). `helm uninstall` leaves no BPF program of the sensor.
//
// The test cluster has no kube-proxy and no CoreDNS, and its API server listens on loopback:
// the values below put the hub, Redis, the responder and the stand-in on the host network at
// the node's address (or loopback), which the chart allows for such clusters.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { freeLoopbackPort, helmOk, importImagesForKubelet, peregrineChartDir, prepareChartImages, prepareHelm, startTestKubeNode } from '../support/index.ts';
import type { ChartImages, TestKubeNode } from '../support/index.ts';

const run = promisify(execFile);
const NAMESPACE = 'peregrine';
const WORKLOAD_NS = 'shop';
const RELEASE = 'peregrine';

let kube: TestKubeNode | undefined;
let helm = '';
let images: ChartImages;
let scratch = '';
let receiverUrl = '';
let installed = false;
const timings: Record<string, number> = {};

const SEED_RULES = `- rule: Terminal shell in container
  desc: A shell with a terminal was started in a container (kubectl exec -it).
  condition: spawned_process and container and shell_procs and proc.tty != 0 and container_entrypoint
  output: Shell in a container with a terminal (pod=%k8s.pod.name ns=%k8s.ns.name container=%container.name shell=%proc.name cmdline=%proc.cmdline)
  priority: CRITICAL
  tags: [container, shell, mitre_execution]
- rule: Write below etc in container
  desc: A file below /etc was opened for writing inside a container.
  condition: write and container and fd.name startswith /etc/
  output: Write below /etc in a container (file=%fd.name pod=%k8s.pod.name ns=%k8s.ns.name command=%proc.cmdline)
  priority: ERROR
  tags: [filesystem, container]
- rule: Chmod of /etc/passwd
  desc: The permission bits of /etc/passwd were set.
  condition: chmod and evt.arg.filename = /etc/passwd
  output: Permissions of /etc/passwd set (mode=%evt.arg.mode pod=%k8s.pod.name ns=%k8s.ns.name command=%proc.cmdline)
  priority: WARNING
  tags: [filesystem]
`;

async function eventually<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = (error as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${timeoutMs} ms${lastError ? ` (last error: ${lastError})` : ''}\n${await diagnostics()}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** What the cluster looks like, for failure messages. */
async function diagnostics(): Promise<string> {
  if (!kube) return '';
  const parts: string[] = [];
  try {
    parts.push(await kube.kubectl(['get', 'pods', '-A', '-o', 'wide']));
    for (const selector of ['app.kubernetes.io/component=sensor', 'app.kubernetes.io/component=hub', 'app.kubernetes.io/component=responder']) {
      parts.push(await kube.kubectl(['-n', NAMESPACE, 'logs', '-l', selector, '--tail=30']).catch((e: Error) => e.message));
    }
  } catch (error) {
    parts.push((error as Error).message);
  }
  return parts.join('\n').slice(-12_000);
}

interface PodList {
  items: Array<{ metadata: { name: string; uid: string; deletionTimestamp?: string }; status: { phase: string; containerStatuses?: Array<{ ready: boolean; containerID?: string }> } }>;
}

async function pods(namespace: string, selector: string): Promise<PodList['items']> {
  return (JSON.parse(await kube!.kubectl(['-n', namespace, 'get', 'pods', '-l', selector, '-o', 'json'])) as PodList).items;
}

async function runningPod(namespace: string, selector: string): Promise<PodList['items'][number] | undefined> {
  return (await pods(namespace, selector)).find((p) => !p.metadata.deletionTimestamp && p.status.phase === 'Running' && p.status.containerStatuses?.every((c) => c.ready));
}

interface ReceivedMessage {
  body: unknown;
  summary: string;
}

async function messages(): Promise<ReceivedMessage[]> {
  const response = await fetch(`${receiverUrl}/messages`);
  return (await response.json()) as ReceivedMessage[];
}

/** Host pids whose cgroup path names the container. */
function hostPidsOf(containerId: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cgroup`, 'utf8').includes(containerId)) found.push(Number(entry));
    } catch {
      /* gone meanwhile */
    }
  }
  return found;
}

/** Ids of the BPF programs a process holds (program and link fds both name theirs in fdinfo). */
function bpfProgramIdsHeldBy(pid: number): Set<number> {
  const ids = new Set<number>();
  let fds: string[] = [];
  try {
    fds = readdirSync(`/proc/${pid}/fdinfo`);
  } catch {
    return ids;
  }
  for (const fd of fds) {
    try {
      const m = /^prog_id:\s*(\d+)$/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
      if (m) ids.add(Number(m[1]));
    } catch {
      /* closed meanwhile */
    }
  }
  return ids;
}

/** The loaded BPF programs named pg_* (Peregrine's probe), by id. */
function loadedPeregrinePrograms(): Map<number, string> {
  const programs = JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })) as Array<{ id: number; name?: string }>;
  return new Map(programs.filter((p) => p.name?.startsWith('pg_')).map((p) => [p.id, p.name!]));
}

before(async () => {
  let t = Date.now();
  helm = await prepareHelm();
  timings.helmMs = Date.now() - t;
  t = Date.now();
  images = await prepareChartImages();
  timings.imagesMs = Date.now() - t;
  t = Date.now();
  kube = await startTestKubeNode({ lockTimeoutMs: 1_800_000 });
  timings.nodeMs = Date.now() - t;
  t = Date.now();
  await importImagesForKubelet(kube.runtimes.containerdSocket, images.archives);
  timings.importMs = Date.now() - t;
  for (const namespace of [NAMESPACE, WORKLOAD_NS]) await kube.createNamespace(namespace);
  scratch = mkdtempSync(join(tmpdir(), 'peregrine-helm-install-'));
});

after(async () => {
  console.log(JSON.stringify({ helmInstallTest: timings }));
  try {
    if (installed && kube) await helmOk(helm, ['uninstall', RELEASE, '--namespace', NAMESPACE, '--wait'], { kubeconfig: kube.adminKubeconfig }).catch(() => undefined);
  } finally {
    await kube?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
});

test('helm install --wait runs the sensor, the hub with Redis and the responder; the seed journey happens for real', async () => {
  const node = kube!;
  const [hubPort, redisPort, responderPort, receiverPort, metricsPort] = await Promise.all([freeLoopbackPort(), freeLoopbackPort(), freeLoopbackPort(), freeLoopbackPort(), freeLoopbackPort()]);
  receiverUrl = `http://127.0.0.1:${receiverPort}`;

  const apply = (object: object) => node.kubectl(['apply', '-f', '-'], { input: JSON.stringify(object) });
  // The Slack stand-in (the lab's receiver image), on the host's loopback where the hub posts.
  await apply({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'slack-stand-in', namespace: NAMESPACE },
    spec: {
      hostNetwork: true,
      containers: [{ name: 'receiver', image: images.receiver, imagePullPolicy: 'Never', env: [{ name: 'RECEIVER_HOST', value: '127.0.0.1' }, { name: 'RECEIVER_PORT', value: String(receiverPort) }] }],
    },
  });
  await eventually('the Slack stand-in answers', async () => (await fetch(`${receiverUrl}/healthz`)).ok || undefined);

  // The workload: a Deployment whose pod we exec into.
  await apply({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: WORKLOAD_NS },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'web', image: node.images.busybox, imagePullPolicy: 'Never', command: ['sleep', '3600'] }] },
      },
    },
  });

  const image = (ref: string) => {
    const at = ref.lastIndexOf(':');
    return { repository: ref.slice(0, at), tag: ref.slice(at + 1), pullPolicy: 'Never' };
  };
  const nodeIp = node.nodeIp;
  const values = {
    customRules: { 'rules-seed.yaml': SEED_RULES },
    sensor: {
      image: image(images.sensor),
      // The hub is at the node's address (no Service routing here); the probes reach the
      // metrics port on the node's address too.
      hostNetwork: true,
      hubUrl: `http://${nodeIp}:${hubPort}`,
      metricsPort,
      containerEngines: { cri: { enabled: true, sockets: [node.runtimes.containerdSocket] } },
      spoolHostPath: '',
      config: { ruleMatching: 'all', metrics: { host: nodeIp } },
    },
    hub: {
      image: image(images.hub),
      replicas: 1,
      hostNetwork: true,
      listenHost: nodeIp,
      port: hubPort,
      service: { port: hubPort },
      destinations: { slack: { type: 'slack', settings: { webhookUrl: `${receiverUrl}/services/helm` } } },
      delivery: { attempts: 6, backoffInitialMs: 200, backoffMaxMs: 2000 },
    },
    redis: {
      internal: { image: image(images.redis), hostNetwork: true, bindAddress: '127.0.0.1', clientHost: '127.0.0.1', port: redisPort, persistence: { enabled: false } },
    },
    responder: {
      enabled: true,
      image: image(images.responder),
      hostNetwork: true,
      listenHost: nodeIp,
      port: responderPort,
      url: `http://${nodeIp}:${responderPort}/`,
      // The API server listens on loopback only; the responder uses its service account there.
      kubeServer: node.server,
      policy: { namespaces: { allow: [WORKLOAD_NS] } },
    },
  };
  const pgProgramsBefore = loadedPeregrinePrograms().size;
  const valuesFile = join(scratch, 'values.json');
  writeFileSync(valuesFile, JSON.stringify(values));
  let t = Date.now();
  await helmOk(helm, ['install', RELEASE, peregrineChartDir, '--namespace', NAMESPACE, '--values', valuesFile, '--wait', '--timeout', '10m'], { kubeconfig: node.adminKubeconfig, timeoutMs: 700_000 }).catch(async (error: Error) => {
    throw new Error(`${error.message}\n${await diagnostics()}`);
  });
  installed = true;
  timings.installWaitMs = Date.now() - t;

  // The sensor's pod runs its probe: /healthz says so, and its host process holds pg_* programs.
  const sensorPod = await eventually('the sensor pod is ready', () => runningPod(NAMESPACE, 'app.kubernetes.io/component=sensor'));
  const health = (await (await fetch(`http://${nodeIp}:${metricsPort}/healthz`)).json()) as { probe?: string };
  assert.equal(health.probe, 'running');
  const sensorContainerId = sensorPod.status.containerStatuses![0]!.containerID!.replace(/^[a-z]+:\/\//, '');
  const sensorPids = hostPidsOf(sensorContainerId);
  assert.ok(sensorPids.length > 0, 'the sensor container has host processes');
  const sensorPrograms = new Set(sensorPids.flatMap((pid) => [...bpfProgramIdsHeldBy(pid)]));
  const loaded = loadedPeregrinePrograms();
  const ours = [...sensorPrograms].filter((id) => loaded.has(id));
  assert.ok(ours.length > 0, `a process of the sensor pod holds pg_* programs (held: ${[...sensorPrograms].join(', ')}; loaded pg_*: ${[...loaded.keys()].join(', ')})`);
  timings.pgProgramsBeforeInstall = pgProgramsBefore;
  timings.pgProgramsOfSensorPod = ours.length;
  await eventually('the hub is ready', () => runningPod(NAMESPACE, 'app.kubernetes.io/component=hub'));
  await eventually('Redis is ready', () => runningPod(NAMESPACE, 'app.kubernetes.io/component=redis'));
  await eventually('the responder is ready', () => runningPod(NAMESPACE, 'app.kubernetes.io/component=responder'));

  // The seed's journey: kubectl exec -it into the workload pod (a terminal: `script` gives kubectl one).
  const victim = await eventually('the workload pod runs', () => runningPod(WORKLOAD_NS, 'app=web'));
  const victimName = victim.metadata.name;
  const kubeconfig = node.writeKubeconfig(join(scratch, 'admin.kubeconfig'), node.adminToken);
  t = Date.now();
  const command = `${node.binaries.kubectl} --kubeconfig=${kubeconfig} -n ${WORKLOAD_NS} exec -it ${victimName} -- sh -c 'echo x > /etc/helm-test; chmod 644 /etc/passwd; sleep 1'`;
  await run('script', ['-qec', command, '/dev/null'], { timeout: 60_000 });

  const hit = async (rule: string) =>
    eventually(`"${rule}" for ${WORKLOAD_NS}/${victimName} at the Slack stand-in`, async () => {
      const found = (await messages()).filter((m) => {
        const text = JSON.stringify(m.body);
        return text.includes(rule) && text.includes(`pod=${victimName}`) && text.includes(`ns=${WORKLOAD_NS}`);
      });
      return found.length > 0 ? found : undefined;
    });
  await hit('Terminal shell in container');
  timings.execToSlackMs = Date.now() - t;
  await hit('Write below etc in container');
  await hit('Chmod of /etc/passwd');

  // CRITICAL: the responder deletes the pod; its ReplicaSet starts another.
  await eventually(`pod ${victimName} deleted by the responder`, async () => !(await pods(WORKLOAD_NS, 'app=web')).some((p) => p.metadata.name === victimName && !p.metadata.deletionTimestamp));
  timings.execToDeletedMs = Date.now() - t;
  const replacement = await eventually('a replacement pod runs', () => runningPod(WORKLOAD_NS, 'app=web'));
  assert.notEqual(replacement.metadata.name, victimName);

  // helm uninstall: the sensor pod goes and with it every BPF program it held.
  t = Date.now();
  await helmOk(helm, ['uninstall', RELEASE, '--namespace', NAMESPACE, '--wait', '--timeout', '5m'], { kubeconfig: node.adminKubeconfig, timeoutMs: 400_000 });
  installed = false;
  await eventually('the sensor pod is gone', async () => (await pods(NAMESPACE, 'app.kubernetes.io/component=sensor')).length === 0 || undefined);
  await eventually("the sensor's processes are gone", () => hostPidsOf(sensorContainerId).length === 0 || undefined);
  // Every program the sensor pod held is unloaded (other suites on this machine may run
  // sensors of their own meanwhile, so the pg_* total is reported, the pod's own ids asserted).
  const after = loadedPeregrinePrograms();
  assert.deepEqual(ours.filter((id) => after.has(id)).map((id) => `${id}:${after.get(id)}`), [], 'no BPF program of the sensor pod is left after helm uninstall');
  timings.pgProgramsAfterUninstall = after.size;
  timings.uninstallMs = Date.now() - t;
});
