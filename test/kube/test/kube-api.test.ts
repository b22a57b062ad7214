// Smoke tests of the API-only test cluster (etcd + kube-apiserver on loopback): RBAC for a
// ServiceAccount token minted through TokenRequest, uid preconditions, clean stop and recovery
// after a SIGKILLed run. The first run on a machine builds the binaries (minutes).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readlinkSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ApiException, CoreV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import type { V1Pod } from '@kubernetes/client-node';
import { startTestKubeApi } from '../../support/index.ts';
import type { TestKube } from '../../support/index.ts';

let kube: TestKube;

before(async () => {
  kube = await startTestKubeApi({ staticUsers: [{ name: 'nobody-in-particular' }] });
}, { timeout: 1_800_000 });

after(async () => {
  await kube?.stop();
});

async function statusOf(call: Promise<unknown>): Promise<number> {
  try {
    await call;
    return 200;
  } catch (error) {
    if (error instanceof ApiException) return error.code;
    throw error;
  }
}

const podBody = (name: string): V1Pod => ({
  metadata: { name },
  spec: { containers: [{ name: 'main', image: 'docker.io/local/busybox:test' }] },
});

test('a ServiceAccount token bound to a namespaced Role lists pods there and gets 403 elsewhere', { timeout: 120_000 }, async () => {
  await kube.createNamespace('smoke-allowed');
  await kube.createNamespace('smoke-other');
  const admin = kube.kubeConfig();
  const core = admin.makeApiClient(CoreV1Api);
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  await core.createNamespacedServiceAccount({ namespace: 'smoke-allowed', body: { metadata: { name: 'pod-killer' } } });
  await rbac.createNamespacedRole({
    namespace: 'smoke-allowed',
    body: { metadata: { name: 'pod-killer' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'delete', 'patch'] }] },
  });
  await rbac.createNamespacedRoleBinding({
    namespace: 'smoke-allowed',
    body: {
      metadata: { name: 'pod-killer' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-killer' },
      subjects: [{ kind: 'ServiceAccount', name: 'pod-killer', namespace: 'smoke-allowed' }],
    },
  });
  await core.createNamespacedPod({ namespace: 'smoke-allowed', body: podBody('listed') });

  const token = await kube.serviceAccountToken('smoke-allowed', 'pod-killer', { expirationSeconds: 600 });
  assert.equal(token.split('.').length, 3, 'a TokenRequest token is a JWT');
  const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { sub: string };
  assert.equal(claims.sub, 'system:serviceaccount:smoke-allowed:pod-killer');

  const asServiceAccount = kube.kubeConfig(token).makeApiClient(CoreV1Api);
  const listed = await asServiceAccount.listNamespacedPod({ namespace: 'smoke-allowed' });
  assert.deepEqual(listed.items.map((p) => p.metadata?.name), ['listed']);
  assert.equal(await statusOf(asServiceAccount.listNamespacedPod({ namespace: 'smoke-other' })), 403);
  assert.equal(await statusOf(asServiceAccount.listNamespacedPod({ namespace: 'kube-system' })), 403);
  assert.equal(await statusOf(asServiceAccount.createNamespacedPod({ namespace: 'smoke-allowed', body: podBody('not-allowed') })), 403, 'the Role has no create');
  // A static-token user with no binding is authenticated (not 401) but may do nothing.
  const stranger = kube.kubeConfig(kube.staticTokens['nobody-in-particular']).makeApiClient(CoreV1Api);
  assert.equal(await statusOf(stranger.listNamespacedPod({ namespace: 'smoke-allowed' })), 403);
  assert.equal(await statusOf(kube.kubeConfig('not-a-token').makeApiClient(CoreV1Api).listNamespacedPod({ namespace: 'smoke-allowed' })), 401);
  // kubectl (built from the same module) agrees.
  const out = await kube.kubectl(['get', 'pods', '-n', 'smoke-allowed', '-o', 'name'], { token });
  assert.equal(out.trim(), 'pod/listed');
  await assert.rejects(kube.kubectl(['get', 'pods', '-n', 'smoke-other'], { token }), /forbidden/i);
});

test('a delete with the uid of a pod since deleted and recreated under the same name is refused with 409', { timeout: 120_000 }, async () => {
  await kube.createNamespace('smoke-uid');
  const core = kube.kubeConfig().makeApiClient(CoreV1Api);
  const first = await core.createNamespacedPod({ namespace: 'smoke-uid', body: podBody('same-name') });
  const oldUid = first.metadata!.uid!;
  await core.deleteNamespacedPod({ namespace: 'smoke-uid', name: 'same-name', gracePeriodSeconds: 0 });
  const second = await core.createNamespacedPod({ namespace: 'smoke-uid', body: podBody('same-name') });
  const newUid = second.metadata!.uid!;
  assert.notEqual(newUid, oldUid);

  assert.equal(await statusOf(core.deleteNamespacedPod({ namespace: 'smoke-uid', name: 'same-name', body: { preconditions: { uid: oldUid } } })), 409);
  const survivor = await core.readNamespacedPod({ namespace: 'smoke-uid', name: 'same-name' });
  assert.equal(survivor.metadata?.uid, newUid);
  assert.equal(survivor.metadata?.deletionTimestamp, undefined);
  assert.equal(await statusOf(core.deleteNamespacedPod({ namespace: 'smoke-uid', name: 'same-name', gracePeriodSeconds: 0, body: { preconditions: { uid: newUid } } })), 200);
  assert.equal(await statusOf(core.readNamespacedPod({ namespace: 'smoke-uid', name: 'same-name' })), 404);
});

test('a run killed with SIGKILL leaves nothing that stops the next start, which removes its leftovers', { timeout: 600_000 }, async () => {
  const fixture = fileURLToPath(new URL('./fixtures/start-and-wait.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, 'api'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const started = await new Promise<{ pids: number[]; exes: string[]; dir: string }>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line) as { pids: number[]; exes: string[]; dir: string });
    });
    child.once('exit', (code) => reject(new Error(`the fixture exited (${code}) before it was ready:\n${out}`)));
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  const runs = (pid: number, exe: string) => {
    try {
      return readlinkSync(`/proc/${pid}/exe`) === exe;
    } catch {
      return false;
    }
  };
  // (spawnServer gives servers PR_SET_PDEATHSIG, so they usually die with their owner; the
  // next start kills any that did not and removes what the dead run left on disk.)

  const next = await startTestKubeApi();
  try {
    assert.ok(started.pids.every((pid, i) => !runs(pid, started.exes[i]!)), 'no process of the dead run is left');
    assert.equal(existsSync(started.dir), false, 'and removed their folder');
    const namespaces = await next.kubeConfig().makeApiClient(CoreV1Api).listNamespace();
    assert.ok(namespaces.items.some((n) => n.metadata?.name === 'kube-system'));
  } finally {
    await next.stop();
  }
  assert.equal(existsSync(next.dir), false);
  for (const proc of next.processes) assert.equal(runs(proc.pid, proc.name === 'etcd' ? next.binaries.etcd : next.binaries.kubeApiserver), false, `${proc.name} stopped`);
});
