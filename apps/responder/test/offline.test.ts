// Against an API server address where nothing listens (connection refused: a real network
// failure, no fake): every guard that must decide before any API call does so, and everything
// that needs the API fails retryably, for the Lambda handler and the HTTP form alike.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import { freeLoopbackPort } from '@peregrine/testkit';
import { RetryableResponderError } from '../src/decision.ts';
import type { Decision } from '../src/decision.ts';
import { handleEvent } from '../src/handler.ts';
import { kubeConfigFromEnvironment } from '../src/kube.ts';
import { createResponderHttpServer } from '../src/http.ts';
import { parsePolicy } from '../src/policy.ts';
import { createResponder } from '../src/responder.ts';
import type { Responder } from '../src/responder.ts';
import { captureAudit } from './audit-capture.ts';
import type { CapturedAudit } from './audit-capture.ts';
import { alertAbout, testPolicy } from './fixtures.ts';

let deadServer: string;
let audit: CapturedAudit;
let responder: Responder;

before(async () => {
  deadServer = `https://127.0.0.1:${await freeLoopbackPort()}`;
  const kc = new KubeConfig();
  kc.loadFromOptions({ clusters: [{ name: 'c', server: deadServer }], users: [{ name: 'u', token: 't' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
  audit = captureAudit();
  responder = createResponder({ policy: parsePolicy(testPolicy({ namespaces: { allow: ['shop'] } })), kubeConfig: kc, audit: audit.log });
});

describe('decisions made before any API call (the API server is unreachable, so a call would throw)', () => {
  const cases: Array<[string, Record<string, unknown>, Decision['outcome'], Decision['reason']]> = [
    ['kube-system', alertAbout({ namespace: 'kube-system', name: 'coredns-1' }), 'refused', 'namespace-protected'],
    ['kube-public', alertAbout({ namespace: 'kube-public', name: 'p' }), 'refused', 'namespace-protected'],
    ["the responder's own namespace", alertAbout({ namespace: 'peregrine-responder', name: 'p' }), 'refused', 'namespace-protected'],
    ['outside the allow list', alertAbout({ namespace: 'billing', name: 'p' }), 'refused', 'namespace-not-allowed'],
    ['no pod metadata', alertAbout({}), 'refused', 'no-pod-metadata'],
    ['no matching response', alertAbout({ namespace: 'shop', name: 'p' }, { priority: 'Warning' }), 'ignored', 'no-matching-response'],
  ];
  for (const [what, alert, outcome, reason] of cases) {
    it(`${what}: ${outcome} (${reason}), one audit line that matches the result`, async () => {
      const before = audit.lines.length;
      const decision = await responder.respond(alert);
      assert.equal(decision.outcome, outcome);
      assert.equal(decision.reason, reason);
      assert.equal(decision.alert.uuid, alert.uuid);
      const lines = audit.lines.slice(before);
      assert.equal(lines.length, 1);
      assert.equal(lines[0].audit, 'decision');
      assert.equal(lines[0].outcome, outcome);
      assert.equal(lines[0].reason, reason);
      assert.deepEqual(lines[0].alert, decision.alert);
      assert.equal(lines[0].level, outcome === 'refused' ? 40 : 30);
    });
  }
});

describe('API server unreachable', () => {
  it('the invocation fails retryably and the audit says so', async () => {
    const before = audit.lines.length;
    const alert = alertAbout({ namespace: 'shop', name: 'web-1' });
    await assert.rejects(responder.respond(alert), (e: unknown) => {
      assert.ok(e instanceof RetryableResponderError);
      assert.match(e.message, /^reading shop\/web-1: API server unreachable \(ECONNREFUSED\)/);
      return true;
    });
    const lines = audit.lines.slice(before);
    assert.equal(lines.length, 1);
    assert.equal(lines[0].audit, 'retry');
    assert.equal(lines[0].outcome, 'failed-retryable');
  });
  it('a client that cannot even send (plain http without skipTLSVerify) is a final refusal that says why, not a retry', async () => {
    const kc = new KubeConfig();
    kc.loadFromOptions({ clusters: [{ name: 'c', server: deadServer.replace('https:', 'http:') }], users: [{ name: 'u', token: 't' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
    const misconfigured = createResponder({ policy: responder.policy, kubeConfig: kc, audit: captureAudit().log });
    const decision = await misconfigured.respond(alertAbout({ namespace: 'shop', name: 'web-1' }));
    assert.equal(decision.outcome, 'refused');
    assert.equal(decision.reason, 'api-refused');
    assert.match(decision.message, /the Kubernetes client failed before reaching the API server: HTTP protocol is not allowed/);
  });
  it('no credentials at all: guard refusals still answer, the rest is refused with the reason', async () => {
    const unconfigured = createResponder({ policy: responder.policy, kubeConfig: () => kubeConfigFromEnvironment({}), audit: captureAudit().log });
    assert.equal((await unconfigured.respond(alertAbout({ namespace: 'kube-system', name: 'p' }))).reason, 'namespace-protected');
    const decision = await unconfigured.respond(alertAbout({ namespace: 'shop', name: 'p' }));
    assert.equal(decision.reason, 'kube-unconfigured');
    assert.match(decision.message, /^no Kubernetes API to act through: no Kubernetes credentials: set PEREGRINE_KUBE_SERVER/);
  });
  it('a batch stops at the first retryable failure', async () => {
    await assert.rejects(handleEvent(responder, [alertAbout({ namespace: 'kube-system', name: 'a' }), alertAbout({ namespace: 'shop', name: 'b' })]), RetryableResponderError);
  });
});

describe('HTTP form', () => {
  let server: Server;
  let url: string;
  before(async () => {
    server = createResponderHttpServer({ responder, token: 'secret-token-123', bodyLimitBytes: 64 * 1024 });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const post = (body: string, token = 'secret-token-123') => fetch(`${url}/`, { method: 'POST', body, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } });

  it('200 with the decision for a final answer (a refusal is not retried)', async () => {
    const response = await post(JSON.stringify(alertAbout({ namespace: 'kube-system', name: 'p' })));
    assert.equal(response.status, 200);
    const body = (await response.json()) as Decision;
    assert.equal(body.reason, 'namespace-protected');
  });
  it('an array gives one decision per alert', async () => {
    const response = await post(JSON.stringify([alertAbout({ namespace: 'kube-system', name: 'p' }), alertAbout({})]));
    assert.equal(response.status, 200);
    const body = (await response.json()) as { decisions: Decision[] };
    assert.deepEqual(body.decisions.map((d) => d.reason), ['namespace-protected', 'no-pod-metadata']);
  });
  it('503 when the API server is unreachable (the webhook destination retries 5xx)', async () => {
    const response = await post(JSON.stringify(alertAbout({ namespace: 'shop', name: 'web-1' })));
    assert.equal(response.status, 503);
    const body = (await response.json()) as { error: string; retryable: boolean };
    assert.equal(body.retryable, true);
    assert.match(body.error, /ECONNREFUSED/);
  });
  it('400 for a body that is not JSON or not an alert, with the reason', async () => {
    const notJson = await post('{"rule":');
    assert.equal(notJson.status, 400);
    assert.match(((await notJson.json()) as { error: string }).error, /^the body is not JSON/);
    const notAlert = await post(JSON.stringify({ rule: 'x' }));
    assert.equal(notAlert.status, 400);
    const decision = (await notAlert.json()) as Decision;
    assert.equal(decision.reason, 'invalid-alert');
    assert.match(decision.message, /priority: is required/);
  });
  it('401 without the token, 413 over the limit, 405/404 elsewhere, healthz open', async () => {
    assert.equal((await post('{}', 'wrong')).status, 401);
    assert.equal((await fetch(`${url}/`, { method: 'POST', body: '{}' })).status, 401);
    assert.equal((await post(`"${'x'.repeat(70 * 1024)}"`)).status, 413);
    assert.equal((await fetch(`${url}/`)).status, 405);
    assert.equal((await fetch(`${url}/other`, { method: 'POST', body: '{}' })).status, 404);
    const health = await fetch(`${url}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
  });
});
