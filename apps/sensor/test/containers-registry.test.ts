import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { ContainerRegistry } from '../src/containers/registry.ts';
import type { ContainerInfo, ContainerMetadataProvider, LookupResult } from '../src/containers/types.ts';

const ID_A = 'aaaaaaaaaaaa' + '0'.repeat(52);
const ID_B = 'bbbbbbbbbbbb' + '1'.repeat(52);

/** A runtime we script: what it lists, what inspect answers, and how many calls it got. */
class FakeRuntime implements ContainerMetadataProvider {
  readonly name: string;
  containers = new Map<string, ContainerInfo>();
  failNextInspects = 0;
  failList = false;
  inspectCalls = 0;
  gate: Promise<void> | undefined;
  constructor(name = 'docker:/fake.sock') {
    this.name = name;
  }
  async list(): Promise<string[]> {
    if (this.failList) throw new Error('list: connection refused');
    return [...this.containers.keys()];
  }
  async inspect(id: string): Promise<LookupResult> {
    this.inspectCalls++;
    if (this.gate) await this.gate;
    if (this.failNextInspects > 0) {
      this.failNextInspects--;
      throw new Error('inspect: connection refused');
    }
    const info = this.containers.get(id);
    return info ? { kind: 'found', info } : { kind: 'not-found' };
  }
  close(): void {}
}

function infoFor(fullId: string, name: string): ContainerInfo {
  return { id: fullId.slice(0, 12), fullId, name, type: 'docker', image: 'local/busybox:test', imageRepository: 'local/busybox', imageTag: 'test', privileged: false };
}

function capturingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

test('idForCgroup answers at once from the path; info() never waits: undefined until the lookup lands', async () => {
  const runtime = new FakeRuntime();
  runtime.containers.set(ID_A, infoFor(ID_A, 'web'));
  let open!: () => void;
  runtime.gate = new Promise((r) => (open = r));
  const registry = new ContainerRegistry({ providers: [runtime], pollIntervalMs: 0 });
  assert.equal(registry.idForCgroup(`/docker/${ID_A}`), 'aaaaaaaaaaaa');
  assert.equal(registry.typeOf('aaaaaaaaaaaa'), 'docker');
  assert.equal(registry.info('aaaaaaaaaaaa'), undefined);
  assert.equal(runtime.inspectCalls, 1, 'the first sight started exactly one lookup');
  const known = registry.whenKnown('aaaaaaaaaaaa', 10_000);
  open();
  assert.equal((await known)?.name, 'web');
  assert.equal(registry.info('aaaaaaaaaaaa')?.name, 'web');
  assert.equal(registry.idForCgroup(`/docker/${ID_A}`), 'aaaaaaaaaaaa');
  assert.equal(runtime.inspectCalls, 1, 'cached: no second lookup');
  await registry.close();
});

test('host processes: this machine\'s /process_api/<32hex> memory cgroup and / are host, with no k8s fields', async () => {
  const runtime = new FakeRuntime();
  const registry = new ContainerRegistry({ providers: [runtime], pollIntervalMs: 0 });
  const procCgroup = '12:memory:/process_api/0f5894b03fb7fea19e65e819eb83e1e2\n11:cpu,cpuacct:/\n0::/\n';
  assert.equal(registry.idForProcCgroup(procCgroup), 'host');
  assert.equal(registry.idForCgroup('/process_api/0f5894b03fb7fea19e65e819eb83e1e2'), 'host');
  const host = registry.info('host');
  assert.deepEqual(host, { id: 'host', name: 'host', type: 'host' });
  assert.equal(host?.podName, undefined);
  assert.equal(runtime.inspectCalls, 0, 'the host is never looked up');
  await registry.close();
});

test('a failed lookup is retried with backoff and logged once', async () => {
  const runtime = new FakeRuntime();
  runtime.containers.set(ID_A, infoFor(ID_A, 'web'));
  runtime.failNextInspects = 3;
  const { logger, lines } = capturingLogger();
  const registry = new ContainerRegistry({ providers: [runtime], pollIntervalMs: 0, retryInitialMs: 5, retryMaxMs: 20, logger });
  const id = registry.idForCgroup(`/docker/${ID_A}`);
  const info = await registry.whenKnown(id, 10_000);
  assert.equal(info?.name, 'web');
  assert.equal(runtime.inspectCalls, 4);
  const warnings = lines.filter((l) => l.level === 40);
  assert.equal(warnings.length, 1, JSON.stringify(lines));
  assert.equal(warnings[0]?.containerId, id);
  assert.equal(registry.stats().lookupFailures, 3);
  await registry.close();
});

test('a container no runtime knows gets a bounded number of scheduled retries, then is asked again only on demand', async () => {
  const runtime = new FakeRuntime();
  const registry = new ContainerRegistry({ providers: [runtime], pollIntervalMs: 0, retryInitialMs: 1, retryMaxMs: 2, maxScheduledRetries: 3 });
  const id = registry.idForCgroup(`/docker/${ID_B}`);
  assert.equal(await registry.whenKnown(id, 200), undefined);
  assert.equal(runtime.inspectCalls, 4, 'one lookup plus three scheduled retries');
  runtime.containers.set(ID_B, infoFor(ID_B, 'late'));
  registry.info(id); // on demand, the backoff (2 ms) is long past
  assert.equal((await registry.whenKnown(id, 10_000))?.name, 'late');
  await registry.close();
});

test('the poll learns new containers before their first event, and expires the ones that are gone', async () => {
  const runtime = new FakeRuntime();
  runtime.containers.set(ID_A, infoFor(ID_A, 'web'));
  const registry = new ContainerRegistry({ providers: [runtime], pollIntervalMs: 0, exitedTtlMs: 0, logger: pino({ level: 'silent' }) });
  await registry.poll();
  await registry.whenKnown('aaaaaaaaaaaa', 10_000);
  const calls = runtime.inspectCalls;
  // The first event of the container: metadata is already there, synchronously.
  assert.equal(registry.idForCgroup(`/docker/${ID_A}`), 'aaaaaaaaaaaa');
  assert.equal(registry.info('aaaaaaaaaaaa')?.name, 'web');
  assert.equal(runtime.inspectCalls, calls);
  // A runtime outage is not a death.
  runtime.failList = true;
  runtime.containers.delete(ID_A);
  await registry.poll();
  assert.equal(registry.stats().known, 1);
  // The runtime answers and no longer lists it: gone (exitedTtlMs 0).
  runtime.failList = false;
  await registry.poll();
  assert.equal(registry.stats().entries, 0);
  await registry.close();
});

test('the cache is bounded (least recently used go first)', async () => {
  const runtime = new FakeRuntime();
  const registry = new ContainerRegistry({ providers: [runtime], pollIntervalMs: 0, maxEntries: 3, maxScheduledRetries: 0 });
  const ids: string[] = [];
  for (let i = 0; i < 6; i++) ids.push(registry.idForCgroup(`/docker/${String(i).repeat(64)}`));
  assert.equal(registry.stats().entries, 3);
  assert.deepEqual(ids.slice(0, 2), ['000000000000', '111111111111']);
  await registry.close();
});

test('providers are asked in the order the cgroup layout suggests (Docker first for /docker/<id>, CRI first for kubepods)', async () => {
  const docker = new FakeRuntime('docker:/d.sock');
  const cri = new FakeRuntime('cri:/c.sock');
  const order: string[] = [];
  for (const p of [docker, cri]) {
    const inspect = p.inspect.bind(p);
    p.inspect = (id) => {
      order.push(p.name);
      return inspect(id);
    };
  }
  const registry = new ContainerRegistry({ providers: [cri, docker], pollIntervalMs: 0, maxScheduledRetries: 0 });
  await registry.whenKnown(registry.idForCgroup(`/docker/${ID_A}`), 100);
  await registry.whenKnown(registry.idForCgroup(`/kubepods/besteffort/pod1/${ID_B}`), 100);
  assert.deepEqual(order, ['docker:/d.sock', 'cri:/c.sock', 'cri:/c.sock', 'docker:/d.sock']);
  await registry.close();
});
