// The two actions, each bound to the exact pod the guards looked at (its uid).
import type { CoreV1Api, V1Pod } from '@kubernetes/client-node';
import { setHeaderOptions, PatchStrategy } from '@kubernetes/client-node';
import { labelPatch } from './guards.ts';
import { classifyKubeError, withTimeout } from './kube.ts';
import type { KubeFailure } from './kube.ts';

export type ActionResult =
  | { readonly kind: 'done' }
  | { readonly kind: 'gone' }
  | { readonly kind: 'replaced'; readonly uid?: string }
  | { readonly kind: 'failed'; readonly failure: KubeFailure };

export interface PodTarget {
  readonly namespace: string;
  readonly name: string;
  /** The uid the guards checked: the delete/patch applies to this pod object only. */
  readonly uid: string;
}

/** DELETE with preconditions.uid: a pod recreated under the same name (another uid) gets 409, not deleted. */
export async function deletePod(core: CoreV1Api, target: PodTarget, gracePeriodSeconds: number | undefined, timeoutMs: number): Promise<ActionResult> {
  try {
    await withTimeout(timeoutMs, 'deleting the pod', () =>
      core.deleteNamespacedPod({
        name: target.name,
        namespace: target.namespace,
        ...(gracePeriodSeconds !== undefined ? { gracePeriodSeconds } : {}),
        body: { preconditions: { uid: target.uid }, ...(gracePeriodSeconds !== undefined ? { gracePeriodSeconds } : {}) },
      }),
    );
    return { kind: 'done' };
  } catch (e) {
    const failure = classifyKubeError(e);
    if (failure.kind === 'not-found') return { kind: 'gone' };
    // On a delete, 409 is the uid precondition failing: the name now belongs to another pod.
    if (failure.kind === 'conflict') return { kind: 'replaced' };
    return { kind: 'failed', failure };
  }
}

/** JSON Patch whose first op tests the uid: on another pod with the name, nothing is changed. */
export async function labelPod(core: CoreV1Api, target: PodTarget, labels: Readonly<Record<string, string>>, podHasLabels: boolean, timeoutMs: number): Promise<ActionResult> {
  try {
    await withTimeout(timeoutMs, 'labelling the pod', () =>
      core.patchNamespacedPod(
        { name: target.name, namespace: target.namespace, body: labelPatch(target.uid, labels, podHasLabels) },
        setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
      ),
    );
    return { kind: 'done' };
  } catch (e) {
    const failure = classifyKubeError(e);
    if (failure.kind === 'not-found') return { kind: 'gone' };
    if (failure.kind === 'conflict' || (failure.kind === 'invalid' && failure.status === 422)) {
      // A failed `test` op (422) or a conflict: find out whether the pod was replaced.
      try {
        const pod: V1Pod = await withTimeout(timeoutMs, 'reading the pod', () => core.readNamespacedPod({ name: target.name, namespace: target.namespace }));
        if (pod.metadata?.uid !== target.uid) return { kind: 'replaced', uid: pod.metadata?.uid };
      } catch (again) {
        const second = classifyKubeError(again);
        if (second.kind === 'not-found') return { kind: 'gone' };
        return { kind: 'failed', failure: second };
      }
    }
    return { kind: 'failed', failure };
  }
}
