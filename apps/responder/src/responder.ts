// One alert in, one decision out: the policy, the guards, the cap and the action, in that order.
// Everything that can be decided without the API is decided first, so an alert the responder
// must not act on never causes an API call.
import { validateAlert, describeAlertErrors } from '@peregrine/alert';
import type { Alert } from '@peregrine/alert';
import type { CoreV1Api, KubeConfig, V1Pod } from '@kubernetes/client-node';
import { CoreV1Api as CoreV1ApiClass } from '@kubernetes/client-node';
import { deletePod, labelPod } from './actions.ts';
import type { ActionResult } from './actions.ts';
import { auditDecision, auditRetry, createAuditLog } from './audit.ts';
import type { AuditLog } from './audit.ts';
import { CapUnavailableError, KubeCap } from './cap.ts';
import { RetryableResponderError } from './decision.ts';
import type { Decision, DecisionOutcome, DecisionReason, PodRef } from './decision.ts';
import { matchResponse, missingLabels, namespaceGuard, podFromAlert, podGuard } from './guards.ts';
import { classifyKubeError, withTimeout } from './kube.ts';
import type { KubeFailure } from './kube.ts';
import { DEFAULT_QUARANTINE_LABELS } from './policy.ts';
import type { Policy, ResponseRule } from './policy.ts';

export interface ResponderOptions {
  readonly policy: Policy;
  /**
   * Where the API server is and who the responder is; a function is called at the first alert
   * that needs the API, so alerts refused by the guards alone need no credentials.
   */
  readonly kubeConfig: KubeConfig | (() => KubeConfig);
  /** @defaultValue pino on stdout */
  readonly audit?: AuditLog;
  /** The clock the cap's window uses. @defaultValue Date.now */
  readonly now?: () => number;
}

export interface Responder {
  readonly policy: Policy;
  /**
   * Decides about one Falco JSON alert (an object, or its JSON text) and acts. Resolves with the
   * decision for every final answer, refusals included; rejects with RetryableResponderError
   * when the attempt must be repeated (API unreachable, 5xx, 429, timeout).
   */
  respond(event: unknown): Promise<Decision>;
}

export function createResponder(options: ResponderOptions): Responder {
  const { policy } = options;
  const audit = options.audit ?? createAuditLog();
  let clients: { core: CoreV1Api; cap: KubeCap } | undefined;
  /** The API clients, made on first use; undefined (with the reason) when there are no credentials. */
  function kubeClients(): { core: CoreV1Api; cap: KubeCap } | string {
    if (clients !== undefined) return clients;
    let kc: KubeConfig;
    try {
      kc = typeof options.kubeConfig === 'function' ? options.kubeConfig() : options.kubeConfig;
    } catch (e) {
      return (e as Error).message;
    }
    const core = kc.makeApiClient(CoreV1ApiClass);
    const settings = {
      namespace: policy.responderNamespace,
      configMapName: policy.cap.configMapName,
      maxActions: policy.cap.maxActions,
      windowSeconds: policy.cap.windowSeconds,
      requestTimeoutMs: policy.kubeRequestTimeoutMs,
    };
    clients = { core, cap: new KubeCap(core, settings, options.now) };
    return clients;
  }

  async function respond(event: unknown): Promise<Decision> {
    const parsed = parseEvent(event);
    if (!parsed.ok) return finish({ outcome: 'refused', reason: 'invalid-alert', message: parsed.message, alert: {}, dryRun: policy.dryRun });
    const alert = parsed.alert;
    const alertRef = { uuid: alert.uuid, rule: alert.rule, priority: alert.priority };
    try {
      return finish(await decide(alert, alertRef));
    } catch (e) {
      if (e instanceof RetryableResponderError) auditRetry(audit, alertRef, e.message);
      throw e;
    }
  }

  function finish(decision: Decision): Decision {
    auditDecision(audit, decision);
    return decision;
  }

  async function decide(alert: Alert, alertRef: Decision['alert']): Promise<Decision> {
    const base = { alert: alertRef, dryRun: policy.dryRun };
    const response = matchResponse(policy, alert);
    if (response === undefined) return { ...base, outcome: 'ignored', reason: 'no-matching-response', message: `no response of the policy matches rule "${alert.rule}" at priority ${alert.priority}` };
    const about = { ...base, response: response.name, action: response.action };
    const refuse = (reason: DecisionReason, message: string, pod?: PodRef): Decision => ({ ...about, outcome: 'refused', reason, message, ...(pod ? { pod } : {}) });

    const ref = podFromAlert(alert);
    if (!ref.ok) return refuse(ref.reason, ref.message);
    const pod = ref.value;
    const where = namespaceGuard(policy, pod.namespace);
    if (!where.ok) return refuse(where.reason, where.message, pod);

    const said = (outcome: DecisionOutcome, reason: DecisionReason, message: string, extra: Partial<Decision> = {}): Decision => ({ ...about, outcome, reason, message, pod, ...extra });
    const apiFailure = (what: string, failure: KubeFailure): Decision => {
      if (failure.kind === 'retryable' || failure.kind === 'conflict') throw new RetryableResponderError(`${what} ${pod.namespace}/${pod.name}: ${failure.message}`);
      if (failure.kind === 'forbidden') return refuse('forbidden', `the API server refused ${what} ${pod.namespace}/${pod.name} (${failure.message}); the responder's Role does not cover it`, pod);
      if (failure.kind === 'not-found') return refuse('api-refused', `${what} ${pod.namespace}/${pod.name}: not found`, pod);
      if (failure.status === 0) return refuse('api-refused', `${what} ${pod.namespace}/${pod.name}: ${failure.message}`, pod);
      return refuse('api-refused', `the API server refused ${what} ${pod.namespace}/${pod.name}: ${failure.message}`, pod);
    };

    const kube = kubeClients();
    if (typeof kube === 'string') return refuse('kube-unconfigured', `no Kubernetes API to act through: ${kube}`, pod);
    const { core, cap } = kube;
    let current: V1Pod;
    try {
      current = await withTimeout(policy.kubeRequestTimeoutMs, 'reading the pod', () => core.readNamespacedPod({ name: pod.name, namespace: pod.namespace }));
    } catch (e) {
      const failure = classifyKubeError(e);
      if (failure.kind === 'not-found') return said('already-done', 'already-gone', `pod ${pod.namespace}/${pod.name} is already gone`);
      return apiFailure('reading', failure);
    }
    const checked = podGuard(policy, pod, current);
    if (!checked.ok) return refuse(checked.reason, checked.message, pod);
    const target = { namespace: pod.namespace, name: pod.name, uid: checked.value.uid };

    const labels = response.labels ?? DEFAULT_QUARANTINE_LABELS;
    const toSet = missingLabels(labels, current.metadata?.labels);
    if (response.action === 'delete' && current.metadata?.deletionTimestamp) {
      return said('already-done', 'already-terminating', `pod ${pod.namespace}/${pod.name} (uid ${target.uid}) is already being deleted`);
    }
    if (response.action === 'label' && Object.keys(toSet).length === 0) {
      return said('already-done', 'already-labelled', `pod ${pod.namespace}/${pod.name} (uid ${target.uid}) already has ${formatLabels(labels)}`);
    }

    if (policy.dryRun) return dryRunDecision(response, target, toSet, said);

    let slot;
    try {
      slot = await cap.reserve(`${response.action}:${target.namespace}/${target.name}:${target.uid}`);
    } catch (e) {
      if (e instanceof CapUnavailableError) return refuse('cap-unavailable', `${e.message}; without the cap the responder does not act`, pod);
      throw e;
    }
    const capState = { used: slot.used, maxActions: policy.cap.maxActions, windowSeconds: policy.cap.windowSeconds };
    if (!slot.granted) {
      return { ...refuse('cap-reached', `the cap of ${policy.cap.maxActions} actions per ${policy.cap.windowSeconds} s is reached; pod ${pod.namespace}/${pod.name} is left alone`, pod), cap: capState };
    }

    let result: ActionResult;
    if (response.action === 'delete') result = await deletePod(core, target, response.gracePeriodSeconds, policy.kubeRequestTimeoutMs);
    else result = await labelPod(core, target, toSet, current.metadata?.labels !== undefined && Object.keys(current.metadata.labels).length > 0, policy.kubeRequestTimeoutMs);
    switch (result.kind) {
      case 'done':
        return response.action === 'delete'
          ? said('acted', 'deleted', `deleted pod ${pod.namespace}/${pod.name} (uid ${target.uid}${response.gracePeriodSeconds !== undefined ? `, grace ${response.gracePeriodSeconds} s` : ''})`, { cap: capState })
          : said('acted', 'labelled', `labelled pod ${pod.namespace}/${pod.name} (uid ${target.uid}) with ${formatLabels(toSet)}`, { cap: capState });
      case 'gone':
        return said('already-done', 'already-gone', `pod ${pod.namespace}/${pod.name} (uid ${target.uid}) was gone by the time of the ${response.action}`, { cap: capState });
      case 'replaced':
        return { ...refuse('pod-replaced', `pod ${pod.namespace}/${pod.name} was replaced by another pod of the same name${result.uid ? ` (uid ${result.uid})` : ''} before the ${response.action}; the new pod is left alone`, pod), cap: capState };
      case 'failed':
        return { ...apiFailure(response.action === 'delete' ? 'deleting' : 'labelling', result.failure), cap: capState };
    }
  }

  function dryRunDecision(response: ResponseRule, target: { namespace: string; name: string; uid: string }, toSet: Record<string, string>, said: (o: DecisionOutcome, r: DecisionReason, m: string, extra?: Partial<Decision>) => Decision): Decision {
    if (response.action === 'delete') {
      return said('dry-run', 'would-delete', `dry run: would delete pod ${target.namespace}/${target.name} (uid ${target.uid})`, {
        wouldDo: { verb: 'delete', namespace: target.namespace, name: target.name, preconditionUid: target.uid, ...(response.gracePeriodSeconds !== undefined ? { gracePeriodSeconds: response.gracePeriodSeconds } : {}) },
      });
    }
    return said('dry-run', 'would-label', `dry run: would label pod ${target.namespace}/${target.name} (uid ${target.uid}) with ${formatLabels(toSet)}`, {
      wouldDo: { verb: 'patch', namespace: target.namespace, name: target.name, preconditionUid: target.uid, labels: toSet },
    });
  }

  return { policy, respond };
}

function formatLabels(labels: Readonly<Record<string, string>>): string {
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(', ');
}

type ParsedEvent = { readonly ok: true; readonly alert: Alert } | { readonly ok: false; readonly message: string };

/**
 * The alert from an invocation's event: the Falco JSON object itself (what the hub's Lambda
 * destination and webhook send), its JSON text, or an HTTP-style envelope `{ body: "<json>" }`
 * (function URLs, API Gateway).
 */
export function parseEvent(event: unknown): ParsedEvent {
  let value = event;
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && typeof (value as { body?: unknown }).body === 'string' && (value as { rule?: unknown }).rule === undefined) {
    const envelope = value as { body: string; isBase64Encoded?: boolean };
    value = envelope.isBase64Encoded ? Buffer.from(envelope.body, 'base64').toString('utf8') : envelope.body;
  }
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch (e) {
      return { ok: false, message: `the event is not JSON: ${(e as Error).message}` };
    }
  }
  const validation = validateAlert(value);
  if (!validation.ok) return { ok: false, message: `the event is not a Falco alert: ${describeAlertErrors(validation.errors)}` };
  return { ok: true, alert: validation.alert };
}
