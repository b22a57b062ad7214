// End to end on a real single-node cluster (startTestKubeNode: kubelet on containerd): a
// Deployment's pod really runs; a CRITICAL alert naming it is POSTed to the hub (its own process),
// whose webhook destination calls the responder's HTTP form, which deletes the pod. Observed with a
// watch: the pod deleted, its container's process gone from the host, the ReplicaSet's replacement
// running. The latency from the POST to the process being gone is reported (not asserted).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AppsV1Api, CoreV1Api, Watch } from '@kubernetes/client-node';
import type { V1Pod } from '@kubernetes/client-node';
import { startTestKubeNode, startTestRedis } from '@peregrine/testkit';
import type { TestKubeNode, TestLambda, TestRedis } from '@peregrine/testkit';
import { captureAudit } from './audit-capture.ts';
import { alertAbout } from './fixtures.ts';
import { killCriticalIn, startHubProcess, startResponderHttp, startResponderLambda } from './through-hub.ts';
import type { HubProcess, ResponderHttp } from './through-hub.ts';

const repoRoot = resolve(fileURLToPath(import.meta.url), '..', '..', '..', '..');
const NS = 'shop';
const LAMBDA_NS = 'lambda-shop';

let kube: TestKubeNode;
let redis: TestRedis;
let responderHttp: ResponderHttp;
let hub: HubProcess;
let lambda: TestLambda;

async function eventually<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${timeoutMs} ms\nhub output:\n${hub?.output().slice(-3000) ?? ''}`);
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
  lambda = await startResponderLambda(repoRoot, { server: kube.server, token: kube.adminToken, caFile: kube.caFile }, LAMBDA_NS);
  responderHttp = await startResponderHttp({ policy: killCriticalIn(NS), kubeConfig: kube.kubeConfig(), audit: captureAudit().log, token: 'e2e-token-0123456789' });
  hub = await startHubProcess(
    repoRoot,
    {
      redis: { url: redis.url },
      delivery: { attempts: 20, backoffInitialMs: 200, backoffMaxMs: 1000 },
      destinations: {
        responder: {
          type: 'webhook',
          settings: { address: responderHttp.url, customHeaders: { Authorization: 'Bearer e2e-token-0123456789' } },
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
    },
    120_000,
  );
});

after(async () => {
  await hub?.stop();
  await responderHttp?.close();
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
      assert.equal(await hub.postAlert(alert), 202);
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
