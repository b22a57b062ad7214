// The pure part of the decision: policy matching, pod metadata and namespace guards, and the
// checks on the pod object the API returned. No I/O here, so each guard is tested directly.
import { isAtLeast } from '@peregrine/alert';
import type { Alert } from '@peregrine/alert';
import { globAny } from './glob.ts';
import type { DecisionReason, PodRef } from './decision.ts';
import { ALWAYS_DENIED_NAMESPACES } from './policy.ts';
import type { Policy, ResponseRule } from './policy.ts';

/** The first response of the policy whose match holds for the alert. */
export function matchResponse(policy: Policy, alert: Alert): ResponseRule | undefined {
  return policy.responses.find((response) => {
    const { rules, minimumPriority, tags } = response.match;
    if (rules !== undefined && !globAny(rules, alert.rule)) return false;
    if (minimumPriority !== undefined && !isAtLeast(alert.priority, minimumPriority)) return false;
    if (tags?.any !== undefined && !tags.any.some((t) => alert.tags.some((have) => globAny([t], have)))) return false;
    if (tags?.all !== undefined && !tags.all.every((t) => alert.tags.some((have) => globAny([t], have)))) return false;
    return true;
  });
}

export type GuardResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: DecisionReason; readonly message: string };

const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const uidPattern = /^[0-9a-fA-F-]{1,64}$/;

/** Falco writes a missing field as null, and older outputs as "<NA>". */
function present(value: unknown): value is string | number | bigint {
  return (typeof value === 'string' && value !== '' && value !== '<NA>') || typeof value === 'number' || typeof value === 'bigint';
}

/** The pod the alert is about: k8s.pod.name and k8s.ns.name, plus k8s.pod.uid when given. */
export function podFromAlert(alert: Alert): GuardResult<PodRef> {
  const fields = alert.output_fields;
  const name = fields['k8s.pod.name'];
  const namespace = fields['k8s.ns.name'];
  const uid = fields['k8s.pod.uid'];
  if (!present(name) || !present(namespace)) {
    const missing = [!present(name) ? 'k8s.pod.name' : undefined, !present(namespace) ? 'k8s.ns.name' : undefined].filter(Boolean).join(' and ');
    return { ok: false, reason: 'no-pod-metadata', message: `the alert carries no ${missing}: it is not about a Kubernetes pod (or the sensor could not enrich it), so there is no pod to act on` };
  }
  const nameText = String(name);
  const namespaceText = String(namespace);
  if (nameText.length > 253 || !dnsSubdomain.test(nameText)) return { ok: false, reason: 'invalid-pod-metadata', message: `k8s.pod.name ${JSON.stringify(nameText.slice(0, 80))} is not a pod name` };
  if (namespaceText.length > 63 || !dnsLabel.test(namespaceText)) return { ok: false, reason: 'invalid-pod-metadata', message: `k8s.ns.name ${JSON.stringify(namespaceText.slice(0, 80))} is not a namespace name` };
  if (present(uid)) {
    const uidText = String(uid);
    if (!uidPattern.test(uidText)) return { ok: false, reason: 'invalid-pod-metadata', message: `k8s.pod.uid ${JSON.stringify(uidText.slice(0, 80))} is not a pod uid` };
    return { ok: true, value: { namespace: namespaceText, name: nameText, uid: uidText } };
  }
  return { ok: true, value: { namespace: namespaceText, name: nameText } };
}

/** kube-system, kube-public and the responder's own namespace first, then deny, then allow. */
export function namespaceGuard(policy: Policy, namespace: string): GuardResult<string> {
  if (ALWAYS_DENIED_NAMESPACES.includes(namespace) || namespace === policy.responderNamespace) {
    return { ok: false, reason: 'namespace-protected', message: `namespace ${namespace} is always protected (kube-system, kube-public and the responder's own namespace ${policy.responderNamespace})` };
  }
  if (globAny(policy.namespaces.deny, namespace)) return { ok: false, reason: 'namespace-denied', message: `namespace ${namespace} is in the policy's deny list` };
  if (!globAny(policy.namespaces.allow, namespace)) return { ok: false, reason: 'namespace-not-allowed', message: `namespace ${namespace} is not in the policy's allow list` };
  return { ok: true, value: namespace };
}

/** The parts of a pod object the guards look at (a subset of V1Pod). */
export interface PodFacts {
  readonly metadata?: {
    readonly uid?: string;
    readonly deletionTimestamp?: Date | string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
    readonly ownerReferences?: ReadonlyArray<{ readonly kind: string; readonly name: string; readonly controller?: boolean }>;
  };
}

/** The annotation the kubelet puts on the API mirror of a static pod. */
export const MIRROR_POD_ANNOTATION = 'kubernetes.io/config.mirror';

export type PodKind = 'mirror' | 'daemonSet' | 'bare' | 'controlled';

/** How the policy's `pods` setting sees this pod. */
export function podKind(pod: PodFacts): PodKind {
  if (pod.metadata?.annotations?.[MIRROR_POD_ANNOTATION] !== undefined) return 'mirror';
  const owners = pod.metadata?.ownerReferences ?? [];
  const controller = owners.find((o) => o.controller === true) ?? owners[0];
  if (controller === undefined) return 'bare';
  if (controller.kind === 'DaemonSet') return 'daemonSet';
  return 'controlled';
}

/**
 * The checks on the pod the API returned, before acting: it is the pod the alert named (same uid
 * when the alert gave one) and its kind is one the policy acts on.
 */
export function podGuard(policy: Policy, ref: PodRef, pod: PodFacts): GuardResult<{ uid: string; kind: PodKind }> {
  const uid = pod.metadata?.uid ?? '';
  if (ref.uid !== undefined && uid !== ref.uid) {
    return { ok: false, reason: 'pod-replaced', message: `pod ${ref.namespace}/${ref.name} now has uid ${uid}, not the alert's ${ref.uid}: the pod the alert is about is gone and a new one took its name, which is left alone` };
  }
  const kind = podKind(pod);
  if (kind === 'mirror' && policy.pods.mirror === 'skip') return { ok: false, reason: 'mirror-pod', message: `pod ${ref.namespace}/${ref.name} is the mirror of a static pod (the kubelet would recreate it); policy pods.mirror is skip` };
  if (kind === 'daemonSet' && policy.pods.daemonSet === 'skip') return { ok: false, reason: 'daemonset-pod', message: `pod ${ref.namespace}/${ref.name} belongs to a DaemonSet; policy pods.daemonSet is skip` };
  if (kind === 'bare' && policy.pods.bare === 'skip') return { ok: false, reason: 'bare-pod', message: `pod ${ref.namespace}/${ref.name} has no owner (deleting it is for good); policy pods.bare is skip` };
  return { ok: true, value: { uid, kind } };
}

/** The labels a label action would still have to set (empty: already labelled). */
export function missingLabels(want: Readonly<Record<string, string>>, have: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const missing: Record<string, string> = {};
  for (const [key, value] of Object.entries(want)) if (have?.[key] !== value) missing[key] = value;
  return missing;
}

/** A JSON Patch that adds the labels only if the pod still has `uid` (the `test` op fails otherwise). */
export function labelPatch(uid: string, labels: Readonly<Record<string, string>>, podHasLabels: boolean): Array<Record<string, unknown>> {
  const ops: Array<Record<string, unknown>> = [{ op: 'test', path: '/metadata/uid', value: uid }];
  if (!podHasLabels) {
    ops.push({ op: 'add', path: '/metadata/labels', value: { ...labels } });
  } else {
    // RFC 6901: "~" is written "~0" and "/" is written "~1" in a path segment.
    for (const [key, value] of Object.entries(labels)) ops.push({ op: 'add', path: `/metadata/labels/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`, value });
  }
  return ops;
}
