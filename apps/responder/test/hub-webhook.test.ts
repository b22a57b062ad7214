// The hub (its own process, as deployed) → webhook destination → the responder's HTTP form →
// a real kube-apiserver. The API server is cut while a CRITICAL alert is delivered: the responder
// answers 503, the hub retries with backoff, and once the API server is back the pod is deleted
// exactly once; a refusal is delivered once, not retried.
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CoreV1Api } from '@kubernetes/client-node';
import { startTestKubeApi, startTestRedis } from '@peregrine/testkit';
import type { TestKube, TestLambda, TestRedis } from '@peregrine/testkit';
import { captureAudit } from './audit-capture.ts';
import type { CapturedAudit } from './audit-capture.ts';
import { alertAbout } from './fixtures.ts';
import { adminKubeConfigVia, auditLinesInLog, createPod, cuttablePath, readPod } from './kube-helpers.ts';
import { killCriticalIn, startHubProcess, startResponderHttp, startResponderLambda } from './through-hub.ts';
import type { HubProcess, ResponderHttp } from './through-hub.ts';

const repoRoot = resolve(fileURLToPath(import.meta.url), '..', '..', '..', '..');
const RESPONDER_TOKEN = 'hub-to-responder-0123456789';

let kube: TestKube;
let redis: TestRedis;
let path: Awaited<ReturnType<typeof cuttablePath>>;
let audit: CapturedAudit;
let responderHttp: ResponderHttp;
let hub: HubProcess;
let core: CoreV1Api;
let lambda: TestLambda;

async function eventually(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${timeoutMs} ms\nhub output:\n${hub?.output().slice(-3000) ?? ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

before(async () => {
  [kube, redis] = await Promise.all([startTestKubeApi(), startTestRedis()]);
  core = kube.kubeConfig().makeApiClient(CoreV1Api);
  for (const ns of ['peregrine-responder', 'shop', 'lambda-shop']) await kube.createNamespace(ns);
  path = await cuttablePath(new URL(kube.server));
  // The bundled zip's handler under the Lambda emulator, reaching the API server through the same cuttable path.
  lambda = await startResponderLambda(repoRoot, { server: path.url, token: kube.adminToken, caFile: kube.caFile }, 'lambda-shop');
  audit = captureAudit();
  responderHttp = await startResponderHttp({ policy: killCriticalIn('shop'), kubeConfig: adminKubeConfigVia(kube, path.url), audit: audit.log, token: RESPONDER_TOKEN });

  // The docs/responder.md routing: CRITICAL alerts that carry pod metadata.
  hub = await startHubProcess(
    repoRoot,
    {
      redis: { url: redis.url },
      delivery: { attempts: 50, backoffInitialMs: 100, backoffMaxMs: 400, timeoutMs: 15_000 },
      destinations: {
        responder: {
          type: 'webhook',
          settings: { address: responderHttp.url, customHeaders: { Authorization: `Bearer ${RESPONDER_TOKEN}` } },
          match: { minimumPriority: 'critical', fields: ['k8s.pod.name exists', 'k8s.ns.name exists', 'k8s.ns.name != lambda-shop'] },
          delivery: { maxBatch: 1 },
        },
        'responder-lambda': {
          type: 'lambda',
          settings: { functionName: lambda.functionName, endpoint: lambda.endpoint, region: 'us-east-1' },
          match: { minimumPriority: 'critical', fields: ['k8s.pod.name exists', 'k8s.ns.name = lambda-shop'] },
          // The emulator runs one invocation at a time.
          delivery: { maxBatch: 1, concurrency: 1 },
        },
      },
    },
    60_000,
  );
});

after(async () => {
  await hub?.stop();
  await responderHttp?.close();
  await lambda?.stop();
  await path?.close();
  await redis?.stop();
  await kube?.stop();
});

const linesFor = (uuid: string) => audit.lines.filter((l) => (l.alert as { uuid?: string } | undefined)?.uuid === uuid);

describe('hub → webhook destination → responder (HTTP form) → kube-apiserver', () => {
  it('API server away: the responder answers 503 and the hub retries; back: the pod is deleted once', async () => {
    const pod = await createPod(core, 'shop', 'via-hub-1');
    const alert = alertAbout({ namespace: 'shop', name: 'via-hub-1', uid: pod.metadata?.uid });
    await path.cut();
    assert.equal(await hub.postAlert(alert), 202);
    await eventually('two failed attempts', () => linesFor(String(alert.uuid)).filter((l) => l.outcome === 'failed-retryable').length >= 2);
    assert.ok(await readPod(core, 'shop', 'via-hub-1'), 'untouched while the API server is away');
    await path.restore();
    await eventually('the pod deleted', async () => (await readPod(core, 'shop', 'via-hub-1')) === undefined);
    await eventually('the acted decision', () => linesFor(String(alert.uuid)).some((l) => l.outcome === 'acted'));
    // A refusal afterwards is delivered once and is not retried; by the time its line is there,
    // the first alert's delivery is long settled.
    const refused = alertAbout({ namespace: 'kube-system', name: 'coredns-x' });
    assert.equal(await hub.postAlert(refused), 202);
    await eventually('the refusal', () => linesFor(String(refused.uuid)).length > 0);
    const outcomes = linesFor(String(alert.uuid)).map((l) => l.outcome);
    assert.equal(outcomes.filter((o) => o === 'acted').length, 1, outcomes.join());
    assert.equal(outcomes[outcomes.length - 1], 'acted', `nothing after the action: ${outcomes.join()}`);
    assert.ok(outcomes.slice(0, -1).every((o) => o === 'failed-retryable'), outcomes.join());
    assert.deepEqual(linesFor(String(refused.uuid)).map((l) => l.reason), ['namespace-protected']);
  });

  it('hub → Lambda destination → the bundled zip in the emulator: function error while the API server is away, retried, deleted once', async () => {
    const pod = await createPod(core, 'lambda-shop', 'via-lambda-1');
    const alert = alertAbout({ namespace: 'lambda-shop', name: 'via-lambda-1', uid: pod.metadata?.uid });
    const forAlert = () => auditLinesInLog(lambda.logFile).filter((l) => (l.alert as { uuid?: string } | undefined)?.uuid === alert.uuid);
    await path.cut();
    assert.equal(await hub.postAlert(alert), 202);
    await eventually('two failed invocations', () => forAlert().filter((l) => l.outcome === 'failed-retryable').length >= 2);
    assert.ok(await readPod(core, 'lambda-shop', 'via-lambda-1'));
    await path.restore();
    await eventually('the pod deleted', async () => (await readPod(core, 'lambda-shop', 'via-lambda-1')) === undefined);
    await eventually('the acted decision in the function log', () => forAlert().some((l) => l.outcome === 'acted'));
    const marker = alertAbout({ namespace: 'lambda-shop', name: 'marker' }, {});
    await hub.postAlert(marker);
    // Concurrency 1: once the marker's decision is logged, no invocation for the first alert is pending.
    await eventually('the marker', () => auditLinesInLog(lambda.logFile).some((l) => (l.alert as { uuid?: string } | undefined)?.uuid === marker.uuid));
    const outcomes = forAlert().map((l) => l.outcome);
    assert.equal(outcomes.filter((o) => o === 'acted').length, 1, outcomes.join());
    assert.equal(outcomes[outcomes.length - 1], 'acted', outcomes.join());
  });

  it('a non-critical alert and one without pod metadata are not routed to the responder', async () => {
    const warning = alertAbout({ namespace: 'shop', name: 'x' }, { priority: 'Warning' });
    const noPod = alertAbout({});
    const marker = alertAbout({ namespace: 'kube-public', name: 'marker' });
    for (const a of [warning, noPod, marker]) assert.equal(await hub.postAlert(a), 202);
    await eventually('the marker', () => linesFor(String(marker.uuid)).length > 0);
    assert.equal(linesFor(String(warning.uuid)).length, 0);
    assert.equal(linesFor(String(noPod.uuid)).length, 0);
  });
});
