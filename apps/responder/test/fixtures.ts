// Shared test inputs: a policy and Falco JSON alerts about pods.
import type { PolicyInput } from '../src/policy.ts';

export function testPolicy(overrides: Partial<PolicyInput> = {}): PolicyInput {
  return {
    responderNamespace: 'peregrine-responder',
    namespaces: { allow: ['shop', 'team-*'], deny: ['team-core'] },
    responses: [
      { name: 'quarantine-recon', match: { rules: ['Network tool launched*'] }, action: 'label' },
      { name: 'kill-critical', match: { minimumPriority: 'critical' }, action: 'delete', gracePeriodSeconds: 0 },
    ],
    cap: { maxActions: 3, windowSeconds: 60 },
    ...overrides,
  };
}

export interface AlertPod {
  readonly namespace?: string | null;
  readonly name?: string | null;
  readonly uid?: string;
}

let sequence = 0;

/** A Falco JSON alert about a pod, as the hub's Lambda destination sends it. */
export function alertAbout(pod: AlertPod, options: { rule?: string; priority?: string; tags?: string[]; uuid?: string } = {}): Record<string, unknown> {
  sequence++;
  const fields: Record<string, unknown> = { 'proc.name': 'sh', 'container.id': 'abcdef012345' };
  if (pod.name !== undefined) fields['k8s.pod.name'] = pod.name;
  if (pod.namespace !== undefined) fields['k8s.ns.name'] = pod.namespace;
  if (pod.uid !== undefined) fields['k8s.pod.uid'] = pod.uid;
  return {
    uuid: options.uuid ?? `00000000-0000-4000-8000-${String(sequence).padStart(12, '0')}`,
    hostname: 'node-1',
    output: 'A shell was spawned in a container',
    output_fields: fields,
    priority: options.priority ?? 'Critical',
    rule: options.rule ?? 'Terminal shell in container',
    source: 'syscall',
    tags: options.tags ?? ['container', 'shell', 'mitre_execution'],
    time: '2026-01-02T03:04:05.123456789Z',
  };
}
