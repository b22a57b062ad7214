// End-to-end drill of issue 9 ("Alerts out"): the sensor's hub output against
// the real hub, started as its own process with `peregrine hub --config FILE`
// (its embedded redis-server keeps its data in a folder of this test, so the
// queues survive the hub's restart), delivering to a local webhook receiver.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type { Alert } from '@peregrine/alert';
import { HubOutput } from '@peregrine/sensor';
import type { OutputLogger } from '@peregrine/sensor';
import { freeLoopbackPort, startHttpReceiver } from '../support/index.ts';
import type { HttpReceiver, ReceivedRequest } from '../support/index.ts';

// What `npx peregrine` runs (the workspace's bin), started with node directly so signals reach the hub itself.
const PEREGRINE_BIN = fileURLToPath(new URL('../../apps/cli/bin/peregrine.js', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TOKEN = 'e2e-sensor-token';

interface HubChild {
  readonly child: ChildProcess;
  output(): string;
  /** SIGTERM (the hub drains and stops its redis-server); resolves with the exit code. */
  stop(): Promise<number | null>;
}

async function startHub(configPath: string, port: number): Promise<HubChild> {
  const child = spawn(process.execPath, [PEREGRINE_BIN, 'hub', '--config', configPath, '--port', String(port), '--log-level', 'warn'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (c: Buffer) => {
    output = (output + c.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`hub exited during start-up (${child.exitCode}):\n${output}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`hub not ready after 60 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

function alert(n: number): Alert {
  return {
    uuid: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    hostname: 'e2e-node',
    output: `06:13:20.123456789: Warning drill alert n=${n}`,
    output_fields: { 'evt.time': 1_718_000_000_123_456_789, 'drill.n': n },
    priority: 'Warning',
    rule: 'Hub outage drill',
    source: 'syscall',
    tags: ['drill'],
    time: '2024-06-10T06:13:20.123456789Z',
  };
}

/** The drill numbers of the alerts the webhook received, in arrival order (batches are JSON arrays). */
function receivedNumbers(requests: readonly ReceivedRequest[]): number[] {
  return requests.flatMap((r) => (JSON.parse(r.body) as Array<{ output_fields: Record<string, number> }>).map((a) => a.output_fields['drill.n']));
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function recordingLogger(): OutputLogger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (m) => lines.push(`info ${m}`), warn: (m) => lines.push(`warn ${m}`), error: (m) => lines.push(`error ${m}`) };
}

describe('hub outage drill (real hub process, embedded Redis, sensor hub output)', () => {
  let work: string;
  let receiver: HttpReceiver;
  let configPath: string;
  const hubs: HubChild[] = [];
  const outputs: HubOutput[] = [];

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'e2e-hub-outage-'));
    receiver = await startHttpReceiver();
    configPath = join(work, 'hub.yaml');
    writeFileSync(
      configPath,
      [
        'listen: { host: 127.0.0.1 }',
        `auth: { tokens: ["${TOKEN}"] }`,
        `redis: { dataDir: "${join(work, 'redis')}" }`,
        // One delivery at a time keeps the webhook's arrival order the hub's queue order.
        'delivery: { concurrency: 1, maxBatch: 200, backoffInitialMs: 100, backoffMaxMs: 1000 }',
        'destinations:',
        '  hook:',
        '    type: webhook',
        `    settings: { address: "${receiver.url}/in", batchAsArray: true }`,
        '',
      ].join('\n'),
    );
  });

  after(async () => {
    for (const o of outputs) await o.close();
    for (const h of hubs) await h.stop();
    await receiver.close();
    rmSync(work, { recursive: true, force: true });
  });

  test('hub stopped for 2 minutes while 1,000 alerts are emitted, the sensor output closed and reopened mid-outage: all arrive after it returns, in order, none twice', { timeout: 420_000 }, async () => {
    const port = await freeLoopbackPort();
    const spoolDir = join(work, 'spool');
    const logger = recordingLogger();
    const open = async () => {
      const out = await HubOutput.open({ url: `http://127.0.0.1:${port}`, token: TOKEN, spoolDir, logger, lingerMs: 20, backoffInitialMs: 200, backoffMaxMs: 2000 });
      outputs.push(out);
      return out;
    };

    let hub = await startHub(configPath, port);
    hubs.push(hub);
    let out = await open();
    let n = 0;
    // Before the outage: straight through.
    for (; n < 20; n++) out.emit(alert(n));
    await out.flush();
    await receiver.waitFor((rs) => receivedNumbers(rs).length >= 20, 60_000);
    assert.equal(out.stats().spooled, 0);

    // The outage: two minutes, 1,000 alerts at an even pace, the output restarted half way.
    assert.equal(await hub.stop(), 0, `the hub stopped cleanly:\n${hub.output()}`);
    const outageMs = 120_000;
    const outageStart = Date.now();
    const during = 1000;
    const first = n;
    for (let k = 0; k < during; k++, n++) {
      if (k === during / 2) {
        await out.close();
        assert.ok(out.stats().spoolAlerts > 0, 'the first output left its alerts in the spool');
        out = await open();
        assert.ok(out.stats().spoolAlerts > 0, 'the reopened output found them');
      }
      out.emit(alert(n));
      const due = outageStart + ((k + 1) * outageMs) / during;
      if (due > Date.now()) await sleep(due - Date.now());
    }
    await out.flush();
    assert.deepEqual(receivedNumbers(receiver.requests), range(0, first), 'nothing got through while the hub was down');
    const down = out.stats();
    assert.equal(down.spoolAlerts, during, 'every outage alert is in the spool');
    assert.ok(down.spoolOldestAgeSeconds > 0);
    assert.equal(down.dropped, 0);

    // The hub returns; alerts emitted while the spool drains queue behind it.
    hub = await startHub(configPath, port);
    hubs.push(hub);
    for (let k = 0; k < 20; k++, n++) out.emit(alert(n));
    await receiver.waitFor((rs) => receivedNumbers(rs).length >= n, 180_000);
    await out.flush();
    // Anything still in flight in the hub would show up as a duplicate: wait until its queue is empty.
    await sleep(2000);
    const got = receivedNumbers(receiver.requests);
    assert.equal(new Set(got).size, got.length, `none twice (${got.length - new Set(got).size} duplicates)`);
    assert.deepEqual(got, range(0, n), 'all, in order');
    const s = out.stats();
    assert.equal(s.spoolAlerts, 0);
    assert.equal(s.dropped, 0);
    assert.equal(s.refused, 0);
    assert.ok(logger.lines.some((l) => l.includes('does not take alerts')), logger.lines.join('\n'));
  });
});
