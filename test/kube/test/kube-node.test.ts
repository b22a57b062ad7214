// Smoke tests of the one-node test cluster: kubelet on the testkit's containerd, scheduler,
// controller-manager. A Deployment's pod really runs (its process is on this host), deleting it
// kills the process and the ReplicaSet replaces it; a SIGKILLed run is cleaned up by the next
// start; stop() leaves the host as it was. Takes the containers lock (one environment at a time).
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import { CONTAINERS_LOCK_FILE, KUBELET_ROOT_DIR, KUBE_NODE_NAME, KUBE_POD_LOGS_DIR, acquireLock, startTestKubeNode } from '../../support/index.ts';
import type { TestKubeNode } from '../../support/index.ts';
import { busyboxDeployment, containerHostPid, waitForRunningPods } from './kube-test-helpers.ts';

const SYSCTLS = ['vm/overcommit_memory', 'vm/panic_on_oom', 'kernel/panic', 'kernel/panic_on_oops', 'kernel/keys/root_maxkeys', 'kernel/keys/root_maxbytes'];
const readSysctls = () => Object.fromEntries(SYSCTLS.map((s) => [s, readFileSync(`/proc/sys/${s}`, 'utf8').trim()]));

function runs(pid: number, exe?: string): boolean {
  try {
    const target = readlinkSync(`/proc/${pid}/exe`);
    return exe === undefined || target === exe;
  } catch {
    return false;
  }
}

/** What a node leaves on the host while it runs and must not leave after stop(). */
function hostTraces(): string[] {
  const traces: string[] = [];
  for (const hierarchy of readdirSync('/sys/fs/cgroup')) if (existsSync(`/sys/fs/cgroup/${hierarchy}/kubepods`)) traces.push(`cgroup ${hierarchy}/kubepods`);
  for (const link of ['pgkube0', 'pgtest0']) if (existsSync(`/sys/class/net/${link}`)) traces.push(`link ${link}`);
  for (const dir of [KUBELET_ROOT_DIR, KUBE_POD_LOGS_DIR, '/var/lib/kubelet', '/var/log/pods', '/var/log/containers', '/run/containerd']) if (existsSync(dir)) traces.push(`folder ${dir}`);
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '');
  for (const point of mounts) if (/^(\/var\/lib\/peregrine-kubelet|\/run\/containerd|\/run\/peregrine-containers|\/run\/netns)\//.test(point)) traces.push(`mount ${point}`);
  for (const tool of ['iptables', 'ip6tables']) {
    for (const table of ['filter', 'nat', 'mangle']) {
      const rules = execFileSync(tool, ['-w', '5', '-t', table, '-S'], { encoding: 'utf8' });
      for (const chain of rules.matchAll(/^-N (KUBE-\S+)$/gm)) traces.push(`${tool} ${table} ${chain[1]}`);
    }
  }
  return traces;
}

test('a SIGKILLed node run is cleaned up by the next start; a Deployment pod runs, dies on delete and is replaced; stop() restores the host', { timeout: 2_400_000 }, async (t) => {
  // 1. A run that dies by SIGKILL with a pod running.
  const fixture = fileURLToPath(new URL('./fixtures/start-and-wait.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, 'node'], { stdio: ['ignore', 'pipe', 'inherit'] });
  // sysctlsBefore: the host's values, read by the dead run under the containers lock (read here,
  // outside the lock, they could be another test's kubelet's while its node runs).
  const orphan = await new Promise<{ pids: number[]; exes: string[]; sysctlsBefore: Record<string, string> }>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line) as { pids: number[]; exes: string[]; sysctlsBefore: Record<string, string> });
    });
    child.once('exit', (code) => reject(new Error(`the fixture exited (${code}) before its pod ran:\n${out}`)));
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  // Its servers die with it (PR_SET_PDEATHSIG from spawnServer) or are killed by the next start;
  // containerd, the pod and the host state (mounts, cgroups, iptables, sysctls, links) stay.

  // 2. The next start cleans that up and brings a fresh node up.
  let kube: TestKubeNode | undefined = await startTestKubeNode();
  try {
    assert.ok(orphan.pids.every((pid, i) => !runs(pid, orphan.exes[i])), 'no process of the dead run is left');
    t.diagnostic(`startup ms: ${JSON.stringify(kube.startup)}`);
    t.diagnostic(`RSS MB: ${JSON.stringify(Object.fromEntries(Object.entries(kube.residentBytes()).map(([k, v]) => [k, Math.round(v / 1048576)])))}`);
    const core = kube.kubeConfig().makeApiClient(CoreV1Api);
    const node = await core.readNode({ name: KUBE_NODE_NAME });
    assert.ok(node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    const left = await core.listNamespace();
    assert.ok(!left.items.some((n) => n.metadata?.name === 'left-behind'), 'a fresh etcd: nothing of the dead run');
    assert.deepEqual(kube.hostSysctlsBefore, orphan.sysctlsBefore, 'the next start put the dead run\'s kubelet sysctls back before reading them');

    // 3. A Deployment's pod runs as a real process on this host.
    await kube.createNamespace('smoke-node');
    await kube.kubeConfig().makeApiClient(AppsV1Api).createNamespacedDeployment({ namespace: 'smoke-node', body: busyboxDeployment('sleeper', kube.images.busybox) });
    const [first] = await waitForRunningPods(kube, 'smoke-node', 'app=sleeper', 1, 180_000);
    const firstProcess = await containerHostPid(kube, first!);
    assert.ok(runs(firstProcess.pid), 'the container process exists on the host');
    assert.match(readFileSync(`/proc/${firstProcess.pid}/cgroup`, 'utf8'), new RegExp(`/kubepods/[a-z]+/pod${first!.metadata!.uid}/${firstProcess.containerId}`));
    assert.equal(first!.spec?.nodeName, KUBE_NODE_NAME);
    // The API server reaches the kubelet (logs go through it).
    const logs = await kube.kubectl(['-n', 'smoke-node', 'logs', first!.metadata!.name!]);
    assert.match(logs, /sleeper started/);

    // 4. Deleting the pod kills its process; the ReplicaSet starts another.
    await core.deleteNamespacedPod({ namespace: 'smoke-node', name: first!.metadata!.name!, body: { preconditions: { uid: first!.metadata!.uid! } } });
    const deadline = Date.now() + 120_000;
    while (runs(firstProcess.pid)) {
      assert.ok(Date.now() < deadline, `the container process ${firstProcess.pid} still runs 120 s after the delete`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const [replacement] = await waitForRunningPods(kube, 'smoke-node', 'app=sleeper', 1, 180_000, new Set([first!.metadata!.uid!]));
    assert.notEqual(replacement!.metadata?.uid, first!.metadata?.uid);
    const replacementProcess = await containerHostPid(kube, replacement!);
    assert.ok(runs(replacementProcess.pid));
    assert.notEqual(replacementProcess.containerId, firstProcess.containerId);

    // 5. stop() leaves nothing behind and puts the kubelet's sysctls back.
    const pids = kube.processes.map((p) => p.pid);
    await kube.stop();
    kube = undefined;
    assert.ok(pids.every((pid) => !runs(pid)), 'every cluster process stopped');
    assert.ok(!runs(replacementProcess.pid), 'the pod process stopped');
    // Looked at under the containers lock: once stop() released it, another test's node (the
    // suite runs two files at a time) may start and leave its own traces until it stops.
    const lock = await acquireLock(CONTAINERS_LOCK_FILE, 1_800_000);
    try {
      assert.deepEqual(hostTraces(), []);
      // The testkit names them kernel.panic (sysctl's form), this test kernel/panic (the /proc path).
      assert.deepEqual(readSysctls(), Object.fromEntries(Object.entries(orphan.sysctlsBefore).map(([name, value]) => [name.replace(/\./g, '/'), value])));
    } finally {
      lock.release();
    }
  } finally {
    await kube?.stop();
  }
});
