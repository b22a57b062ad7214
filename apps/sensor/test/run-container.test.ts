/**
 * `peregrine run` (what `npm start` runs) as a child process, with real
 * container runtimes (issue 9: "after start-up, `cat /etc/shadow` and a shell
 * started in a container raise alerts on screen within a second"): the
 * default rules' "Detect Shell in Container" alert of a shell exec'd into a
 * fresh Docker container appears on run's stdout with the container's id and
 * name (the suggested output fields Falco appends). Latencies are measured
 * and printed, not asserted.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freeLoopbackPort, startContainerRuntimes, type ContainerRuntimes } from '@peregrine/testkit';
import { dockerExec } from './live-harness.ts';
import { waitFor } from './sensor-support.ts';

const PEREGRINE = fileURLToPath(new URL('../../cli/bin/peregrine.js', import.meta.url));

let env: ContainerRuntimes;

before(async () => {
  env = await startContainerRuntimes();
});

after(async () => {
  await env?.stop();
});

/** Polls `check` every 5 ms until it holds; returns the ms from `start` to the first time it held. */
async function latency(start: number, check: () => boolean, what: string, deadlineMs = 30_000): Promise<number> {
  await waitFor(check, what, deadlineMs);
  return performance.now() - start;
}

test('peregrine run: a shell started in a Docker container alerts on stdout with container.id and container.name', { timeout: 600_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pg-run-ctr-'));
  const sensorConfig = join(dir, 'sensor.yaml');
  writeFileSync(
    sensorConfig,
    ['containers:', '  engines:', `    docker: { sockets: [${JSON.stringify(env.dockerSocket)}] }`, `    cri: { sockets: [${JSON.stringify(env.containerdSocket)}] }`, ''].join('\n'),
  );
  const hubPort = await freeLoopbackPort();
  const child = spawn(
    process.execPath,
    [PEREGRINE, 'run', '--dir', join(dir, 'run'), '--hub-port', String(hubPort), '--metrics-port', '0', '--sensor-config', sensorConfig],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SLACK_WEBHOOK_URL: '' } },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    await waitFor(() => stderr.includes('Ctrl-C stops both') || child.exitCode !== null, 'start-up banner', 180_000);
    assert.equal(child.exitCode, null, stderr);

    const shadowStart = performance.now();
    assert.equal(spawnSync('cat', ['/etc/shadow'], { stdio: 'ignore' }).status, 0);
    const shadowMs = await latency(shadowStart, () => /Warning Sensitive file opened for reading .*command=cat \/etc\/shadow/.test(stdout), `cat /etc/shadow alert on stdout:\n${stdout}`);

    const c = await env.runDockerContainer({ name: `run-shell-${process.pid}` });
    const id = c.id.slice(0, 12);
    const marker = `pg-${randomUUID()}`;
    const line = (): string | undefined => stdout.split('\n').find((l) => l.includes('Shell spawned in a container') && l.includes(marker));
    const shellStart = performance.now();
    const seen = latency(shellStart, () => line() !== undefined, `container shell alert on stdout:\n${stdout}\n${stderr}`);
    assert.equal(await dockerExec(env, c.id, ['sh', '-c', `true ${marker}`]), 0);
    const shellMs = await seen;
    const text = line()!;
    assert.match(text, /^\d\d:\d\d:\d\d\.\d{9}: Warning Shell spawned in a container /);
    assert.ok(text.includes(`command=sh -c true ${marker}`), text);
    assert.ok(text.includes(`container_id=${id} `), `container.id on screen: ${text}`);
    assert.ok(text.includes(`container_name=${c.name} `), `container.name on screen: ${text}`);
    assert.ok(text.includes('container_image_repository=local/busybox'), text);
    assert.equal(stdout.split('\n').filter((l) => l.includes(marker) && l.includes('Shell spawned in a container')).length, 1, 'printed once');
    console.log(`# latency to run's stdout: cat /etc/shadow ${shadowMs.toFixed(0)} ms; shell in a new Docker container ${shellMs.toFixed(0)} ms (from the exec request, docker exec included)`);

    child.kill('SIGTERM');
    assert.equal(await exit, 0, stderr);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    // run stops its hub on SIGTERM; after a SIGKILL the hub would be left: stop it too.
    const hubPid = Number(/hub {6}pid (\d+)/.exec(stderr)?.[1] ?? 0);
    if (hubPid > 0) {
      try {
        process.kill(hubPid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
});
