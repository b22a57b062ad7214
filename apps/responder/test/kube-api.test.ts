// The responder against a real kube-apiserver + etcd (test/support startTestKubeApi): every guard,
// dry-run, the uid precondition, the label action, the cap under concurrent invocations, RBAC with
// exactly the documented Role, the API server going away and coming back, and the bundled zip
// under the Lambda emulator.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CoreV1Api, KubernetesObjectApi } from '@kubernetes/client-node';
import type { KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { startTestKubeApi, startTestLambda } from '@peregrine/testkit';
import type { TestKube } from '@peregrine/testkit';
import { deletePod, labelPod } from '../src/actions.ts';
import { RetryableResponderError } from '../src/decision.ts';
import type { Decision } from '../src/decision.ts';
import type { PolicyInput } from '../src/policy.ts';
import { createResponder } from '../src/responder.ts';
import { parsePolicy } from '../src/policy.ts';
import { captureAudit } from './audit-capture.ts';
import { alertAbout } from './fixtures.ts';
import { adminKubeConfigVia, createPod, cuttablePath, ensureDefaultServiceAccount, readPod, responderOn, unzip } from './kube-helpers.ts';

const appDir = resolve(fileURLToPath(import.meta.url), '..', '..');
const repoRoot = resolve(appDir, '..', '..');
const RESPONDER_NS = 'peregrine-responder';

let kube: TestKube;
let core: CoreV1Api;
let capNames = 0;

/** A policy acting in shop (and team-* but not team-core) with its own cap ConfigMap, so tests do not share a count. */
function policy(overrides: Partial<PolicyInput> = {}): PolicyInput {
  return {
    responderNamespace: RESPONDER_NS,
    namespaces: { allow: ['shop', 'team-*'], deny: ['team-core'] },
    responses: [
      { name: 'quarantine-recon', match: { rules: ['Network tool launched*'] }, action: 'label' },
      { name: 'kill-critical', match: { minimumPriority: 'critical' }, action: 'delete', gracePeriodSeconds: 0 },
    ],
    cap: { maxActions: 100, windowSeconds: 600, configMapName: `cap-${++capNames}` },
    ...overrides,
  };
}

before(async () => {
  kube = await startTestKubeApi();
  core = kube.kubeConfig().makeApiClient(CoreV1Api);
  for (const ns of [RESPONDER_NS, 'shop', 'billing', 'team-core', 'team-a']) await kube.createNamespace(ns);
  await ensureDefaultServiceAccount(core, 'kube-system');
});

after(async () => {
  await kube?.stop();
});

describe('guards against the real API server', () => {
  it('a pod in kube-system is never touched, even with allow ["*"]', async () => {
    const pod = await createPod(core, 'kube-system', 'coredns-victim');
    const { responder } = responderOn(kube, policy({ namespaces: { allow: ['*'] } }));
    const decision = await responder.respond(alertAbout({ namespace: 'kube-system', name: 'coredns-victim', uid: pod.metadata?.uid }));
    assert.equal(decision.outcome, 'refused');
    assert.equal(decision.reason, 'namespace-protected');
    const still = await readPod(core, 'kube-system', 'coredns-victim');
    assert.equal(still?.metadata?.uid, pod.metadata?.uid);
    assert.equal(still?.metadata?.resourceVersion, pod.metadata?.resourceVersion);
  });

  it('pods outside the allow list and in the deny list are never touched', async () => {
    const outside = await createPod(core, 'billing', 'ledger-1');
    const denied = await createPod(core, 'team-core', 'core-1');
    const { responder } = responderOn(kube, policy());
    assert.equal((await responder.respond(alertAbout({ namespace: 'billing', name: 'ledger-1' }))).reason, 'namespace-not-allowed');
    assert.equal((await responder.respond(alertAbout({ namespace: 'team-core', name: 'core-1' }))).reason, 'namespace-denied');
    assert.equal((await readPod(core, 'billing', 'ledger-1'))?.metadata?.resourceVersion, outside.metadata?.resourceVersion);
    assert.equal((await readPod(core, 'team-core', 'core-1'))?.metadata?.resourceVersion, denied.metadata?.resourceVersion);
  });

  it('dry-run touches nothing (no delete, no label, no cap count) and says what it would do', async () => {
    const pod = await createPod(core, 'shop', 'dry-1', { labels: { app: 'web' } });
    const p = policy({ dryRun: true });
    const { responder, audit } = responderOn(kube, p);
    const kill = await responder.respond(alertAbout({ namespace: 'shop', name: 'dry-1', uid: pod.metadata?.uid }));
    assert.equal(kill.outcome, 'dry-run');
    assert.equal(kill.reason, 'would-delete');
    assert.deepEqual(kill.wouldDo, { verb: 'delete', namespace: 'shop', name: 'dry-1', preconditionUid: pod.metadata?.uid, gracePeriodSeconds: 0 });
    const label = await responder.respond(alertAbout({ namespace: 'shop', name: 'dry-1' }, { rule: 'Network tool launched in container' }));
    assert.equal(label.reason, 'would-label');
    assert.deepEqual(label.wouldDo, { verb: 'patch', namespace: 'shop', name: 'dry-1', preconditionUid: pod.metadata?.uid, labels: { 'peregrine.io/quarantine': 'true' } });
    const after = await readPod(core, 'shop', 'dry-1');
    assert.equal(after?.metadata?.resourceVersion, pod.metadata?.resourceVersion);
    assert.deepEqual(after?.metadata?.labels, { app: 'web' });
    await assert.rejects(core.readNamespacedConfigMap({ namespace: RESPONDER_NS, name: p.cap!.configMapName! }), /HTTP-Code: 404/);
    assert.deepEqual(audit.lines.map((l) => [l.outcome, l.dryRun]), [['dry-run', true], ['dry-run', true]]);
  });

  it('deletes the named pod; a retry of the same alert is "already gone"', async () => {
    const pod = await createPod(core, 'shop', 'web-1');
    const { responder, audit } = responderOn(kube, policy());
    const alert = alertAbout({ namespace: 'shop', name: 'web-1', uid: pod.metadata?.uid });
    const first = await responder.respond(alert);
    assert.equal(first.outcome, 'acted');
    assert.equal(first.reason, 'deleted');
    assert.equal(await readPod(core, 'shop', 'web-1'), undefined);
    const again = await responder.respond(alert);
    assert.equal(again.outcome, 'already-done');
    assert.equal(again.reason, 'already-gone');
    assert.deepEqual(audit.lines.map((l) => l.reason), ['deleted', 'already-gone']);
  });

  it('a pod deleted and recreated under the same name is not killed (the alert\'s uid, and the DELETE precondition)', async () => {
    const old = await createPod(core, 'shop', 'web-2');
    await core.deleteNamespacedPod({ namespace: 'shop', name: 'web-2', gracePeriodSeconds: 0 });
    const recreated = await createPod(core, 'shop', 'web-2');
    assert.notEqual(recreated.metadata?.uid, old.metadata?.uid);
    const { responder } = responderOn(kube, policy());
    const decision = await responder.respond(alertAbout({ namespace: 'shop', name: 'web-2', uid: old.metadata?.uid }));
    assert.equal(decision.outcome, 'refused');
    assert.equal(decision.reason, 'pod-replaced');
    assert.equal((await readPod(core, 'shop', 'web-2'))?.metadata?.uid, recreated.metadata?.uid);
    // The race the GET cannot close: the pod is replaced between the check and the DELETE.
    // The API server itself refuses (409 on the uid precondition), and so does the label patch's test op.
    assert.deepEqual(await deletePod(core, { namespace: 'shop', name: 'web-2', uid: old.metadata!.uid! }, 0, 10_000), { kind: 'replaced' });
    assert.deepEqual(await labelPod(core, { namespace: 'shop', name: 'web-2', uid: old.metadata!.uid! }, { 'peregrine.io/quarantine': 'true' }, false, 10_000), { kind: 'replaced', uid: recreated.metadata?.uid });
    const survivor = await readPod(core, 'shop', 'web-2');
    assert.equal(survivor?.metadata?.uid, recreated.metadata?.uid);
    assert.equal(survivor?.metadata?.labels, undefined);
  });

  it('a label action leaves the pod in place, labelled (its other labels kept); again is "already labelled"', async () => {
    const pod = await createPod(core, 'shop', 'recon-1', { labels: { app: 'web', tier: 'front' } });
    const { responder } = responderOn(kube, policy({ responses: [{ name: 'q', match: { minimumPriority: 'warning' }, action: 'label', labels: { 'peregrine.io/quarantine': 'true', 'peregrine.io/rule': 'terminal-shell' } }] }));
    const alert = alertAbout({ namespace: 'shop', name: 'recon-1', uid: pod.metadata?.uid });
    const decision = await responder.respond(alert);
    assert.equal(decision.outcome, 'acted');
    assert.equal(decision.reason, 'labelled');
    const after = await readPod(core, 'shop', 'recon-1');
    assert.equal(after?.metadata?.uid, pod.metadata?.uid);
    assert.equal(after?.metadata?.deletionTimestamp, undefined);
    assert.deepEqual(after?.metadata?.labels, { app: 'web', tier: 'front', 'peregrine.io/quarantine': 'true', 'peregrine.io/rule': 'terminal-shell' });
    assert.equal((await responder.respond(alert)).reason, 'already-labelled');
    // A pod with no labels at all gets the whole map.
    await createPod(core, 'shop', 'recon-2');
    assert.equal((await responder.respond(alertAbout({ namespace: 'shop', name: 'recon-2' }))).reason, 'labelled');
    assert.deepEqual((await readPod(core, 'shop', 'recon-2'))?.metadata?.labels, { 'peregrine.io/quarantine': 'true', 'peregrine.io/rule': 'terminal-shell' });
  });

  it('DaemonSet pods are skipped by default; bare pods follow pods.bare', async () => {
    await createPod(core, 'shop', 'agent-x', { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent', uid: '0b9d6f4e-0000-4000-8000-000000000001', controller: true }] });
    await createPod(core, 'shop', 'bare-x');
    const defaults = responderOn(kube, policy()).responder;
    assert.equal((await defaults.respond(alertAbout({ namespace: 'shop', name: 'agent-x' }))).reason, 'daemonset-pod');
    assert.ok(await readPod(core, 'shop', 'agent-x'));
    const skipBare = responderOn(kube, policy({ pods: { bare: 'skip' } })).responder;
    assert.equal((await skipBare.respond(alertAbout({ namespace: 'shop', name: 'bare-x' }))).reason, 'bare-pod');
    assert.ok(await readPod(core, 'shop', 'bare-x'));
    assert.equal((await defaults.respond(alertAbout({ namespace: 'shop', name: 'bare-x' }))).reason, 'deleted');
  });
});

describe('blast-radius cap', () => {
  it('refuses action N+1 in a window with concurrent invocations (separate responders, as separate Lambda instances)', async () => {
    const n = 3;
    const total = 8;
    const p = policy({ cap: { maxActions: n, windowSeconds: 600, configMapName: 'cap-concurrent' } });
    for (let i = 0; i < total; i++) await createPod(core, 'team-a', `burst-${i}`);
    const decisions = await Promise.all(Array.from({ length: total }, (_, i) => responderOn(kube, p).responder.respond(alertAbout({ namespace: 'team-a', name: `burst-${i}` }))));
    const acted = decisions.filter((d) => d.outcome === 'acted');
    const capped = decisions.filter((d) => d.reason === 'cap-reached');
    assert.equal(acted.length, n, JSON.stringify(decisions.map((d) => d.reason)));
    assert.equal(capped.length, total - n);
    for (const d of capped) assert.equal(d.cap?.used, n);
    let remaining = 0;
    for (let i = 0; i < total; i++) if (await readPod(core, 'team-a', `burst-${i}`)) remaining++;
    assert.equal(remaining, total - n);
    const ledger = JSON.parse((await core.readNamespacedConfigMap({ namespace: RESPONDER_NS, name: 'cap-concurrent' })).data?.ledger ?? '[]') as unknown[];
    assert.equal(ledger.length, n);
    // A retried invocation of an acted alert takes no new slot (and finds the pod gone).
    const first = acted[0].pod!;
    const retry = await responderOn(kube, p).responder.respond(alertAbout({ namespace: first.namespace, name: first.name }));
    assert.equal(retry.reason, 'already-gone');
  });
});

describe('RBAC: exactly the documented Role (apps/responder/deploy/rbac.yaml)', () => {
  it('works in the allowed namespace; the API server refuses it elsewhere', async () => {
    const objects = KubernetesObjectApi.makeApiClient(kube.kubeConfig());
    for (const doc of parseAllDocuments(readFileSync(join(appDir, 'deploy', 'rbac.yaml'), 'utf8'))) await objects.create(doc.toJSON() as KubernetesObject);
    const token = await kube.serviceAccountToken(RESPONDER_NS, 'peregrine-responder');
    await createPod(core, 'shop', 'rbac-1');
    await createPod(core, 'billing', 'rbac-2');
    // The policy allows billing too, so that it is the API server, not a guard, that says no.
    const { responder } = responderOn(kube, policy({ namespaces: { allow: ['shop', 'billing'] }, cap: { maxActions: 10, windowSeconds: 600, configMapName: 'peregrine-responder-cap' } }), token);
    const allowed = await responder.respond(alertAbout({ namespace: 'shop', name: 'rbac-1' }));
    assert.equal(allowed.reason, 'deleted', allowed.message);
    assert.equal(await readPod(core, 'shop', 'rbac-1'), undefined);
    const elsewhere = await responder.respond(alertAbout({ namespace: 'billing', name: 'rbac-2' }));
    assert.equal(elsewhere.outcome, 'refused');
    assert.equal(elsewhere.reason, 'forbidden');
    assert.match(elsewhere.message, /HTTP 403: pods "rbac-2" is forbidden: User "system:serviceaccount:peregrine-responder:peregrine-responder" cannot get resource "pods"/);
    assert.ok(await readPod(core, 'billing', 'rbac-2'));
    // And directly: nothing in kube-system, no other ConfigMap, no list across the cluster.
    const asResponder = kube.kubeConfig(token).makeApiClient(CoreV1Api);
    await assert.rejects(asResponder.deleteNamespacedPod({ namespace: 'kube-system', name: 'coredns-victim' }), /HTTP-Code: 403/);
    await assert.rejects(asResponder.readNamespacedConfigMap({ namespace: RESPONDER_NS, name: 'cap-1' }), /HTTP-Code: 403/);
    await assert.rejects(asResponder.listPodForAllNamespaces(), /HTTP-Code: 403/);
    assert.ok(await readPod(core, 'kube-system', 'coredns-victim'));
  });
});

describe('fault: the API server unreachable, then back', () => {
  it('the invocation fails retryably; once the API server is back, the retry acts exactly once', async () => {
    const path = await cuttablePath(new URL(kube.server));
    try {
      const audit = captureAudit();
      const responder = createResponder({ policy: parsePolicy(policy()), kubeConfig: adminKubeConfigVia(kube, path.url), audit: audit.log });
      const pod = await createPod(core, 'shop', 'fault-1');
      const alert = alertAbout({ namespace: 'shop', name: 'fault-1', uid: pod.metadata?.uid });
      await path.cut();
      await assert.rejects(responder.respond(alert), (e: unknown) => e instanceof RetryableResponderError && /ECONNREFUSED/.test(e.message));
      assert.ok(await readPod(core, 'shop', 'fault-1'), 'nothing happened while the API server was away');
      await path.restore();
      const retried = await responder.respond(alert);
      assert.equal(retried.reason, 'deleted');
      const again = await responder.respond(alert);
      assert.equal(again.reason, 'already-gone');
      assert.deepEqual(audit.lines.map((l) => l.outcome), ['failed-retryable', 'acted', 'already-done']);
    } finally {
      await path.close();
    }
  });
});

describe('the bundled Lambda zip under the Lambda Runtime Interface Emulator', () => {
  it('npm run bundle, unzip, run index.handler: deletes the pod; API away = function error; back = deleted', async () => {
    const { stdout } = await promisify(execFile)('npm', ['run', '-s', '-w', 'apps/responder', 'bundle'], { cwd: repoRoot });
    const built = JSON.parse(stdout.trim().split('\n').pop()!) as { zip: string; handler: string };
    assert.equal(built.handler, 'index.handler');
    const files = unzip(readFileSync(join(repoRoot, built.zip)));
    assert.deepEqual([...files.keys()].filter((f) => f.endsWith('.mjs')), ['index.mjs']);
    const dir = mkdtempSync(join(tmpdir(), 'responder-lambda-'));
    writeFileSync(join(dir, 'index.mjs'), files.get('index.mjs')!);
    const path = await cuttablePath(new URL(kube.server));
    const lambda = await startTestLambda({
      handlerModule: join(dir, 'index.mjs'),
      env: {
        PEREGRINE_RESPONDER_POLICY: JSON.stringify(policy()),
        PEREGRINE_KUBE_SERVER: path.url,
        PEREGRINE_KUBE_TOKEN: kube.adminToken,
        PEREGRINE_KUBE_CA_FILE: kube.caFile,
      },
    });
    try {
      const invoke = async (event: unknown) => {
        const response = await fetch(lambda.invokeUrl, { method: 'POST', body: JSON.stringify(event) });
        assert.equal(response.status, 200);
        return (await response.json()) as Decision & { errorType?: string; errorMessage?: string };
      };
      await createPod(core, 'shop', 'lambda-1');
      const decision = await invoke(alertAbout({ namespace: 'shop', name: 'lambda-1' }));
      assert.equal(decision.reason, 'deleted', JSON.stringify(decision));
      assert.equal(await readPod(core, 'shop', 'lambda-1'), undefined);
      assert.equal((await invoke(alertAbout({ namespace: 'kube-system', name: 'coredns-victim' }))).reason, 'namespace-protected');
      await createPod(core, 'shop', 'lambda-2');
      await path.cut();
      const failed = await invoke(alertAbout({ namespace: 'shop', name: 'lambda-2' }));
      assert.equal(failed.errorType, 'RetryableResponderError', JSON.stringify(failed));
      assert.match(failed.errorMessage ?? '', /API server unreachable/);
      assert.ok(await readPod(core, 'shop', 'lambda-2'));
      await path.restore();
      assert.equal((await invoke(alertAbout({ namespace: 'shop', name: 'lambda-2' }))).reason, 'deleted');
      assert.equal(await readPod(core, 'shop', 'lambda-2'), undefined);
    } finally {
      await lambda.stop();
      await path.close();
    }
  });
});
