// The compose lab for real (issue 12): under the test dockerd, local stand-ins of the public
// base images are built (test/support/containers/base-images.ts), then this repository's
// images from deploy/docker/*.Dockerfile; docker-compose (Debian's 1.29) brings the core up
// (Redis, hub, sensor, Slack stand-in, victim) from docker-compose.yml; the seed's three
// scenarios run in the victim container through `docker exec`, and their alerts must reach
// the Slack stand-in through sensor → hub → Slack destination. Then `down -v` leaves no
// container or volume of the lab. The full file (every profile) must pass `config`.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { freeLoopbackPort, startContainerRuntimes } from '../support/index.ts';
import type { ContainerRuntimes } from '../support/index.ts';
import { buildBaseImageStandIns, DEBIAN_IMAGE, DISTROLESS_IMAGE, DOCKER_CLI, NODE_IMAGE, REDIS_IMAGE } from '../support/containers/base-images.ts';
import { buildLabImages, compose, composeOk, repoRoot } from '../support/containers/lab.ts';
import type { BuiltImage } from '../support/containers/lab.ts';

const run = promisify(execFile);
const PROJECT = 'peregrine-lab-test';
const VICTIM = 'peregrine-lab-victim';
const CORE_SERVICES = ['redis', 'hub', 'sensor', 'receiver', 'victim'];

let env: ContainerRuntimes | undefined;
let variables: Record<string, string> = {};
let receiverUrl = '';
let images: BuiltImage[] = [];
const timings: Record<string, number> = {};
let up = false;

interface ContainerSummary {
  Id: string;
  Names: string[];
  Labels: Record<string, string>;
  State: string;
}

async function labContainers(): Promise<ContainerSummary[]> {
  const filter = encodeURIComponent(JSON.stringify({ label: [`com.docker.compose.project=${PROJECT}`] }));
  return (await env!.docker!.ok('GET', `/containers/json?all=1&filters=${filter}`)) as ContainerSummary[];
}

interface ContainerDetails {
  State: { Status: string; StartedAt: string; Health?: { Status: string; Log?: Array<{ Output: string }> } };
}

async function inspect(id: string): Promise<ContainerDetails> {
  return (await env!.docker!.ok('GET', `/containers/${id}/json`)) as ContainerDetails;
}

function docker(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(DOCKER_CLI, ['-H', `unix://${env!.dockerSocket}`, ...args], { timeout: 60_000 });
}

/** Waits until every core service runs and those with a health check are healthy; records when each got there. */
async function waitHealthy(startedAt: number, timeoutMs: number): Promise<Record<string, number>> {
  const readyAt: Record<string, number> = {};
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const containers = await labContainers();
    const states: string[] = [];
    for (const c of containers) {
      const service = c.Labels['com.docker.compose.service'] ?? '?';
      const details = await inspect(c.Id);
      const health = details.State.Health?.Status;
      const ready = details.State.Status === 'running' && (health === undefined || health === 'healthy');
      if (ready && readyAt[service] === undefined) {
        readyAt[service] = Date.now() - startedAt;
        // Start-up of the container itself: its process start to the first passing health check (± the poll's 0.5 s).
        timings[`startup_${service}_ms`] = Date.now() - Date.parse(details.State.StartedAt);
      }
      if (details.State.Status === 'exited') {
        const logs = await compose(env!.dockerSocket, ['-p', PROJECT, 'logs', '--no-color', '--tail', '60', service], variables);
        throw new Error(`lab service ${service} exited:\n${logs.output}`);
      }
      states.push(`${service}=${details.State.Status}/${health ?? '-'}${health === 'unhealthy' ? `(${details.State.Health?.Log?.at(-1)?.Output ?? ''})` : ''}`);
    }
    last = states.join(' ');
    if (CORE_SERVICES.every((s) => readyAt[s] !== undefined)) return readyAt;
    await new Promise((r) => setTimeout(r, 500));
  }
  const logs = await compose(env!.dockerSocket, ['-p', PROJECT, 'logs', '--no-color', '--tail', '40'], variables);
  throw new Error(`the lab's core did not become healthy in ${timeoutMs} ms: ${last}\n${logs.output}`);
}

interface ReceivedMessage {
  id: number;
  path: string;
  body: unknown;
  summary: string;
}

async function receivedMessages(): Promise<ReceivedMessage[]> {
  const response = await fetch(`${receiverUrl}/messages`);
  assert.equal(response.status, 200);
  return (await response.json()) as ReceivedMessage[];
}

/** The Slack messages at the stand-in naming the rule and the victim container (waits up to timeoutMs). */
async function messagesFor(rule: string, containerId: string, timeoutMs = 60_000): Promise<ReceivedMessage[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hits = (await receivedMessages()).filter((m) => {
      const text = JSON.stringify(m.body);
      return text.includes(rule) && text.includes(containerId.slice(0, 12));
    });
    if (hits.length > 0 || Date.now() > deadline) return hits;
    await new Promise((r) => setTimeout(r, 500));
  }
}

before(async () => {
  const begin = Date.now();
  env = await startContainerRuntimes({ lockTimeoutMs: 1_800_000 });
  timings.runtimesMs = Date.now() - begin;
  let t = Date.now();
  const standIns = await buildBaseImageStandIns(env.dockerSocket);
  timings.baseImagesMs = Date.now() - t;
  timings.baseImagesCached = standIns.steps.every((s) => s.cached) ? 1 : 0;
  t = Date.now();
  images = await buildLabImages(env.dockerSocket, [DEBIAN_IMAGE, NODE_IMAGE, REDIS_IMAGE, DISTROLESS_IMAGE]);
  timings.repoImagesMs = Date.now() - t;
  const [hubPort, redisPort, receiverPort, metricsPort] = [await freeLoopbackPort(), await freeLoopbackPort(), await freeLoopbackPort(), await freeLoopbackPort()];
  receiverUrl = `http://127.0.0.1:${receiverPort}`;
  variables = {
    COMPOSE_PROJECT_NAME: PROJECT,
    LAB_HUB_PORT: String(hubPort),
    LAB_REDIS_PORT: String(redisPort),
    LAB_RECEIVER_PORT: String(receiverPort),
    LAB_SENSOR_METRICS_PORT: String(metricsPort),
    LAB_SLACK_WEBHOOKURL: `${receiverUrl}/services/lab`,
    LAB_DOCKER_SOCKET: env.dockerSocket,
  };
  // A run that died before its `down` may have left the lab: start from nothing.
  await compose(env.dockerSocket, ['-p', PROJECT, 'down', '-v', '--remove-orphans'], variables);
});

after(async () => {
  const problems: string[] = [];
  if (env) {
    if (up) {
      const down = await compose(env.dockerSocket, ['-p', PROJECT, 'down', '-v', '--remove-orphans', '-t', '10'], variables);
      if (down.code !== 0) problems.push(`docker-compose down exited ${down.code}: ${down.output.slice(-3000)}`);
    }
    await env.stop().catch((e: Error) => problems.push(e.message));
  }
  const summary = { images: images.map((i) => ({ tag: i.tag, megabytes: Math.round(i.bytes / 1e5) / 10, buildMs: i.buildMs, cached: i.cached })), timings };
  mkdirSync(join(repoRoot, '.cache/lab'), { recursive: true });
  writeFileSync(join(repoRoot, '.cache/lab/last-run.json'), `${JSON.stringify(summary, null, 2)}\n`);
  console.log(`lab: ${JSON.stringify(summary)}`);
  if (problems.length > 0) throw new Error(problems.join('\n'));
});

test('the full compose file (every profile) passes docker-compose config', async () => {
  for (const profileArgs of [[], ['--profile', 'full'], ['--profile', 'full', '--profile', 'dashboards']]) {
    const out = await composeOk(env!.dockerSocket, [...profileArgs, '--env-file', join(repoRoot, 'deploy/lab/full.env'), 'config'], variables);
    for (const service of CORE_SERVICES) assert.match(out, new RegExp(`^  ${service}:$`, 'm'), `config ${profileArgs.join(' ')} lacks ${service}`);
  }
  const full = await composeOk(env!.dockerSocket, ['--profile', 'full', '--profile', 'dashboards', 'config', '--services'], variables);
  assert.deepEqual(full.trim().split('\n').sort(), ['dashboards', 'hub', 'kafka', 'opensearch', 'receiver', 'redis', 'responder', 'sensor', 'victim']);
});

test('the images are built from the repository Dockerfiles, slim and labelled', async () => {
  assert.deepEqual(images.map((i) => i.name).sort(), ['hub', 'receiver', 'sensor']);
  for (const image of images) {
    const { stdout } = await docker(['image', 'inspect', '--format', '{{json .Config}}', image.tag]);
    const config = JSON.parse(stdout) as { User: string; Labels: Record<string, string>; Healthcheck?: { Test: string[] } };
    assert.ok(config.Labels['org.opencontainers.image.title']?.startsWith('peregrine'), `${image.tag}: no OCI title label`);
    assert.ok(config.Healthcheck?.Test?.length, `${image.tag}: no HEALTHCHECK`);
    // Only the sensor runs as root (the kernel grants BPF to root's capabilities).
    if (image.name === 'sensor') assert.equal(config.User, '0');
    else assert.equal(config.User, '65532:65532', `${image.tag} must not run as root`);
    // Node 24 in every image.
    const version = await docker(['run', '--rm', '--network', 'none', '--entrypoint', '/usr/local/bin/node', image.tag, '--version']);
    assert.match(version.stdout.trim(), /^v24\./, `${image.tag}: ${version.stdout}`);
  }
  const sensor = images.find((i) => i.name === 'sensor')!;
  const hub = images.find((i) => i.name === 'hub')!;
  assert.ok(sensor.bytes <= 250e6, `sensor image is ${sensor.bytes} bytes (target ≤ 250 MB)`);
  assert.ok(hub.bytes <= 200e6, `hub image is ${hub.bytes} bytes (target ≤ 200 MB)`);
});

test('the core comes up healthy and the seed scenarios in the victim raise their alerts at the Slack stand-in', async () => {
  const startedAt = Date.now();
  up = true;
  await composeOk(env!.dockerSocket, ['-p', PROJECT, 'up', '-d', '--no-build'], variables);
  const readyAt = await waitHealthy(startedAt, 240_000);
  for (const [service, ms] of Object.entries(readyAt)) timings[`ready_${service}_ms`] = ms;
  // `up` without a profile starts the core only (compose 1.29 lists every service in `config`).
  const started = (await labContainers()).map((c) => c.Labels['com.docker.compose.service']).sort();
  assert.deepEqual(started, [...CORE_SERVICES].sort());

  // The sensor runs with capabilities, not privileged, and has what it needs for every field.
  const sensorId = (await labContainers()).find((c) => c.Labels['com.docker.compose.service'] === 'sensor')!.Id;
  const sensorHost = ((await env!.docker!.ok('GET', `/containers/${sensorId}/json`)) as { HostConfig: { Privileged: boolean; CapAdd: string[] | null; CapDrop: string[] | null; PidMode: string } }).HostConfig;
  assert.equal(sensorHost.Privileged, false, 'the lab sensor is not privileged');
  assert.deepEqual([...(sensorHost.CapAdd ?? [])].map((c) => c.replace(/^CAP_/, '')).sort(), ['DAC_READ_SEARCH', 'SYS_ADMIN', 'SYS_PTRACE']);
  assert.deepEqual((sensorHost.CapDrop ?? []).map((c) => c.replace(/^CAP_/, '')), ['ALL']);
  assert.equal(sensorHost.PidMode, 'host');
  const sensorLog = await docker(['logs', sensorId]);
  assert.doesNotMatch(sensorLog.stdout + sensorLog.stderr, /missing CAP_/, 'the sensor names no missing capability');

  const victim = await inspect(VICTIM).catch(() => undefined);
  assert.ok(victim, `no container named ${VICTIM}`);
  const { stdout: victimId } = await docker(['inspect', '--format', '{{.Id}}', VICTIM]);
  const containerId = victimId.trim();

  // 1. docker exec -it <victim> sh  (a terminal: -t allocates one even without ours)
  await docker(['exec', '-t', VICTIM, 'sh', '-c', 'id -u']);
  // 2. a write under /etc
  await docker(['exec', VICTIM, 'sh', '-c', 'echo lab > /etc/peregrine-lab-marker']);
  // 3. chmod of /etc/passwd to the mode it already has
  const { stdout: mode } = await docker(['exec', VICTIM, 'stat', '-c', '%a', '/etc/passwd']);
  await docker(['exec', VICTIM, 'chmod', mode.trim(), '/etc/passwd']);

  const failures: string[] = [];
  for (const rule of ['Terminal shell in container', 'Write below etc in container', 'Chmod of /etc/passwd']) {
    const hits = await messagesFor(rule, containerId);
    if (hits.length === 0) failures.push(rule);
  }
  if (failures.length > 0) {
    const logs = await compose(env!.dockerSocket, ['-p', PROJECT, 'logs', '--no-color', '--tail', '40', 'sensor', 'hub'], variables);
    const seen = (await receivedMessages()).map((m) => m.summary).slice(-20);
    assert.fail(`no alert at the Slack stand-in for: ${failures.join(', ')}\nlast messages: ${JSON.stringify(seen, null, 1)}\n${logs.output.slice(-6000)}`);
  }
  // The stand-in shows what it got.
  const page = await (await fetch(`${receiverUrl}/`)).text();
  assert.match(page, /Terminal shell in container/);
});

test('down -v removes every container and volume of the lab', async () => {
  const t = Date.now();
  await composeOk(env!.dockerSocket, ['-p', PROJECT, 'down', '-v', '--remove-orphans', '-t', '10'], variables);
  timings.downMs = Date.now() - t;
  up = false;
  assert.deepEqual(await labContainers(), []);
  const volumes = (await env!.docker!.ok('GET', '/volumes')) as { Volumes: Array<{ Name: string }> | null };
  assert.deepEqual((volumes.Volumes ?? []).map((v) => v.Name).filter((n) => n.startsWith(PROJECT.replace(/-/g, ''))), []);
  assert.deepEqual((volumes.Volumes ?? []).map((v) => v.Name).filter((n) => n.startsWith(PROJECT)), []);
  // .dockerignore and the test's idea of the build context agree.
  const ignore = readFileSync(join(repoRoot, '.dockerignore'), 'utf8');
  for (const entry of ['**/node_modules', '.cache', '.git', 'native/build']) assert.ok(ignore.split('\n').includes(entry), `.dockerignore lacks ${entry}`);
});
