import assert from 'node:assert/strict';
import pino from 'pino';
import { validateAlert } from '@peregrine/alert';
import type { Alert } from '@peregrine/alert';
import type { HttpReceiver } from '@peregrine/testkit';
// The light subpath: the testkit index loads the gRPC and Kubernetes clients (seconds per process).
import { eventually as pollUntil } from '@peregrine/testkit/eventually';
import { HubConfigError, parseHubConfig, startHub } from '../src/index.ts';
import type { RunningHub } from '../src/index.ts';

/** A Falco alert exactly as Falco's http_output sends it (json_output: true). */
export function falcoAlert(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    hostname: 'node-1',
    output: '06:13:20.123456789: Warning Shell spawned in a container (user=root container=web-1 k8s.ns=shop k8s.pod=web-1 shell=bash)',
    output_fields: {
      'container.id': '3ad7b26ded6d',
      'container.name': 'web-1',
      'evt.time': 1718000000123456789,
      'k8s.ns.name': 'shop',
      'k8s.pod.name': 'web-1',
      'proc.cmdline': 'bash -i',
      'proc.name': 'bash',
      'user.name': 'root',
    },
    priority: 'Warning',
    rule: 'Terminal shell in container',
    source: 'syscall',
    tags: ['container', 'mitre_execution', 'shell'],
    time: '2024-06-10T06:13:20.123456789Z',
    ...overrides,
  };
}

export interface TestHub {
  readonly hub: RunningHub;
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<{ status: number; json: Record<string, unknown> }>;
  get(path: string, headers?: Record<string, string>): Promise<{ status: number; text: string }>;
}

/** An in-process hub on a free loopback port. `config` is the YAML shape (destinations, delivery…). */
export async function startTestHub(redisUrl: string, config: Record<string, unknown>): Promise<TestHub> {
  const parsed = parseHubConfig({ listen: { host: '127.0.0.1', port: 0 }, redis: { url: redisUrl, lockDurationMs: 3000 }, ...config });
  const hub = await startHub(parsed, { logger: pino({ level: 'silent' }) });
  return {
    hub,
    async post(path, body, headers = {}) {
      const res = await fetch(hub.address + path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
      const text = await res.text();
      let json: Record<string, unknown> = {};
      try {
        json = JSON.parse(text) as Record<string, unknown>;
      } catch {
        json = { text };
      }
      return { status: res.status, json };
    },
    async get(path, headers = {}) {
      const res = await fetch(hub.address + path, { headers, signal: AbortSignal.timeout(30_000) });
      return { status: res.status, text: await res.text() };
    },
  };
}

/** Polls `check` until it returns true (bounded): the testkit's poll, in this suite's argument order. */
export function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 30_000, what = 'condition'): Promise<void> {
  return pollUntil(what, check, timeoutMs);
}

/** A validated Alert object built from falcoAlert(overrides). */
export function alert(overrides: Record<string, unknown> = {}): Alert {
  const r = validateAlert(falcoAlert(overrides));
  assert.ok(r.ok);
  return r.alert;
}

/** Runs `fn`, which must throw a HubConfigError; returns its issues as "path: message". */
export function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof HubConfigError, String(e));
    return e.issues.map((i) => `${i.path}: ${i.message}`);
  }
  assert.fail('expected HubConfigError');
}

/** Counts deliveries per uuid at a receiver that gets batches as JSON arrays (answers 200). */
export function countDeliveriesByUuid(receiver: HttpReceiver): Map<string, number> {
  const seen = new Map<string, number>();
  receiver.respond = (req) => {
    for (const a of JSON.parse(req.body) as Array<{ uuid: string }>) seen.set(a.uuid, (seen.get(a.uuid) ?? 0) + 1);
    return { status: 200 };
  };
  return seen;
}
