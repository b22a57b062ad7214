// The compose lab's full profile for real (issue 12): under the test dockerd, local stand-ins
// of the public images are built (base-images.ts: debian, node, redis, distroless;
// lab-standins.ts: apache/kafka, opensearchproject/opensearch, golang), then this repository's
// images from deploy/docker/*.Dockerfile, the responder's Lambda form included; docker-compose
// (Debian's 1.29) brings `--profile full` up from docker-compose.yml with deploy/lab/full.env's
// destinations (dashboards stay out: their image cannot be had here, `config` covers them in
// lab-core.test.ts). `docker exec -t` into the victim raises the seed's CRITICAL "Terminal
// shell in container", and that one alert (same uuid) must be found in the Kafka topic (a
// kafkajs consumer on the host), in the OpenSearch index the hub writes, at the Slack stand-in,
// and in the responder's audit line: a dry-run decision, the hub's webhook delivery to the
// Lambda emulator having succeeded. Then `down -v` leaves no container or volume of the lab.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { freeLoopbackPort, startContainerRuntimes } from '../support/index.ts';
import type { ContainerRuntimes } from '../support/index.ts';
import { buildBaseImageStandIns, DEBIAN_IMAGE, DISTROLESS_IMAGE, DOCKER_CLI, NODE_IMAGE, REDIS_IMAGE } from '../support/containers/base-images.ts';
import { buildLabServiceStandIns, GOLANG_IMAGE, KAFKA_IMAGE, OPENSEARCH_IMAGE } from '../support/containers/lab-standins.ts';
import type { StandInStep } from '../support/containers/lab-standins.ts';
import { buildLabImages, compose, composeOk, repoRoot } from '../support/containers/lab.ts';
import type { BuiltImage } from '../support/containers/lab.ts';

const run = promisify(execFile);
const PROJECT = 'peregrine-lab-full-test';
const VICTIM = 'peregrine-lab-victim';
const FULL_SERVICES = ['redis', 'hub', 'sensor', 'receiver', 'victim', 'kafka', 'opensearch', 'responder'];
const RULE = 'Terminal shell in container';

let env: ContainerRuntimes | undefined;
let variables: Record<string, string> = {};
let receiverUrl = '';
let openSearchUrl = '';
let kafkaBroker = '';
let images: BuiltImage[] = [];
let standIns: StandInStep[] = [];
const timings: Record<string, number> = {};
const standInMegabytes: Record<string, number> = {};
let up = false;

interface ContainerSummary {
  Id: string;
  Labels: Record<string, string>;
}

interface ContainerDetails {
  State: { Status: string; StartedAt: string; Health?: { Status: string; Log?: Array<{ Start: string; End: string; ExitCode: number; Output: string }> } };
}

async function labContainers(): Promise<ContainerSummary[]> {
  const filter = encodeURIComponent(JSON.stringify({ label: [`com.docker.compose.project=${PROJECT}`] }));
  return (await env!.docker!.ok('GET', `/containers/json?all=1&filters=${filter}`)) as ContainerSummary[];
}

async function inspect(id: string): Promise<ContainerDetails> {
  return (await env!.docker!.ok('GET', `/containers/${id}/json`)) as ContainerDetails;
}

function docker(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(DOCKER_CLI, ['-H', `unix://${env!.dockerSocket}`, ...args], { timeout: 60_000, maxBuffer: 32 * 1024 * 1024 });
}

async function serviceLogs(services: string[], tail = 60): Promise<string> {
  return (await compose(env!.dockerSocket, ['-p', PROJECT, 'logs', '--no-color', '--tail', String(tail), ...services], variables)).output;
}

/**
 * Waits until every service runs and those with a health check are healthy, polling while
 * `up` still creates containers (stop() says `up` failed). Records, per service, its process
 * start to the end of its first passing health check (from the engine's health log; services
 * without a check: to the poll that saw them running).
 */
async function waitHealthy(timeoutMs: number, stop: () => Error | undefined): Promise<void> {
  const healthyAt = new Set<string>();
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const failure = stop();
    if (failure) throw failure;
    const states: string[] = [];
    for (const c of await labContainers()) {
      const service = c.Labels['com.docker.compose.service'] ?? '?';
      const details = await inspect(c.Id).catch(() => undefined);
      if (!details) continue; // created a moment ago, or gone
      const health = details.State.Health?.Status;
      if (details.State.Status === 'exited') throw new Error(`lab service ${service} exited:\n${await serviceLogs([service])}`);
      if (details.State.Status === 'running' && (health === undefined || health === 'healthy') && !healthyAt.has(service)) {
        healthyAt.add(service);
        const firstPass = details.State.Health?.Log?.find((entry) => entry.ExitCode === 0);
        const readyAt = firstPass ? Date.parse(firstPass.End) : Date.now();
        timings[`startup_${service}_ms`] = readyAt - Date.parse(details.State.StartedAt);
      }
      states.push(`${service}=${details.State.Status}/${health ?? '-'}${health === 'unhealthy' ? `(${details.State.Health?.Log?.at(-1)?.Output ?? ''})` : ''}`);
    }
    last = states.join(' ');
    if (FULL_SERVICES.every((s) => healthyAt.has(s))) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`the full lab did not become healthy in ${timeoutMs} ms: ${last}\n${await serviceLogs([], 30)}`);
}

async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number, logsOf: string[]): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`${what} (waited ${timeoutMs} ms)\n${(await serviceLogs(logsOf, 40)).slice(-8000)}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

interface FalcoAlert {
  uuid: string;
  rule: string;
  priority: string;
  output: string;
  output_fields: Record<string, unknown>;
}

before(async () => {
  const begin = Date.now();
  env = await startContainerRuntimes({ lockTimeoutMs: 1_800_000 });
  timings.runtimesMs = Date.now() - begin;
  let t = Date.now();
  await buildBaseImageStandIns(env.dockerSocket);
  timings.baseImagesMs = Date.now() - t;
  t = Date.now();
  standIns = await buildLabServiceStandIns(env.dockerSocket);
  timings.serviceStandInsMs = Date.now() - t;
  for (const step of standIns) {
    const size = await docker(['image', 'inspect', '--format', '{{.Size}}', step.image]).catch(() => undefined);
    if (size) standInMegabytes[step.image] = Math.round(Number(size.stdout.trim()) / 1e5) / 10;
  }
  t = Date.now();
  images = await buildLabImages(env.dockerSocket, [DEBIAN_IMAGE, NODE_IMAGE, REDIS_IMAGE, DISTROLESS_IMAGE, GOLANG_IMAGE], ['receiver', 'hub', 'sensor', 'responder']);
  timings.repoImagesMs = Date.now() - t;
  const ports: number[] = [];
  while (ports.length < 10) {
    const port = await freeLoopbackPort();
    if (!ports.includes(port)) ports.push(port);
  }
  const [hub, redis, receiver, metrics, kafka, kafkaController, search, searchTransport, responder, responderRuntime] = ports as [number, number, number, number, number, number, number, number, number, number];
  receiverUrl = `http://127.0.0.1:${receiver}`;
  openSearchUrl = `http://127.0.0.1:${search}`;
  kafkaBroker = `127.0.0.1:${kafka}`;
  variables = {
    COMPOSE_PROJECT_NAME: PROJECT,
    LAB_HUB_PORT: String(hub),
    LAB_REDIS_PORT: String(redis),
    LAB_RECEIVER_PORT: String(receiver),
    LAB_SENSOR_METRICS_PORT: String(metrics),
    LAB_SLACK_WEBHOOKURL: `${receiverUrl}/services/lab`,
    LAB_DOCKER_SOCKET: env.dockerSocket,
    LAB_KAFKA_PORT: String(kafka),
    LAB_KAFKA_CONTROLLER_PORT: String(kafkaController),
    LAB_OPENSEARCH_PORT: String(search),
    LAB_OPENSEARCH_TRANSPORT_PORT: String(searchTransport),
    LAB_RESPONDER_PORT: String(responder),
    LAB_RESPONDER_RUNTIME_API_PORT: String(responderRuntime),
    // What deploy/lab/full.env sets, on this run's ports.
    LAB_KAFKA_HOSTPORT: kafkaBroker,
    LAB_OPENSEARCH_URL: openSearchUrl,
    LAB_RESPONDER_URL: `http://127.0.0.1:${responder}/2015-03-31/functions/function/invocations`,
  };
  // A run that died before its `down` may have left the lab: start from nothing.
  await compose(env.dockerSocket, ['-p', PROJECT, '--profile', 'full', 'down', '-v', '--remove-orphans'], variables);
});

after(async () => {
  const problems: string[] = [];
  if (env) {
    if (up) {
      const down = await compose(env.dockerSocket, ['-p', PROJECT, '--profile', 'full', 'down', '-v', '--remove-orphans', '-t', '10'], variables);
      if (down.code !== 0) problems.push(`docker-compose down exited ${down.code}: ${down.output.slice(-3000)}`);
    }
    await env.stop().catch((e: Error) => problems.push(e.message));
  }
  const summary = {
    images: images.map((i) => ({ tag: i.tag, megabytes: Math.round(i.bytes / 1e5) / 10, buildMs: i.buildMs, cached: i.cached })),
    standIns: standIns.map((s) => ({ ...s, megabytes: standInMegabytes[s.image] })),
    timings,
  };
  mkdirSync(join(repoRoot, '.cache/lab'), { recursive: true });
  writeFileSync(join(repoRoot, '.cache/lab/last-full-run.json'), `${JSON.stringify(summary, null, 2)}\n`);
  console.log(`lab full: ${JSON.stringify(summary)}`);
  if (problems.length > 0) throw new Error(problems.join('\n'));
});

test('the responder-lambda image is built from its Dockerfile: labelled, health-checked, non-root, Node 24, with the emulator', async () => {
  const responder = images.find((i) => i.name === 'responder');
  assert.ok(responder, 'the responder image was not built');
  const { stdout } = await docker(['image', 'inspect', '--format', '{{json .Config}}', responder.tag]);
  const config = JSON.parse(stdout) as { User: string; Labels: Record<string, string>; Healthcheck?: { Test: string[] }; Entrypoint: string[] };
  assert.equal(config.Labels['org.opencontainers.image.title'], 'peregrine-responder-lambda');
  assert.ok(config.Healthcheck?.Test?.length, 'no HEALTHCHECK');
  assert.equal(config.User, '65532:65532');
  assert.equal(config.Entrypoint[0], '/usr/local/bin/aws-lambda-rie');
  const version = await docker(['run', '--rm', '--network', 'none', '--entrypoint', '/usr/local/bin/node', responder.tag, '--version']);
  assert.match(version.stdout.trim(), /^v24\./);
  // The compose file runs the versions the stand-ins carry.
  const config2 = await composeOk(env!.dockerSocket, ['-p', PROJECT, '--profile', 'full', 'config'], variables);
  assert.match(config2, new RegExp(`image: ${KAFKA_IMAGE.replace(/[.]/g, '\\.')}$`, 'm'));
  assert.match(config2, new RegExp(`image: ${OPENSEARCH_IMAGE.replace(/[.]/g, '\\.')}$`, 'm'));
});

test('the full profile comes up healthy; one CRITICAL seed alert reaches Kafka, OpenSearch, the Slack stand-in and the responder', async () => {
  const startedAt = Date.now();
  up = true;
  let upFailure: Error | undefined;
  const upCommand = composeOk(env!.dockerSocket, ['-p', PROJECT, '--profile', 'full', 'up', '-d', '--no-build'], variables).then(
    () => {
      timings.upCommandMs = Date.now() - startedAt;
    },
    (error: Error) => {
      upFailure = error;
      throw error;
    },
  );
  await Promise.all([upCommand, waitHealthy(420_000, () => upFailure)]);
  timings.upToAllHealthyMs = Date.now() - startedAt;
  const started = (await labContainers()).map((c) => c.Labels['com.docker.compose.service']).sort();
  assert.deepEqual(started, [...FULL_SERVICES].sort(), 'the full profile starts the core, Kafka, OpenSearch and the responder (not dashboards)');

  const { stdout: victimId } = await docker(['inspect', '--format', '{{.Id}}', VICTIM]);
  const containerShort = victimId.trim().slice(0, 12);

  // The seed's first scenario: docker exec -it <victim> sh (-t allocates the terminal).
  await docker(['exec', '-t', VICTIM, 'sh', '-c', 'id -u']);

  // 1. Kafka: the topic "falco" (KAFKA_TOPIC in docker-compose.yml), read from the beginning.
  const kafka = new Kafka({ clientId: 'peregrine-lab-full-test', brokers: [kafkaBroker], logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `lab-full-${Date.now()}` });
  const seen: Array<FalcoAlert & { readonly partition: number; readonly offset: string }> = [];
  let alert: (typeof seen)[number];
  try {
    await consumer.connect();
    // The topic exists once the hub wrote to it (auto-created): subscribe when it does.
    const admin = kafka.admin();
    await admin.connect();
    try {
      await eventually('the topic falco exists in Kafka', async () => ((await admin.listTopics()).includes('falco') ? true : undefined), 120_000, ['hub', 'sensor', 'kafka']);
    } finally {
      await admin.disconnect();
    }
    await consumer.subscribe({ topic: 'falco', fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        if (message.value) seen.push({ ...(JSON.parse(message.value.toString('utf8')) as FalcoAlert), partition, offset: message.offset });
      },
    });
    alert = await eventually(
      `a "${RULE}" alert for the victim ${containerShort} in the Kafka topic`,
      async () => seen.find((a) => a.rule === RULE && JSON.stringify(a.output_fields).includes(containerShort)),
      120_000,
      ['hub', 'sensor'],
    );
  } finally {
    await consumer.disconnect();
  }
  assert.equal(alert.priority, 'Critical');
  assert.match(alert.uuid, /^[0-9a-f-]{36}$/);

  // 2. OpenSearch: the daily index falco-YYYY.MM.DD, the document id is the alert's uuid.
  const hit = await eventually(
    `the alert ${alert.uuid} in OpenSearch (falco-*)`,
    async () => {
      const response = await fetch(`${openSearchUrl}/falco-*/_search`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: { ids: { values: [alert.uuid] } } }),
      });
      if (!response.ok) return undefined;
      const body = (await response.json()) as { hits: { hits: Array<{ _index: string; _id: string; _source: Record<string, unknown> }> } };
      return body.hits.hits[0];
    },
    60_000,
    ['hub', 'opensearch'],
  );
  assert.match(hit._index, /^falco-\d{4}\.\d{2}\.\d{2}$/);
  assert.equal(hit._source.rule, RULE);

  // The README's tools for the same places: Kafka's console consumer in the kafka container
  // (at the alert's offset, one message: the sensor keeps producing alerts about the rest of
  // this machine, so "until 5 s of silence" may never come), OpenSearch's query-string search.
  const consoleConsumer = await docker([
    'exec', `${PROJECT}_kafka_1`, '/opt/kafka/bin/kafka-console-consumer.sh',
    '--bootstrap-server', kafkaBroker, '--topic', 'falco', '--partition', String(alert.partition), '--offset', alert.offset, '--max-messages', '1',
  ]).catch((e: { stdout?: string; stderr?: string; message: string }) => ({ stdout: e.stdout ?? '', stderr: `${e.message}\n${e.stderr ?? ''}` }));
  assert.ok(consoleConsumer.stdout.includes(alert.uuid), `kafka-console-consumer.sh did not print ${alert.uuid}:\n${consoleConsumer.stdout.slice(-2000)}\n${consoleConsumer.stderr.slice(-2000)}`);
  const byRule = (await (await fetch(`${openSearchUrl}/falco-*/_search?${new URLSearchParams({ q: `rule:"${RULE}"`, size: '100' })}`)).json()) as { hits: { hits: Array<{ _id: string }> } };
  assert.ok(byRule.hits.hits.some((h) => h._id === alert.uuid), `the README's OpenSearch query does not find ${alert.uuid}`);

  // 3. The Slack stand-in: the message carries the alert's output.
  await eventually(
    `the alert's Slack message at the stand-in`,
    async () => {
      const messages = (await (await fetch(`${receiverUrl}/messages`)).json()) as Array<{ body: unknown }>;
      return messages.find((m) => JSON.stringify(m.body).includes(JSON.stringify(alert.output).slice(1, -1))) ? true : undefined;
    },
    60_000,
    ['hub', 'receiver'],
  );

  // 4. The responder: the hub's webhook delivery (CRITICAL and above) reached the Lambda
  // handler, whose audit line is its decision: a dry run (deploy/lab/responder-policy.yaml).
  const decision = await eventually(
    `the responder's decision for ${alert.uuid} in its logs`,
    async () => {
      const { stdout } = await docker(['logs', `${PROJECT}_responder_1`]);
      for (const line of stdout.split('\n')) {
        if (!line.includes(alert.uuid) || !line.includes('"audit":"decision"')) continue;
        return JSON.parse(line.slice(line.indexOf('{'))) as { audit: string; outcome: string; reason: string; dryRun: boolean; alert: { uuid: string; rule: string; priority: string } };
      }
      return undefined;
    },
    60_000,
    ['hub', 'responder'],
  );
  assert.equal(decision.dryRun, true);
  assert.equal(decision.alert.rule, RULE);
  assert.equal(decision.alert.priority, 'Critical');

  // 5. Nothing lost on the way: alerts the sensor raised while Kafka, OpenSearch and the responder
  // were still starting waited for them (deploy/lab/hub.yaml's retries) instead of being dead-lettered.
  const hubLogs = await docker(['logs', `${PROJECT}_hub_1`]);
  const hubLog = `${hubLogs.stdout}\n${hubLogs.stderr}`;
  const deadLettered = hubLog.split('\n').filter((line) => line.includes('dead-lettered'));
  assert.deepEqual(deadLettered, [], 'the hub dead-lettered alerts in the full lab');
  timings.alertEverywhereMs = Date.now() - startedAt - timings.upToAllHealthyMs!;
});

test('down -v removes every container and volume of the full lab', async () => {
  const t = Date.now();
  await composeOk(env!.dockerSocket, ['-p', PROJECT, '--profile', 'full', 'down', '-v', '--remove-orphans', '-t', '10'], variables);
  timings.downMs = Date.now() - t;
  up = false;
  assert.deepEqual(await labContainers(), []);
  const volumes = (await env!.docker!.ok('GET', '/volumes')) as { Volumes: Array<{ Name: string }> | null };
  const names = (volumes.Volumes ?? []).map((v) => v.Name);
  assert.deepEqual(names.filter((n) => n.startsWith(PROJECT.replace(/-/g, '')) || n.startsWith(PROJECT)), []);
});
