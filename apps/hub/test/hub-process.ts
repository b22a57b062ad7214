import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { KeepAliveClient, freeLoopbackPort, postMany } from '@peregrine/testkit';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));

/**
 * Writes the hub.yaml of a drill and returns its path (in `dir`, else in a new temp folder): `redis`
 * and `delivery` are YAML flow mappings (`delivery` by default many parallel batches of 200 with a
 * short backoff); the one destination, `hook`, POSTs batches as JSON arrays to `${receiverUrl}/in`
 * (what countDeliveriesByUuid counts).
 */
export function writeDrillConfig(options: { readonly redis: string; readonly delivery?: string; readonly receiverUrl: string; readonly processes?: number; readonly dir?: string }): string {
  const path = join(options.dir ?? mkdtempSync(join(tmpdir(), 'hub-drill-')), 'hub.yaml');
  writeFileSync(
    path,
    [
      'listen: { host: 127.0.0.1 }',
      `redis: ${options.redis}`,
      ...(options.processes === undefined ? [] : [`processes: ${options.processes}`]),
      `delivery: ${options.delivery ?? '{ concurrency: 8, maxBatch: 200, backoffInitialMs: 100, backoffMaxMs: 1000 }'}`,
      'destinations:',
      '  hook:',
      '    type: webhook',
      `    settings: { address: "${options.receiverUrl}/in", batchAsArray: true }`,
      '',
    ].join('\n'),
  );
  return path;
}

/** A hub running as its own process (so SIGKILL is real). */
export interface HubProcess {
  readonly url: string;
  readonly child: ChildProcess;
  output(): string;
  /**
   * Sends the signal and resolves with the exit code (null when killed by a signal). A process
   * still running `withinMs` later is a defect (a hub must exit on SIGTERM): it is SIGKILLed and
   * the promise rejects with its output.
   */
  stop(signal: NodeJS.Signals, withinMs?: number): Promise<number | null>;
}

/** `nodeArgs` go to node before the entry (e.g. another `--import`), `extraArgs` to the hub. */
export async function spawnHub(configPath: string, port: number, extraArgs: readonly string[] = [], nodeArgs: readonly string[] = []): Promise<HubProcess> {
  // A process that does not exit when told is asked for Node's diagnostic report (SIGUSR2) first:
  // its open handles and JavaScript stack say what held it (see stop()).
  const reportDir = join(tmpdir(), 'peregrine-hub-reports');
  mkdirSync(reportDir, { recursive: true });
  const child = spawn(process.execPath, ['--import', 'tsx', '--report-on-signal', `--report-directory=${reportDir}`, ...nodeArgs, MAIN, '--config', configPath, '--port', String(port), '--log-level', 'warn', ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (c: Buffer) => {
    output = (output + c.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  // A deadline, not a timing assertion: each hub process compiles its TypeScript through tsx at
  // start, which takes tens of seconds on a busy 2-core machine.
  const readyWithinMs = 120_000;
  const deadline = Date.now() + readyWithinMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`hub exited during start-up (${child.exitCode}):\n${output}`);
    try {
      if ((await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5000) })).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`hub not ready after ${readyWithinMs / 1000} s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    child,
    output: () => output,
    async stop(signal, withinMs = 90_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), withinMs);
      });
      const outcome = await Promise.race([exited, late]);
      clearTimeout(timer);
      if (outcome !== 'late') return outcome;
      const report = await diagnosticReport(child, reportDir);
      child.kill('SIGKILL');
      throw new Error(`the hub (pid ${child.pid}) was still running ${withinMs / 1000} s after ${signal}; SIGKILLed.\n${report}\nIts output:\n${output}`);
    },
  };
}

/** What Node's diagnostic report (asked for with SIGUSR2) says holds a running process: its referenced handles and its JavaScript stack. */
async function diagnosticReport(child: ChildProcess, reportDir: string): Promise<string> {
  child.kill('SIGUSR2');
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const file = existsSync(reportDir) ? readdirSync(reportDir).find((f) => f.includes(`.${child.pid}.`) && f.endsWith('.json')) : undefined;
    if (file !== undefined) {
      try {
        const report = JSON.parse(readFileSync(join(reportDir, file), 'utf8')) as {
          javascriptStack?: { message?: string; stack?: string[] };
          libuv?: { type: string; is_active?: boolean; is_referenced?: boolean; localEndpoint?: unknown; remoteEndpoint?: unknown; details?: string }[];
        };
        const holding = (report.libuv ?? []).filter((h) => h.is_active === true && h.is_referenced === true);
        const handles = holding.map((h) => `  ${h.type}${h.remoteEndpoint === undefined ? '' : ` to ${JSON.stringify(h.remoteEndpoint)}`}${h.details === undefined ? '' : ` (${h.details})`}`);
        return `Active referenced handles (Node diagnostic report ${join(reportDir, file)}):\n${handles.join('\n') || '  none'}\nJavaScript stack: ${[report.javascriptStack?.message, ...(report.javascriptStack?.stack ?? [])].join('\n  ')}`;
      } catch {
        // still being written
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return `(no diagnostic report in ${reportDir} within 5 s)`;
}

export interface BurstDrillResult {
  /** Alerts acknowledged (202) before the hub was killed. */
  readonly ackedBeforeKill: number;
  /** Distinct alerts the receiver got. */
  readonly delivered: number;
  /** Deliveries beyond the first per uuid (at-least-once after a crash). */
  readonly duplicates: number;
}

const drillUuid = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;

/**
 * The SIGKILL-mid-burst drill: `total` single-alert POSTs to a hub process,
 * SIGKILLed once `killAfter` got a 202; a new hub on the same port and
 * Redis; the sender retries what did not get a 202 (as Falco clients and our
 * sensors do). Resolves once every acknowledged alert reached the receiver
 * (a webhook destination with batchAsArray whose deliveries `seen` counts by
 * uuid), or throws after 60 s. The new hub is left running (returned).
 */
export async function sigkillMidBurstDrill(options: {
  readonly configPath: string;
  readonly seen: ReadonlyMap<string, number>;
  readonly hubs: HubProcess[];
  readonly total: number;
  readonly killAfter: number;
  readonly makeAlert: (uuid: string, i: number) => Record<string, unknown>;
}): Promise<BurstDrillResult & { readonly hub: HubProcess }> {
  const { configPath, seen, hubs, total, killAfter } = options;
  const bodyOf = (i: number) => JSON.stringify(options.makeAlert(drillUuid(i), i));
  const port = await freeLoopbackPort();
  let hub = await spawnHub(configPath, port);
  hubs.push(hub);
  const acked = new Set<number>();
  const client = new KeepAliveClient(32);
  let killed: Promise<number | null> | undefined;
  await postMany(client, `${hub.url}/`, total, 32, bodyOf, (i, r) => {
    if (r.status === 202) acked.add(i);
    if (acked.size >= killAfter && killed === undefined) killed = hub.stop('SIGKILL');
  });
  assert.ok(killed, 'the hub was killed mid-burst');
  assert.equal(await killed, null, 'killed by a signal');
  const ackedBeforeKill = acked.size;
  assert.ok(ackedBeforeKill < total, 'some alerts were refused while the hub was down');

  hub = await spawnHub(configPath, port);
  hubs.push(hub);
  for (let round = 0; round < 5 && acked.size < total; round++) {
    const missing = [...Array(total).keys()].filter((i) => !acked.has(i));
    await postMany(client, `${hub.url}/`, missing.length, 32, (k) => bodyOf(missing[k]), (k, r) => {
      if (r.status === 202) acked.add(missing[k]);
    });
  }
  client.close();
  assert.equal(acked.size, total, 'every alert accepted in the end');
  const deadline = Date.now() + 60_000;
  while (![...acked].every((i) => seen.has(drillUuid(i)))) {
    if (Date.now() > deadline) {
      const lost = [...acked].filter((i) => !seen.has(drillUuid(i))).length;
      assert.fail(`${lost} acknowledged alerts not delivered within 60 s`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  let duplicates = 0;
  for (const c of seen.values()) duplicates += c - 1;
  return { hub, ackedBeforeKill, delivered: seen.size, duplicates };
}

/**
 * Two hub processes on one Redis under load: `total` alerts, half posted to
 * each; resolves once every one reached the receiver (`seen` counts
 * deliveries by uuid). Both hubs are stopped with SIGTERM; their exit codes
 * are returned.
 */
export async function twoHubProcessesDrill(options: {
  readonly configPath: string;
  readonly seen: ReadonlyMap<string, number>;
  readonly hubs: HubProcess[];
  readonly total: number;
  readonly firstIndex: number;
  readonly makeAlert: (uuid: string, i: number) => Record<string, unknown>;
}): Promise<BurstDrillResult & { readonly exitCodes: readonly (number | null)[] }> {
  const { configPath, seen, hubs, total, firstIndex } = options;
  const [a, b] = await Promise.all([freeLoopbackPort(), freeLoopbackPort()]);
  const pair = [await spawnHub(configPath, a), await spawnHub(configPath, b)];
  hubs.push(...pair);
  const acked = new Set<number>();
  const client = new KeepAliveClient(32);
  await Promise.all(
    pair.map((h, lane) =>
      postMany(client, `${h.url}/`, total / 2, 16, (k) => JSON.stringify(options.makeAlert(drillUuid(firstIndex + k * 2 + lane), firstIndex + k * 2 + lane)), (k, r) => {
        if (r.status === 202) acked.add(firstIndex + k * 2 + lane);
      }),
    ),
  );
  client.close();
  assert.equal(acked.size, total, 'every alert accepted');
  const deadline = Date.now() + 60_000;
  while (![...acked].every((i) => seen.has(drillUuid(i)))) {
    if (Date.now() > deadline) assert.fail(`${[...acked].filter((i) => !seen.has(drillUuid(i))).length} alerts not delivered within 60 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
  let duplicates = 0;
  for (const c of seen.values()) duplicates += c - 1;
  const exitCodes = await Promise.all(pair.map((h) => h.stop('SIGTERM')));
  return { ackedBeforeKill: acked.size, delivered: seen.size, duplicates, exitCodes };
}
