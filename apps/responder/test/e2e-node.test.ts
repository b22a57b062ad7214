// End to end on a real single-node cluster (startTestKubeNode: kubelet on containerd): a
// Deployment's pod really runs; a CRITICAL alert naming it is POSTed to the hub (its own process),
// whose webhook destination calls the responder's HTTP form, which deletes the pod. Observed with a
// watch: the pod deleted, its container's process gone from the host, the ReplicaSet's replacement
// running. The latency from the POST to the process being gone is reported (not asserted).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AppsV1Api, CoreV1Api, Watch } from '@kubernetes/client-node';
import type { V1Pod } from '@kubernetes/client-node';
import { freeLoopbackPort, startTestKubeNode, startTestLambda, startTestRedis } from '@peregrine/testkit';
import type { TestKubeNode, TestLambda, TestRedis } from '@peregrine/testkit';
import { createResponderHttpServer } from '../src/http.ts';
import { parsePolicy } from '../src/policy.ts';
import { createResponder } from '../src/responder.ts';
import { captureAudit } from './audit-capture.ts';
import { alertAbout } from './fixtures.ts';
import { bundledHandlerFile } from './kube-helpers.ts';

const repoRoot = resolve(fileURLToPath(import.meta.url), '..', '..', '..', '..');
const HUB_MAIN = join(repoRoot, 'apps', 'hub', 'src', 'main.ts');
const NS = 'shop';
const LAMBDA_NS = 'lambda-shop';

let kube: TestKubeNode;
let redis: TestRedis;
let responderServer: Server;
let hub: ChildProcess;
let hubUrl: string;
let hubOutput = '';
let lambda: TestLambda;

async function eventually<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${timeoutMs} ms\nhub output:\n${hubOutput.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Host pids whose cgroup path names the container (cgroup v1 or v2 layouts). */
function hostPidsOfContainer(containerId: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cgroup`, 'utf8').includes(containerId)) pids.push(Number(entry));
    } catch {
      /* the process ended while we looked */
    }
  }
  return pids;
}

const runningContainerId = (pod: V1Pod | undefined): string | undefined => {
  const status = pod?.status?.containerStatuses?.[0];
  if (pod?.status?.phase !== 'Running' || !status?.ready || !status.containerID) return undefined;
  return status.containerID.replace(/^[a-z]+:\/\//, '');
};

before(async () => {
  [kube, redis] = await Promise.all([startTestKubeNode(), startTestRedis()]);
  for (const ns of ['peregrine-responder', NS, LAMBDA_NS]) await kube.createNamespace(ns);
  lambda = await startTestLambda({
    handlerModule: await bundledHandlerFile(repoRoot),
    env: {
      PEREGRINE_RESPONDER_POLICY: JSON.stringify({ responderNamespace: 'peregrine-responder', namespaces: { allow: [LAMBDA_NS] }, responses: [{ name: 'kill-critical', match: { minimumPriority: 'critical' }, action: 'delete', gracePeriodSeconds: 0 }], cap: { configMapName: 'lambda-cap' } }),
      PEREGRINE_KUBE_SERVER: kube.server,
      PEREGRINE_KUBE_TOKEN: kube.adminToken,
      PEREGRINE_KUBE_CA_FILE: kube.caFile,
    },
  });
  const responder = createResponder({
    policy: parsePolicy({ responderNamespace: 'peregrine-responder', namespaces: { allow: [NS] }, responses: [{ name: 'kill-critical', match: { minimumPriority: 'critical' }, action: 'delete', gracePeriodSeconds: 0 }] }),
    kubeConfig: kube.kubeConfig(),
    audit: captureAudit().log,
  });
  responderServer = createResponderHttpServer({ responder, token: 'e2e-token-0123456789' });
  await new Promise<void>((r) => responderServer.listen(0, '127.0.0.1', r));
  const dir = mkdtempSync(join(tmpdir(), 'responder-e2e-'));
  const config = join(dir, 'hub.yaml');
  writeFileSync(
    config,
    JSON.stringify({
      redis: { url: redis.url },
      delivery: { attempts: 20, backoffInitialMs: 200, backoffMaxMs: 1000 },
      destinations: {
        responder: {
          type: 'webhook',
          settings: { address: `http://127.0.0.1:${(responderServer.address() as AddressInfo).port}/`, customHeaders: { Authorization: 'Bearer e2e-token-0123456789' } },
          match: { minimumPriority: 'critical', fields: ['k8s.pod.name exists', `k8s.ns.name = ${NS}`] },
          delivery: { maxBatch: 1 },
        },
        'responder-lambda': {
          type: 'lambda',
          settings: { functionName: lambda.functionName, endpoint: lambda.endpoint, region: 'us-east-1' },
          match: { minimumPriority: 'critical', fields: ['k8s.pod.name exists', `k8s.ns.name = ${LAMBDA_NS}`] },
          delivery: { maxBatch: 1, concurrency: 1 },
        },
      },
    }),
  );
  const port = await freeLoopbackPort();
  hubUrl = `http://127.0.0.1:${port}`;
  hub = spawn(process.execPath, ['--import', 'tsx', HUB_MAIN, '--config', config, '--port', String(port), '--log-level', 'warn'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: repoRoot,
    env: { ...process.env, AWS_ACCESS_KEY_ID: 'AKIDPEREGRINETEST', AWS_SECRET_ACCESS_KEY: 'peregrine-test-secret', AWS_REGION: 'us-east-1' },
  });
  const keep = (chunk: Buffer) => {
    hubOutput = (hubOutput + chunk.toString()).slice(-20_000);
  };
  hub.stdout?.on('data', keep);
  hub.stderr?.on('data', keep);
  await eventually('hub ready', async () => {
    if (hub.exitCode !== null) throw new Error(`hub exited (${hub.exitCode}):\n${hubOutput}`);
    return fetch(`${hubUrl}/readyz`).then((r) => (r.status === 200 ? true : undefined), () => undefined);
  });
});

after(async () => {
  if (hub && hub.exitCode === null) {
    const exited = new Promise((r) => hub.once('exit', r));
    hub.kill('SIGTERM');
    await exited;
  }
  await new Promise<void>((r) => (responderServer ? responderServer.close(() => r()) : r()));
  await lambda?.stop();
  await redis?.stop();
  await kube?.stop();
});

async function killThroughHub(namespace: string, via: string, diagnostic: (text: string) => void): Promise<void> {
  /* one kill, observed */ {
    const kc = kube.kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    const apps = kc.makeApiClient(AppsV1Api);
    await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: 'web' },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' } },
            spec: {
              hostNetwork: true,
              automountServiceAccountToken: false,
              terminationGracePeriodSeconds: 30,
              containers: [{ name: 'main', image: kube.images.busybox, imagePullPolicy: 'Never', command: ['sleep', '3600'] }],
            },
          },
        },
      },
    });
    const victim = await eventually('a running pod of the Deployment', async () => {
      const pods = await core.listNamespacedPod({ namespace, labelSelector: 'app=web' });
      return pods.items.find((p) => runningContainerId(p) !== undefined && !p.metadata?.deletionTimestamp);
    });
    const victimName = victim.metadata!.name!;
    const victimUid = victim.metadata!.uid!;
    const containerId = runningContainerId(victim)!;
    const pidsBefore = hostPidsOfContainer(containerId);
    assert.ok(pidsBefore.length > 0, `the container ${containerId} has processes on the host`);

    // Watch the namespace's pods from now on.
    const events: Array<{ type: string; name: string; uid: string; phase?: string; at: number }> = [];
    const watch = await new Watch(kc).watch(
      `/api/v1/namespaces/${namespace}/pods`,
      { resourceVersion: victim.metadata!.resourceVersion },
      (type: string, pod: V1Pod) => events.push({ type, name: pod.metadata?.name ?? '', uid: pod.metadata?.uid ?? '', phase: pod.status?.phase, at: Date.now() }),
      () => undefined,
    );
    try {
      const alert = alertAbout({ namespace, name: victimName, uid: victimUid });
      const postedAt = Date.now();
      assert.equal((await fetch(`${hubUrl}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(alert) })).status, 202);
      await eventually('the watch sees the pod deleted', () => events.some((e) => e.type === 'DELETED' && e.uid === victimUid) || undefined);
      const deletedAt = events.find((e) => e.type === 'DELETED' && e.uid === victimUid)!.at;
      await eventually('the container process gone from the host', () => pidsBefore.every((pid) => hostPidsOfContainer(containerId).indexOf(pid) < 0) || undefined);
      const goneAt = Date.now();
      const replacement = await eventually('the replacement running', async () => {
        const pods = await core.listNamespacedPod({ namespace, labelSelector: 'app=web' });
        return pods.items.find((p) => p.metadata?.uid !== victimUid && runningContainerId(p) !== undefined);
      });
      assert.notEqual(replacement.metadata?.uid, victimUid);
      assert.ok(events.some((e) => e.uid === replacement.metadata?.uid && e.type === 'ADDED'), 'the watch saw the replacement added');
      diagnostic(`${via}: latency: POST → pod deleted (watch) ${deletedAt - postedAt} ms; POST → container process gone ${goneAt - postedAt} ms`);
      console.log(JSON.stringify({ e2e: `responder-${via}`, postToDeletedMs: deletedAt - postedAt, postToProcessGoneMs: goneAt - postedAt }));
    } finally {
      watch.abort();
    }
  }
}

describe('end to end on a real node: a CRITICAL alert posted to the hub kills the Deployment pod', () => {
  it('via the webhook destination and the HTTP form: pod deleted, process gone from the host, replacement running', async (t) => {
    await killThroughHub(NS, 'webhook', (text) => t.diagnostic(text));
  });
  it('via the Lambda destination and the bundled zip under the emulator: the same', async (t) => {
    await killThroughHub(LAMBDA_NS, 'lambda', (text) => t.diagnostic(text));
  });
});
