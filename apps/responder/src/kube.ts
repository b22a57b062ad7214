// Talking to the Kubernetes API: where the credentials come from, and which failures are worth
// a retry (the hub retries a failed invocation) and which are final.
import { readFileSync } from 'node:fs';
import { ApiException, CoreV1Api, KubeConfig } from '@kubernetes/client-node';

/**
 * A KubeConfig from the environment, first that applies:
 * 1. PEREGRINE_KUBE_SERVER with PEREGRINE_KUBE_TOKEN or PEREGRINE_KUBE_TOKEN_FILE (re-read at
 *    each start; a projected token file rotates), and PEREGRINE_KUBE_CA_FILE or
 *    PEREGRINE_KUBE_CA_DATA (base64 PEM) to trust the API server: the Lambda form;
 * 2. KUBECONFIG: a kubeconfig file (its current context);
 * 3. in a pod (KUBERNETES_SERVICE_HOST): the service account's in-cluster config.
 */
export function kubeConfigFromEnvironment(env: NodeJS.ProcessEnv = process.env): KubeConfig {
  const kc = new KubeConfig();
  if (env.PEREGRINE_KUBE_SERVER) {
    let token = env.PEREGRINE_KUBE_TOKEN;
    if (!token && env.PEREGRINE_KUBE_TOKEN_FILE) {
      try {
        token = readFileSync(env.PEREGRINE_KUBE_TOKEN_FILE, 'utf8').trim();
      } catch (e) {
        throw new Error(`PEREGRINE_KUBE_TOKEN_FILE: cannot read ${env.PEREGRINE_KUBE_TOKEN_FILE}: ${(e as Error).message}`);
      }
    }
    if (!token) throw new Error('PEREGRINE_KUBE_SERVER is set but neither PEREGRINE_KUBE_TOKEN nor PEREGRINE_KUBE_TOKEN_FILE gives a token');
    let caData = env.PEREGRINE_KUBE_CA_DATA;
    if (!caData && env.PEREGRINE_KUBE_CA_FILE) {
      try {
        caData = readFileSync(env.PEREGRINE_KUBE_CA_FILE).toString('base64');
      } catch (e) {
        throw new Error(`PEREGRINE_KUBE_CA_FILE: cannot read ${env.PEREGRINE_KUBE_CA_FILE}: ${(e as Error).message}`);
      }
    }
    kc.loadFromOptions({
      clusters: [{ name: 'target', server: env.PEREGRINE_KUBE_SERVER, caData, skipTLSVerify: false }],
      users: [{ name: 'responder', token }],
      contexts: [{ name: 'responder', cluster: 'target', user: 'responder' }],
      currentContext: 'responder',
    });
    return kc;
  }
  if (env.KUBECONFIG) {
    kc.loadFromFile(env.KUBECONFIG);
    return kc;
  }
  if (env.KUBERNETES_SERVICE_HOST) {
    kc.loadFromCluster();
    return kc;
  }
  throw new Error('no Kubernetes credentials: set PEREGRINE_KUBE_SERVER + PEREGRINE_KUBE_TOKEN(_FILE) (+ PEREGRINE_KUBE_CA_FILE/_DATA), or KUBECONFIG, or run in a pod');
}

/** How one failed API call is treated. */
export type KubeFailure =
  | { readonly kind: 'not-found' }
  | { readonly kind: 'conflict'; readonly message: string }
  | { readonly kind: 'forbidden'; readonly message: string }
  | { readonly kind: 'invalid'; readonly status: number; readonly message: string }
  | { readonly kind: 'retryable'; readonly message: string };

/** Sorts an error from client-node (or the timeout below) into the kinds the responder handles. */
export function classifyKubeError(error: unknown): KubeFailure {
  if (error instanceof ApiException) {
    const status = error.code;
    const message = statusMessage(error);
    if (status === 404) return { kind: 'not-found' };
    if (status === 409) return { kind: 'conflict', message };
    if (status === 401 || status === 403) return { kind: 'forbidden', message: `HTTP ${status}: ${message}` };
    if (status === 429 || status >= 500 || status === 408) return { kind: 'retryable', message: `HTTP ${status}: ${message}` };
    return { kind: 'invalid', status, message: `HTTP ${status}: ${message}` };
  }
  // No HTTP answer at all: refused, reset, DNS, TLS handshake, our timeout. Worth a retry.
  const err = error as { name?: string; message?: string; code?: string; errno?: string; cause?: { code?: string } };
  const code = err?.code ?? err?.errno ?? err?.cause?.code;
  if (err?.name === 'FetchError' || (typeof code === 'string' && NETWORK_CODE.test(code))) {
    return { kind: 'retryable', message: `API server unreachable${code ? ` (${code})` : ''}: ${err?.message ?? String(error)}` };
  }
  // Anything else was raised before a request left (a bad kubeconfig, say): a retry would fail the same way.
  return { kind: 'invalid', status: 0, message: `the Kubernetes client failed before reaching the API server: ${err?.message ?? String(error)}` };
}

const NETWORK_CODE = /^(E(CONN(REFUSED|RESET|ABORTED)|HOSTUNREACH|NETUNREACH|NETDOWN|PIPE|TIMEDOUT|AI_AGAIN|NOTFOUND|PROTO)|UND_ERR_.*|ERR_SSL_.*|ERR_TLS_.*|CERT_.*|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_.*)$/;

function statusMessage(error: ApiException<unknown>): string {
  const body = error.body as unknown;
  if (typeof body === 'string') {
    try {
      const parsed = JSON.parse(body) as { message?: string };
      if (typeof parsed.message === 'string') return parsed.message;
    } catch {
      /* not JSON: use it as text */
    }
    return body.slice(0, 300);
  }
  if (typeof body === 'object' && body !== null && typeof (body as { message?: unknown }).message === 'string') return (body as { message: string }).message;
  return error.message.split('\n')[1] ?? error.message;
}

/** A call that outlives `ms` is reported as a retryable failure (the call itself is left to end). */
export async function withTimeout<T>(ms: number, what: string, call: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      call(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(Object.assign(new Error(`${what}: no answer from the API server within ${ms} ms`), { code: 'ETIMEDOUT' })), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export { CoreV1Api, KubeConfig };
