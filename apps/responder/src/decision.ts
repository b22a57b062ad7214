// What the responder decided about one alert: the handler's result and the audit line.
import type { ResponseAction } from './policy.ts';

/**
 * - acted: the action was carried out now;
 * - already-done: nothing left to do (the pod is gone, terminating, or already labelled), so a
 *   retried delivery is safe;
 * - dry-run: everything checked, nothing touched; `wouldDo` says what would have happened;
 * - refused: a guard or the API said no; `reason` says which. Permanent: retrying cannot help;
 * - ignored: no response of the policy matches the alert.
 */
export type DecisionOutcome = 'acted' | 'already-done' | 'dry-run' | 'refused' | 'ignored';

/** Machine-readable reasons; `message` has the human sentence. */
export type DecisionReason =
  | 'deleted'
  | 'labelled'
  | 'already-gone'
  | 'already-terminating'
  | 'already-labelled'
  | 'would-delete'
  | 'would-label'
  | 'no-matching-response'
  | 'invalid-alert'
  | 'no-pod-metadata'
  | 'invalid-pod-metadata'
  | 'namespace-protected'
  | 'namespace-denied'
  | 'namespace-not-allowed'
  | 'pod-replaced'
  | 'mirror-pod'
  | 'daemonset-pod'
  | 'bare-pod'
  | 'cap-reached'
  | 'cap-unavailable'
  | 'kube-unconfigured'
  | 'forbidden'
  | 'api-refused';

export interface PodRef {
  readonly namespace: string;
  readonly name: string;
  /** The uid the alert named (k8s.pod.uid), when it had one. */
  readonly uid?: string;
}

export interface Decision {
  readonly outcome: DecisionOutcome;
  readonly reason: DecisionReason;
  readonly message: string;
  readonly alert: { readonly uuid?: string; readonly rule?: string; readonly priority?: string };
  /** The policy response that matched. */
  readonly response?: string;
  readonly action?: ResponseAction;
  readonly pod?: PodRef;
  readonly dryRun: boolean;
  /** dry-run only: the call that would have been made. */
  readonly wouldDo?: Readonly<Record<string, unknown>>;
  /** The cap's state after this decision, when the cap was consulted. */
  readonly cap?: { readonly used: number; readonly maxActions: number; readonly windowSeconds: number };
}

/** An invocation that must fail so that the hub retries it (API unreachable, 5xx, 429, timeouts, conflicts that did not settle). */
export class RetryableResponderError extends Error {
  constructor(
    message: string,
    readonly partial?: Decision,
  ) {
    super(message);
    this.name = 'RetryableResponderError';
  }
}
