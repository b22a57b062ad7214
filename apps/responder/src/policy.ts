// The responder's policy: which alerts lead to which action, where the responder may act, and
// the limits it works under. Validated once at start-up; every error names the key path.
import { readFileSync } from 'node:fs';
import { parsePriority, PRIORITIES } from '@peregrine/alert';
import type { Priority } from '@peregrine/alert';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/** Namespaces the responder never acts in, whatever the policy says (plus its own). */
export const ALWAYS_DENIED_NAMESPACES: readonly string[] = ['kube-system', 'kube-public'];

/** The label the `label` action sets when a response names none. */
export const DEFAULT_QUARANTINE_LABELS: Readonly<Record<string, string>> = { 'peregrine.io/quarantine': 'true' };

const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
// A namespace pattern: a DNS label where `*` and `?` may stand for characters.
const namespacePattern = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9*?]([-a-z0-9*?]*[a-z0-9*?])?$/, 'must be a namespace name, optionally with * or ? wildcards');
const labelKey = z
  .string()
  .regex(
    /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/,
    'must be a Kubernetes label key such as peregrine.io/quarantine',
  );
const labelValue = z.string().regex(/^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/, 'must be a Kubernetes label value (63 characters of [A-Za-z0-9-_.], alphanumeric at both ends)');

const priority = z.string().transform((text, ctx): Priority => {
  const parsed = parsePriority(text);
  if (parsed === undefined) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `unknown priority "${text}"; use one of ${PRIORITIES.join(', ')}` });
    return z.NEVER;
  }
  return parsed;
});

const podKindChoice = z.enum(['act', 'skip']);

const responseSchema = z
  .object({
    name: z.string().min(1).describe('Names the response in audit lines and results.'),
    match: z
      .object({
        rules: z.array(z.string().min(1)).min(1).optional().describe('Rule names or globs (`*`, `?`); the alert\'s rule must match one.'),
        minimumPriority: priority.optional().describe('Lowest priority that triggers (Falco names, any case).'),
        tags: z
          .object({
            any: z.array(z.string().min(1)).min(1).optional().describe('The alert has at least one of these tags.'),
            all: z.array(z.string().min(1)).min(1).optional().describe('The alert has every one of these tags.'),
          })
          .strict()
          .optional(),
      })
      .strict()
      .refine((m) => m.rules !== undefined || m.minimumPriority !== undefined || m.tags !== undefined, {
        message: 'needs at least one of rules, minimumPriority, tags (an empty match would act on every alert)',
      }),
    action: z.enum(['delete', 'label']).describe('delete: delete the pod; label: add labels and leave it running.'),
    gracePeriodSeconds: z.number().int().min(0).max(3600).optional().describe('delete only: the grace period (default: the pod\'s own terminationGracePeriodSeconds).'),
    labels: z.record(labelKey, labelValue).optional().describe('label only: the labels to set (default peregrine.io/quarantine=true).'),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.action === 'label' && r.gracePeriodSeconds !== undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['gracePeriodSeconds'], message: 'applies to action delete only' });
    if (r.action === 'delete' && r.labels !== undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['labels'], message: 'applies to action label only' });
    if (r.labels !== undefined && Object.keys(r.labels).length === 0) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['labels'], message: 'must name at least one label' });
  });

export const policySchema = z
  .object({
    responderNamespace: z.string().regex(dnsLabel, 'must be a namespace name').max(63).describe('Where the responder runs and keeps the cap\'s ConfigMap; always denied as a target.'),
    dryRun: z.boolean().default(false).describe('Decide and report, touch nothing.'),
    namespaces: z
      .object({
        allow: z.array(namespacePattern).min(1).describe('Namespaces (or globs) the responder may act in; ["*"] for all but the denied ones.'),
        deny: z.array(namespacePattern).default([]).describe('Namespaces (or globs) never acted in, on top of kube-system, kube-public and responderNamespace.'),
      })
      .strict(),
    responses: z.array(responseSchema).min(1).describe('Checked in order; the first that matches an alert decides its action.'),
    pods: z
      .object({
        bare: podKindChoice.default('act').describe('Pods owned by no controller.'),
        daemonSet: podKindChoice.default('skip').describe('Pods of a DaemonSet (often node agents; deleting one only restarts it on the same node).'),
        mirror: podKindChoice.default('skip').describe('Mirror pods of static pods (the kubelet recreates them from its manifest).'),
      })
      .strict()
      .default({}),
    cap: z
      .object({
        maxActions: z.number().int().min(1).default(5).describe('At most this many actions per window, across every responder sharing the cluster.'),
        windowSeconds: z.number().int().min(1).max(86_400).default(60).describe('The sliding window the cap counts in, in seconds (at most a day).'),
        configMapName: z.string().regex(dnsLabel, 'must be a ConfigMap name').default('peregrine-responder-cap').describe('The shared count, in responderNamespace.'),
      })
      .strict()
      .default({}),
    kubeRequestTimeoutMs: z.number().int().min(100).default(10_000).describe('One Kubernetes API call taking longer fails the invocation retryably.'),
  })
  .strict();

export type Policy = z.output<typeof policySchema>;
export type PolicyInput = z.input<typeof policySchema>;
export type ResponseRule = Policy['responses'][number];
export type ResponseAction = ResponseRule['action'];

/** A policy that is not valid: every problem, each with its key path. */
export class PolicyError extends Error {
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(`responder policy (${source}) is not valid:\n  ${problems.join('\n  ')}`);
    this.name = 'PolicyError';
  }
}

/** Validates a policy object; throws PolicyError naming each bad key. */
export function parsePolicy(input: unknown, source = 'policy'): Policy {
  const result = policySchema.safeParse(input);
  if (!result.success) {
    throw new PolicyError(
      source,
      result.error.issues.map((issue) => `${issue.path.length > 0 ? issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : p)).join('.').replace(/\.\[/g, '[') : '(policy)'}: ${issue.message}`),
    );
  }
  return result.data;
}

/** Parses policy text (YAML or JSON, JSON being YAML). */
export function parsePolicyText(text: string, source: string): Policy {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (e) {
    throw new PolicyError(source, [`not YAML/JSON: ${(e as Error).message}`]);
  }
  return parsePolicy(document, source);
}

/**
 * The policy from the environment:
 * - PEREGRINE_RESPONDER_POLICY: the policy itself (YAML or JSON), or
 * - PEREGRINE_RESPONDER_POLICY_FILE: a file holding it;
 * then PEREGRINE_RESPONDER_DRY_RUN (true/false) overrides `dryRun`, and a policy without
 * `responderNamespace` takes PEREGRINE_RESPONDER_NAMESPACE or POD_NAMESPACE.
 */
export function loadPolicyFromEnvironment(env: NodeJS.ProcessEnv = process.env): Policy {
  let source: string;
  let text: string;
  if (env.PEREGRINE_RESPONDER_POLICY !== undefined && env.PEREGRINE_RESPONDER_POLICY.trim() !== '') {
    source = 'PEREGRINE_RESPONDER_POLICY';
    text = env.PEREGRINE_RESPONDER_POLICY;
  } else if (env.PEREGRINE_RESPONDER_POLICY_FILE) {
    source = env.PEREGRINE_RESPONDER_POLICY_FILE;
    try {
      text = readFileSync(source, 'utf8');
    } catch (e) {
      throw new PolicyError(source, [`cannot read the policy file: ${(e as Error).message}`]);
    }
  } else {
    throw new PolicyError('environment', ['set PEREGRINE_RESPONDER_POLICY (the policy as YAML/JSON) or PEREGRINE_RESPONDER_POLICY_FILE (its path); see docs/responder.md']);
  }
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (e) {
    throw new PolicyError(source, [`not YAML/JSON: ${(e as Error).message}`]);
  }
  if (typeof document === 'object' && document !== null && !Array.isArray(document)) {
    const withEnv = { ...(document as Record<string, unknown>) };
    const dryRun = env.PEREGRINE_RESPONDER_DRY_RUN;
    if (dryRun !== undefined && dryRun !== '') {
      if (!/^(true|false)$/i.test(dryRun)) throw new PolicyError('PEREGRINE_RESPONDER_DRY_RUN', [`must be true or false, got "${dryRun}"`]);
      withEnv.dryRun = dryRun.toLowerCase() === 'true';
    }
    if (withEnv.responderNamespace === undefined) {
      const ns = env.PEREGRINE_RESPONDER_NAMESPACE || env.POD_NAMESPACE;
      if (ns) withEnv.responderNamespace = ns;
    }
    document = withEnv;
  }
  return parsePolicy(document, source);
}
