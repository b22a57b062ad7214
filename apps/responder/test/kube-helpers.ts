// Helpers for the tests against the real API server (test/support's startTestKubeApi).
import { createServer, Socket } from 'node:net';
import type { Server } from 'node:net';
import { readFileSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { V1OwnerReference, V1Pod } from '@kubernetes/client-node';
import type { TestKube } from '@peregrine/testkit';
import { classifyKubeError } from '../src/kube.ts';
import { parsePolicy } from '../src/policy.ts';
import type { PolicyInput } from '../src/policy.ts';
import { createResponder } from '../src/responder.ts';
import type { Responder } from '../src/responder.ts';
import { captureAudit } from './audit-capture.ts';
import type { CapturedAudit } from './audit-capture.ts';

export interface PodSpecOptions {
  readonly labels?: Record<string, string>;
  readonly ownerReferences?: V1OwnerReference[];
  readonly annotations?: Record<string, string>;
}

/** A pod object (API-only mode: no kubelet runs it, and without nodeName a DELETE removes it at once). */
export async function createPod(core: CoreV1Api, namespace: string, name: string, options: PodSpecOptions = {}): Promise<V1Pod> {
  return core.createNamespacedPod({
    namespace,
    body: {
      metadata: { name, labels: options.labels, annotations: options.annotations, ownerReferences: options.ownerReferences },
      spec: { automountServiceAccountToken: false, containers: [{ name: 'main', image: 'busybox', command: ['sleep', '3600'] }] },
    },
  });
}

/** The pod, or undefined when the API says 404. */
export async function readPod(core: CoreV1Api, namespace: string, name: string): Promise<V1Pod | undefined> {
  try {
    return await core.readNamespacedPod({ namespace, name });
  } catch (e) {
    if (classifyKubeError(e).kind === 'not-found') return undefined;
    throw e;
  }
}

export async function ensureDefaultServiceAccount(core: CoreV1Api, namespace: string): Promise<void> {
  try {
    await core.readNamespacedServiceAccount({ namespace, name: 'default' });
  } catch {
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'default' } } });
  }
}

export interface TestResponder {
  readonly responder: Responder;
  readonly audit: CapturedAudit;
}

/** A responder (as one Lambda instance would be) with its own audit capture. */
export function responderOn(kube: TestKube, policy: PolicyInput, token?: string): TestResponder {
  const audit = captureAudit();
  return { responder: createResponder({ policy: parsePolicy(policy), kubeConfig: kube.kubeConfig(token), audit: audit.log }), audit };
}

/** Reads the files of a zip (deflate or stored) through its central directory. */
export function unzip(zip: Buffer): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (end < 0) throw new Error('not a zip: no end of central directory');
  const count = zip.readUInt16LE(end + 10);
  let at = zip.readUInt32LE(end + 16);
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error(`bad central directory entry ${i}`);
    const method = zip.readUInt16LE(at + 10);
    const compressedSize = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const localOffset = zip.readUInt32LE(at + 42);
    const name = zip.subarray(at + 46, at + 46 + nameLength).toString('utf8');
    const dataStart = localOffset + 30 + zip.readUInt16LE(localOffset + 26) + zip.readUInt16LE(localOffset + 28);
    const raw = zip.subarray(dataStart, dataStart + compressedSize);
    files.set(name, method === 8 ? inflateRawSync(raw) : Buffer.from(raw));
    at += 46 + nameLength + extraLength + commentLength;
  }
  return files;
}

/** The admin's kubeconfig for the API server reached at `server` (a cuttablePath's url) instead of its own address. */
export function adminKubeConfigVia(kube: TestKube, server: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server, caData: readFileSync(kube.caFile).toString('base64') }],
    users: [{ name: 'u', token: kube.adminToken }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

/** A TCP path to the API server that the test can cut and restore (a real outage for the client). */
export async function cuttablePath(target: URL): Promise<{ url: string; cut(): Promise<void>; restore(): Promise<void>; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const open = () =>
    new Promise<void>((resolveOpen, reject) => {
      server = createServer((client) => {
        const upstream = new Socket();
        sockets.add(client).add(upstream);
        const drop = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
        upstream.connect(Number(target.port), target.hostname, () => {
          client.pipe(upstream);
          upstream.pipe(client);
        });
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        port = (server!.address() as { port: number }).port;
        resolveOpen();
      });
    });
  const shut = async () => {
    for (const s of sockets) s.destroy();
    sockets.clear();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server = undefined;
  };
  await open();
  return { url: `https://127.0.0.1:${port}`, cut: shut, restore: open, close: shut };
}


/** Runs the one bundle command and unpacks the zip's index.mjs into a fresh folder; returns its path. */
export async function bundledHandlerFile(repoRoot: string): Promise<string> {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { stdout } = await promisify(execFile)('npm', ['run', '-s', '-w', 'apps/responder', 'bundle'], { cwd: repoRoot });
  const built = JSON.parse(stdout.trim().split('\n').pop()!) as { zip: string };
  const files = unzip(readFileSync(join(repoRoot, built.zip)));
  const dir = mkdtempSync(join(tmpdir(), 'responder-lambda-'));
  writeFileSync(join(dir, 'index.mjs'), files.get('index.mjs')!);
  return join(dir, 'index.mjs');
}

/** The responder's audit lines the Lambda emulator's log holds (the function's stdout). */
export function auditLinesInLog(logFile: string): Array<Record<string, unknown>> {
  const lines: Array<Record<string, unknown>> = [];
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    const start = line.indexOf('{"level"');
    if (start < 0) continue;
    try {
      const parsed = JSON.parse(line.slice(start)) as Record<string, unknown>;
      if (parsed.audit !== undefined) lines.push(parsed);
    } catch {
      /* not one of ours */
    }
  }
  return lines;
}
