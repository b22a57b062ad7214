// The set-up the two hub → responder suites share (hub-webhook.test.ts against a kube-apiserver,
// e2e-node.test.ts on a real node): the responder's HTTP form on a loopback port, the bundled
// Lambda zip under the emulator, and a hub as its own process (as deployed) routing alerts to them.
// Each suite keeps its own hub configuration: the routing is what it tests.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { freeLoopbackPort, startTestLambda } from '@peregrine/testkit';
import type { TestLambda } from '@peregrine/testkit';
import type { AuditLog } from '../src/audit.ts';
import { createResponderHttpServer } from '../src/http.ts';
import { parsePolicy } from '../src/policy.ts';
import type { PolicyInput } from '../src/policy.ts';
import { createResponder } from '../src/responder.ts';
import { bundledHandlerFile } from './kube-helpers.ts';

/** The policy both suites give a responder: delete the pod of a CRITICAL alert at once, in `namespace` only. */
export function killCriticalIn(namespace: string, extra: Partial<PolicyInput> = {}): PolicyInput {
  return {
    responderNamespace: 'peregrine-responder',
    namespaces: { allow: [namespace] },
    responses: [{ name: 'kill-critical', match: { minimumPriority: 'critical' }, action: 'delete', gracePeriodSeconds: 0 }],
    ...extra,
  };
}

/** Where and as whom the responder reaches the API server. */
export interface KubeAccess {
  readonly server: string;
  readonly token: string;
  readonly caFile: string;
}

/** The bundled zip's handler under the Lambda emulator, acting in `namespace` only (its cap in ConfigMap lambda-cap). */
export async function startResponderLambda(repoRoot: string, kube: KubeAccess, namespace: string): Promise<TestLambda> {
  return startTestLambda({
    handlerModule: await bundledHandlerFile(repoRoot),
    env: {
      PEREGRINE_RESPONDER_POLICY: JSON.stringify(killCriticalIn(namespace, { cap: { configMapName: 'lambda-cap' } })),
      PEREGRINE_KUBE_SERVER: kube.server,
      PEREGRINE_KUBE_TOKEN: kube.token,
      PEREGRINE_KUBE_CA_FILE: kube.caFile,
    },
  });
}

export interface ResponderHttp {
  /** The address for the hub's webhook destination (with the trailing slash). */
  readonly url: string;
  close(): Promise<void>;
}

/** The responder's HTTP form on a loopback port, acting under `policy` and asking for `token`. */
export async function startResponderHttp(options: { readonly policy: PolicyInput; readonly kubeConfig: KubeConfig; readonly audit: AuditLog; readonly token: string }): Promise<ResponderHttp> {
  const responder = createResponder({ policy: parsePolicy(options.policy), kubeConfig: options.kubeConfig, audit: options.audit });
  const server: Server = createResponderHttpServer({ responder, token: options.token });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** A hub running as its own process; its output is kept for failure messages. */
export interface HubProcess {
  readonly url: string;
  /** The last 20,000 characters the hub wrote (stdout and stderr). */
  output(): string;
  /** POSTs one alert as JSON to the hub's ingest endpoint; resolves with the HTTP status. */
  postAlert(alert: Record<string, unknown>): Promise<number>;
  /** SIGTERM, and waits for the exit (nothing to do once it has exited or was killed). */
  stop(): Promise<void>;
}

/**
 * Writes `config` as the hub's configuration, starts apps/hub/src/main.ts on a free loopback port
 * (with static AWS credentials for the Lambda emulator) and waits for /readyz. `readyWithinMs` is a
 * deadline, not a timing assertion: tsx compiles the hub's TypeScript at start.
 *
 * The hub binds 127.0.0.1, the address the port was found free on: on its default 0.0.0.0 the
 * bind also fails when a socket on any other address holds the port, which the free-port check
 * cannot see (CI failed so, next to the kube node). A port can still be taken by another process
 * in the seconds tsx takes to start the hub; then the hub is started again on a new port, at
 * most three times.
 */
export async function startHubProcess(repoRoot: string, config: object, readyWithinMs: number): Promise<HubProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startHubProcessOnce(repoRoot, config, readyWithinMs);
    } catch (error) {
      if (!(error instanceof PortTakenError) || attempt === 3) throw error;
    }
  }
}

class PortTakenError extends Error {}

async function startHubProcessOnce(repoRoot: string, config: object, readyWithinMs: number): Promise<HubProcess> {
  const configFile = join(mkdtempSync(join(tmpdir(), 'responder-hub-')), 'hub.yaml');
  const listen = { ...((config as { listen?: object }).listen ?? {}), host: '127.0.0.1' };
  writeFileSync(configFile, JSON.stringify({ ...config, listen }));
  const port = await freeLoopbackPort();
  const url = `http://127.0.0.1:${port}`;
  const hub = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'apps', 'hub', 'src', 'main.ts'), '--config', configFile, '--port', String(port), '--log-level', 'warn'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: repoRoot,
    env: { ...process.env, AWS_ACCESS_KEY_ID: 'AKIDPEREGRINETEST', AWS_SECRET_ACCESS_KEY: 'peregrine-test-secret', AWS_REGION: 'us-east-1' },
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  hub.stdout?.on('data', keep);
  hub.stderr?.on('data', keep);
  const stop = async () => {
    if (hub.exitCode !== null || hub.signalCode !== null) return;
    const exited = new Promise((r) => hub.once('exit', r));
    hub.kill('SIGTERM');
    await exited;
  };
  const deadline = Date.now() + readyWithinMs;
  for (;;) {
    if (hub.exitCode !== null) {
      const message = `hub exited (${hub.exitCode}):\n${output}`;
      throw output.includes('EADDRINUSE') ? new PortTakenError(message) : new Error(message);
    }
    if (await fetch(`${url}/readyz`).then((r) => r.status === 200, () => false)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`hub ready: not reached within ${readyWithinMs} ms\nhub output:\n${output.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    output: () => output,
    postAlert: async (alert) => (await fetch(`${url}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(alert) })).status,
    stop,
  };
}
