// The blast-radius cap: at most `maxActions` actions per `windowSeconds`, counted across every
// invocation at once (Lambda runs many side by side, each with its own memory), so the count
// lives where they all see it: a ConfigMap in the responder's namespace, updated with optimistic
// concurrency (a replace carries the resourceVersion it read; a concurrent writer makes it fail
// with 409 and the invocation reads again). Two invocations can never both take the last slot.
//
// A slot is keyed by the action and the pod's uid, so a retried invocation (or two alerts about
// the same pod) reuses its slot instead of taking another. A slot is never given back: an action
// that turned out unnecessary still counts, which errs on the side of fewer actions.
import type { CoreV1Api, V1ConfigMap } from '@kubernetes/client-node';
import { classifyKubeError, withTimeout } from './kube.ts';
import { RetryableResponderError } from './decision.ts';

export interface CapEntry {
  readonly key: string;
  /** When the slot was taken, ms since the epoch. */
  readonly at: number;
}

export type CapVerdict =
  | { readonly granted: true; readonly fresh: boolean; readonly entries: readonly CapEntry[]; readonly used: number }
  | { readonly granted: false; readonly used: number };

/** The pure rule: entries older than the window drop out; a known key keeps its slot; else a free slot or no. */
export function decideSlot(entries: readonly CapEntry[], key: string, now: number, maxActions: number, windowMs: number): CapVerdict {
  const live = entries.filter((e) => e.at > now - windowMs && e.at <= now + windowMs);
  if (live.some((e) => e.key === key)) return { granted: true, fresh: false, entries: live, used: live.length };
  if (live.length >= maxActions) return { granted: false, used: live.length };
  const next = [...live, { key, at: now }];
  return { granted: true, fresh: true, entries: next, used: next.length };
}

/** The ledger as the ConfigMap holds it (data.ledger, JSON); anything unreadable counts as full. */
export function parseLedger(text: string | undefined, maxActions: number, now: number): CapEntry[] {
  if (text === undefined || text === '') return [];
  try {
    const parsed = JSON.parse(text) as unknown;
    if (Array.isArray(parsed) && parsed.every((e) => typeof e === 'object' && e !== null && typeof (e as CapEntry).key === 'string' && typeof (e as CapEntry).at === 'number')) {
      return parsed as CapEntry[];
    }
  } catch {
    /* fall through */
  }
  // Someone wrote something else into the ConfigMap: fail safe, as if the window were full.
  return Array.from({ length: maxActions }, (_, i) => ({ key: `(unreadable ledger ${i})`, at: now }));
}

export interface CapSettings {
  readonly namespace: string;
  readonly configMapName: string;
  readonly maxActions: number;
  readonly windowSeconds: number;
  readonly requestTimeoutMs: number;
}

const MAX_ATTEMPTS = 40;

export class KubeCap {
  constructor(
    private readonly core: CoreV1Api,
    private readonly settings: CapSettings,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes (or finds) the slot for `key`. Throws RetryableResponderError when the API cannot be reached or contention does not settle. */
  async reserve(key: string): Promise<CapVerdict> {
    const { namespace, configMapName: name, maxActions, windowSeconds, requestTimeoutMs } = this.settings;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      let current: V1ConfigMap | undefined;
      try {
        current = await withTimeout(requestTimeoutMs, 'reading the cap ConfigMap', () => this.core.readNamespacedConfigMap({ name, namespace }));
      } catch (e) {
        const failure = classifyKubeError(e);
        if (failure.kind !== 'not-found') throw this.failure('reading', failure);
      }
      const now = this.now();
      const verdict = decideSlot(parseLedger(current?.data?.ledger, maxActions, now), key, now, maxActions, windowSeconds * 1000);
      if (!verdict.granted || !verdict.fresh) return verdict;
      const data = { ledger: JSON.stringify(verdict.entries) };
      try {
        if (current === undefined) {
          await withTimeout(requestTimeoutMs, 'creating the cap ConfigMap', () =>
            this.core.createNamespacedConfigMap({ namespace, body: { metadata: { name, namespace, labels: { 'app.kubernetes.io/managed-by': 'peregrine-responder' } }, data } }),
          );
        } else {
          await withTimeout(requestTimeoutMs, 'updating the cap ConfigMap', () =>
            this.core.replaceNamespacedConfigMap({ name, namespace, body: { ...current, metadata: { ...current.metadata, resourceVersion: current.metadata?.resourceVersion }, data } }),
          );
        }
        return verdict;
      } catch (e) {
        const failure = classifyKubeError(e);
        // 409: someone else wrote (or created) it since we read; read again.
        if (failure.kind !== 'conflict') throw this.failure('writing', failure);
        await new Promise((r) => setTimeout(r, 5 + Math.floor(Math.random() * Math.min(200, 10 * (attempt + 1)))));
      }
    }
    throw new RetryableResponderError(`the cap ConfigMap ${namespace}/${name} kept changing under ${MAX_ATTEMPTS} attempts to update it`);
  }

  private failure(what: string, failure: ReturnType<typeof classifyKubeError>): Error {
    const { namespace, configMapName: name } = this.settings;
    const message = 'message' in failure ? failure.message : failure.kind;
    if (failure.kind === 'retryable') return new RetryableResponderError(`${what} the cap ConfigMap ${namespace}/${name}: ${message}`);
    // RBAC or a malformed object: retrying will not help, and acting without the cap is not an option.
    return new CapUnavailableError(`${what} the cap ConfigMap ${namespace}/${name} failed: ${message} (the responder needs get/create/update on configmaps in ${namespace}; see docs/responder.md)`);
  }
}

/** The cap's state cannot be used for a reason a retry will not fix (RBAC, a bad object). */
export class CapUnavailableError extends Error {
  override name = 'CapUnavailableError';
}
