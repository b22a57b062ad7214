// The AWS Lambda entry (Node 20 runtime): `handler` receives the Falco JSON alert the hub's
// Lambda destination sends and resolves with the decision. A retryable failure rejects, which
// Lambda reports as a function error: the hub counts that as a failed delivery and retries it.
// Final refusals resolve normally, so they are not retried.
import type { Decision } from './decision.ts';
import { kubeConfigFromEnvironment } from './kube.ts';
import { loadPolicyFromEnvironment } from './policy.ts';
import { createResponder } from './responder.ts';
import type { Responder } from './responder.ts';

/** A batch (an array of alerts) gives one decision per alert, in order. */
export type HandlerResult = Decision | { readonly decisions: readonly Decision[] };

/**
 * Runs one event through a responder. An array is handled alert by alert; a retryable failure
 * stops it and rejects, and the retry repeats the alerts before it harmlessly (already gone,
 * already labelled, and the same cap slot).
 */
export async function handleEvent(responder: Responder, event: unknown): Promise<HandlerResult> {
  if (Array.isArray(event)) {
    const decisions: Decision[] = [];
    for (const alert of event) decisions.push(await responder.respond(alert));
    return { decisions };
  }
  return responder.respond(event);
}

let responderFromEnvironment: Responder | undefined;

/** The responder this process uses, made once from the environment (policy and credentials). */
export function environmentResponder(): Responder {
  responderFromEnvironment ??= createResponder({ policy: loadPolicyFromEnvironment(), kubeConfig: () => kubeConfigFromEnvironment() });
  return responderFromEnvironment;
}

/** The Lambda handler: configure with PEREGRINE_RESPONDER_POLICY(_FILE) and PEREGRINE_KUBE_* (docs/responder.md). */
export async function handler(event: unknown): Promise<HandlerResult> {
  return handleEvent(environmentResponder(), event);
}
