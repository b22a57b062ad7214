import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateAlert } from '@peregrine/alert';
import type { Alert } from '@peregrine/alert';
import { decideSlot, parseLedger } from '../src/cap.ts';
import { globMatch } from '../src/glob.ts';
import { labelPatch, matchResponse, missingLabels, namespaceGuard, podFromAlert, podGuard, podKind } from '../src/guards.ts';
import { parsePolicy } from '../src/policy.ts';
import { parseEvent } from '../src/responder.ts';
import { alertAbout, testPolicy } from './fixtures.ts';

function alert(input: Record<string, unknown>): Alert {
  const v = validateAlert(input);
  assert.ok(v.ok);
  return v.alert;
}

const policy = parsePolicy(testPolicy());

describe('glob', () => {
  it('matches * and ? in full, nothing else special', () => {
    assert.ok(globMatch('team-*', 'team-a'));
    assert.ok(globMatch('*', ''));
    assert.ok(globMatch('a?c*', 'abcdef'));
    assert.ok(!globMatch('team-*', 'teams'));
    assert.ok(!globMatch('shop', 'shop-2'));
    assert.ok(globMatch('Network tool launched*', 'Network tool launched in container'));
    assert.ok(!globMatch('a.c', 'abc'));
  });
  it('does not backtrack exponentially on a hostile rule name', () => {
    // With a backtracking matcher this pattern against 2000 a's takes ages; here it is linear-ish.
    assert.equal(globMatch('*a*a*a*a*a*a*a*a*b', 'a'.repeat(2000)), false);
  });
});

describe('matching a response', () => {
  it('takes the first response whose match holds', () => {
    assert.equal(matchResponse(policy, alert(alertAbout({ namespace: 'shop', name: 'p' }, { rule: 'Network tool launched in container', priority: 'Critical' })))?.name, 'quarantine-recon');
    assert.equal(matchResponse(policy, alert(alertAbout({ namespace: 'shop', name: 'p' }, { priority: 'Emergency' })))?.name, 'kill-critical');
    assert.equal(matchResponse(policy, alert(alertAbout({ namespace: 'shop', name: 'p' }, { priority: 'Error' }))), undefined);
  });
  it('tags: any and all', () => {
    const tagged = parsePolicy(testPolicy({ responses: [{ name: 't', match: { tags: { all: ['container', 'mitre_*'], any: ['shell', 'network'] } }, action: 'label' }] }));
    assert.equal(matchResponse(tagged, alert(alertAbout({ name: 'p', namespace: 'shop' }, { tags: ['container', 'mitre_execution', 'shell'] })))?.name, 't');
    assert.equal(matchResponse(tagged, alert(alertAbout({ name: 'p', namespace: 'shop' }, { tags: ['container', 'shell'] }))), undefined);
    assert.equal(matchResponse(tagged, alert(alertAbout({ name: 'p', namespace: 'shop' }, { tags: ['container', 'mitre_x'] }))), undefined);
  });
});

describe('the pod the alert is about', () => {
  it('takes k8s.pod.name, k8s.ns.name and k8s.pod.uid', () => {
    assert.deepEqual(podFromAlert(alert(alertAbout({ namespace: 'shop', name: 'web-1', uid: '7c1f2b2e-1111-4a4a-9999-0123456789ab' }))), {
      ok: true,
      value: { namespace: 'shop', name: 'web-1', uid: '7c1f2b2e-1111-4a4a-9999-0123456789ab' },
    });
    assert.deepEqual(podFromAlert(alert(alertAbout({ namespace: 'shop', name: 'web-1' }))), { ok: true, value: { namespace: 'shop', name: 'web-1' } });
  });
  it('refuses an alert without pod metadata, with the missing fields named', () => {
    for (const [pod, missing] of [
      [{}, 'k8s.pod.name and k8s.ns.name'],
      [{ namespace: 'shop', name: null }, 'k8s.pod.name'],
      [{ namespace: '<NA>', name: 'p' }, 'k8s.ns.name'],
      [{ namespace: 'shop', name: '' }, 'k8s.pod.name'],
    ] as const) {
      const r = podFromAlert(alert(alertAbout(pod)));
      assert.equal(r.ok, false);
      assert.ok(!r.ok && r.reason === 'no-pod-metadata' && r.message.includes(`carries no ${missing}:`), JSON.stringify(r));
    }
  });
  it('refuses names that are not Kubernetes names (no path tricks reach the API)', () => {
    for (const pod of [{ namespace: 'shop', name: '../../nodes/x' }, { namespace: 'Shop', name: 'p' }, { namespace: 'shop', name: 'p', uid: 'x/../y' }]) {
      const r = podFromAlert(alert(alertAbout(pod)));
      assert.ok(!r.ok && r.reason === 'invalid-pod-metadata', JSON.stringify(r));
    }
  });
});

describe('namespace guard', () => {
  it('kube-system, kube-public and the responder\'s own namespace are protected even when allowed', () => {
    const open = parsePolicy(testPolicy({ namespaces: { allow: ['*'] } }));
    for (const ns of ['kube-system', 'kube-public', 'peregrine-responder']) {
      const r = namespaceGuard(open, ns);
      assert.ok(!r.ok && r.reason === 'namespace-protected', ns);
    }
    assert.ok(namespaceGuard(open, 'anything').ok);
  });
  it('deny wins over allow; outside the allow list is refused', () => {
    assert.ok(namespaceGuard(policy, 'shop').ok);
    assert.ok(namespaceGuard(policy, 'team-a').ok);
    const denied = namespaceGuard(policy, 'team-core');
    assert.ok(!denied.ok && denied.reason === 'namespace-denied');
    const outside = namespaceGuard(policy, 'billing');
    assert.ok(!outside.ok && outside.reason === 'namespace-not-allowed' && outside.message === 'namespace billing is not in the policy\'s allow list');
  });
});

describe('pod guard', () => {
  const ref = { namespace: 'shop', name: 'web-1', uid: 'u-1' };
  it('a pod with another uid than the alert\'s is a replacement and is left alone', () => {
    const r = podGuard(policy, ref, { metadata: { uid: 'u-2' } });
    assert.ok(!r.ok && r.reason === 'pod-replaced', JSON.stringify(r));
  });
  it('pod kinds: mirror, DaemonSet, bare, controlled', () => {
    assert.equal(podKind({ metadata: { annotations: { 'kubernetes.io/config.mirror': 'abc' }, ownerReferences: [{ kind: 'Node', name: 'n', controller: true }] } }), 'mirror');
    assert.equal(podKind({ metadata: { ownerReferences: [{ kind: 'DaemonSet', name: 'ds', controller: true }] } }), 'daemonSet');
    assert.equal(podKind({ metadata: {} }), 'bare');
    assert.equal(podKind({ metadata: { ownerReferences: [{ kind: 'ReplicaSet', name: 'rs', controller: true }] } }), 'controlled');
  });
  it('skips mirror and DaemonSet pods by default, acts on bare ones; the policy can change each', () => {
    const mirror = { metadata: { uid: 'u-1', annotations: { 'kubernetes.io/config.mirror': 'h' } } };
    const ds = { metadata: { uid: 'u-1', ownerReferences: [{ kind: 'DaemonSet', name: 'agent', controller: true }] } };
    const bare = { metadata: { uid: 'u-1' } };
    assert.ok(!podGuard(policy, ref, mirror).ok);
    assert.ok(!podGuard(policy, ref, ds).ok);
    assert.ok(podGuard(policy, ref, bare).ok);
    const other = parsePolicy(testPolicy({ pods: { mirror: 'act', daemonSet: 'act', bare: 'skip' } }));
    assert.ok(podGuard(other, ref, mirror).ok);
    assert.ok(podGuard(other, ref, ds).ok);
    const r = podGuard(other, ref, bare);
    assert.ok(!r.ok && r.reason === 'bare-pod');
  });
});

describe('label patch', () => {
  it('tests the uid first, then adds the labels (escaped keys), or the whole map when the pod has none', () => {
    assert.deepEqual(labelPatch('u-1', { 'peregrine.io/quarantine': 'true' }, true), [
      { op: 'test', path: '/metadata/uid', value: 'u-1' },
      { op: 'add', path: '/metadata/labels/peregrine.io~1quarantine', value: 'true' },
    ]);
    assert.deepEqual(labelPatch('u-1', { a: 'b' }, false), [
      { op: 'test', path: '/metadata/uid', value: 'u-1' },
      { op: 'add', path: '/metadata/labels', value: { a: 'b' } },
    ]);
    assert.deepEqual(missingLabels({ a: '1', b: '2' }, { a: '1', b: 'x' }), { b: '2' });
    assert.deepEqual(missingLabels({ a: '1' }, { a: '1' }), {});
  });
});

describe('cap ledger (the rule; the shared state is tested against the API server)', () => {
  const minute = 60_000;
  it('grants up to maxActions per window, then refuses; old entries drop out', () => {
    let entries: ReturnType<typeof parseLedger> = [];
    for (let i = 0; i < 3; i++) {
      const v = decideSlot(entries, `k${i}`, 1_000_000 + i, 3, minute);
      assert.ok(v.granted && v.fresh && v.used === i + 1);
      entries = [...v.entries];
    }
    assert.deepEqual(decideSlot(entries, 'k3', 1_000_010, 3, minute), { granted: false, used: 3 });
    const later = decideSlot(entries, 'k3', 1_000_000 + minute + 1, 3, minute);
    assert.ok(later.granted && later.used === 2, JSON.stringify(later));
  });
  it('a known key keeps its slot (retries and duplicate alerts take no second slot), even when full', () => {
    const entries = [{ key: 'a', at: 10 }, { key: 'b', at: 11 }];
    const v = decideSlot(entries, 'a', 20, 2, minute);
    assert.ok(v.granted && !v.fresh && v.used === 2);
  });
  it('an unreadable ledger counts as full (fail safe)', () => {
    assert.equal(parseLedger('{"oops":1}', 4, 5).length, 4);
    assert.equal(parseLedger('not json', 2, 5).length, 2);
    assert.deepEqual(parseLedger(undefined, 2, 5), []);
  });
});

describe('the invocation event', () => {
  it('accepts the alert object, its JSON text, and an HTTP envelope {body}', () => {
    const a = alertAbout({ namespace: 'shop', name: 'p' });
    for (const event of [a, JSON.stringify(a), { body: JSON.stringify(a) }, { body: Buffer.from(JSON.stringify(a)).toString('base64'), isBase64Encoded: true }]) {
      const parsed = parseEvent(event);
      assert.ok(parsed.ok && parsed.alert.rule === 'Terminal shell in container', JSON.stringify(parsed));
    }
  });
  it('says why an event is not an alert', () => {
    const r = parseEvent({ rule: 'x', priority: 'Loud' });
    assert.ok(!r.ok);
    assert.match(r.message, /^the event is not a Falco alert: priority: unknown priority "Loud".*time: is required/);
    const notJson = parseEvent('{');
    assert.ok(!notJson.ok && notJson.message.startsWith('the event is not JSON'));
  });
});
