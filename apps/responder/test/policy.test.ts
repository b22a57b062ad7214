import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadPolicyFromEnvironment, parsePolicy, parsePolicyText, PolicyError } from '../src/policy.ts';
import { testPolicy } from './fixtures.ts';

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof PolicyError, `expected a PolicyError, got ${String(e)}`);
    return [...e.problems];
  }
  assert.fail('expected the policy to be refused');
}

describe('responder policy', () => {
  it('fills defaults: not dry-run, mirror and DaemonSet pods skipped, bare pods acted on, a cap', () => {
    const policy = parsePolicy({ responderNamespace: 'r', namespaces: { allow: ['*'] }, responses: [{ name: 'x', match: { minimumPriority: 'CRITICAL' }, action: 'delete' }] });
    assert.equal(policy.dryRun, false);
    assert.deepEqual(policy.pods, { bare: 'act', daemonSet: 'skip', mirror: 'skip' });
    assert.deepEqual(policy.cap, { maxActions: 5, windowSeconds: 60, configMapName: 'peregrine-responder-cap' });
    assert.equal(policy.responses[0].match.minimumPriority, 'Critical');
    assert.deepEqual(policy.namespaces.deny, []);
  });

  it('names the key path of each problem', () => {
    const found = problems(() =>
      parsePolicy({
        responderNamespace: 'Bad_NS',
        namespaces: { allow: [] },
        responses: [
          { name: 'a', match: {}, action: 'kill' },
          { name: 'b', match: { minimumPriority: 'loud' }, action: 'label', gracePeriodSeconds: 3, labels: { 'bad key!': 'x' } },
        ],
        cap: { maxActions: 0 },
        extra: 1,
      }),
    );
    const text = found.join('\n');
    assert.match(text, /^responderNamespace: must be a namespace name/m);
    assert.match(text, /^namespaces\.allow: Array must contain at least 1/m);
    assert.match(text, /^responses\[0\]\.match: needs at least one of rules, minimumPriority, tags/m);
    assert.match(text, /^responses\[0\]\.action: Invalid enum value/m);
    assert.match(text, /^responses\[1\]\.match\.minimumPriority: unknown priority "loud"; use one of Emergency/m);
    assert.match(text, /^responses\[1\]\.gracePeriodSeconds: applies to action delete only/m);
    assert.match(text, /^responses\[1\]\.labels\.bad key!: must be a Kubernetes label key/m);
    assert.match(text, /^cap\.maxActions: Number must be greater than or equal to 1/m);
    assert.match(text, /^\(policy\): Unrecognized key\(s\) in object: 'extra'/m);
  });

  it('reads YAML text and says where it came from', () => {
    const policy = parsePolicyText('responderNamespace: r\nnamespaces: {allow: [shop]}\nresponses:\n  - {name: q, match: {rules: ["Write below *"]}, action: label, labels: {peregrine.io/quarantine: "yes"}}\n', 'policy.yaml');
    assert.deepEqual(policy.responses[0].labels, { 'peregrine.io/quarantine': 'yes' });
    assert.throws(() => parsePolicyText('responses: [', 'broken.yaml'), /responder policy \(broken\.yaml\) is not valid:\n {2}not YAML\/JSON/);
  });

  it('loads from the environment: inline, then a file; dry-run and namespace from variables', () => {
    const dir = mkdtempSync(join(tmpdir(), 'responder-policy-'));
    const file = join(dir, 'policy.json');
    const { responderNamespace: _ns, ...withoutNamespace } = testPolicy();
    writeFileSync(file, JSON.stringify(withoutNamespace));
    const fromFile = loadPolicyFromEnvironment({ PEREGRINE_RESPONDER_POLICY_FILE: file, POD_NAMESPACE: 'sec', PEREGRINE_RESPONDER_DRY_RUN: 'TRUE' });
    assert.equal(fromFile.responderNamespace, 'sec');
    assert.equal(fromFile.dryRun, true);
    const inline = loadPolicyFromEnvironment({ PEREGRINE_RESPONDER_POLICY: JSON.stringify(testPolicy()), PEREGRINE_RESPONDER_POLICY_FILE: file });
    assert.equal(inline.responderNamespace, 'peregrine-responder');
    assert.equal(inline.dryRun, false);
    assert.deepEqual(problems(() => loadPolicyFromEnvironment({})), ['set PEREGRINE_RESPONDER_POLICY (the policy as YAML/JSON) or PEREGRINE_RESPONDER_POLICY_FILE (its path); see docs/responder.md']);
    assert.match(problems(() => loadPolicyFromEnvironment({ PEREGRINE_RESPONDER_POLICY_FILE: join(dir, 'missing.yaml') }))[0], /cannot read the policy file: ENOENT/);
    assert.deepEqual(problems(() => loadPolicyFromEnvironment({ PEREGRINE_RESPONDER_POLICY: JSON.stringify(testPolicy()), PEREGRINE_RESPONDER_DRY_RUN: 'maybe' })), ['must be true or false, got "maybe"']);
    assert.match(problems(() => loadPolicyFromEnvironment({ PEREGRINE_RESPONDER_POLICY: JSON.stringify(withoutNamespace) })).join(), /responderNamespace: Required/);
  });
});
