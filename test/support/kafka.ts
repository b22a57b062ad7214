// A real one-node Apache Kafka 4.4.0 broker (KRaft: broker and controller in one JVM) on
// 127.0.0.1 for the tests, from Maven Central jars (test/servers/kafka/pom.xml).
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { freeLoopbackPort } from './redis.ts';
import {
  ensureBuilt,
  inputsHash,
  installJavaAndMaven,
  javaCommand,
  javacCommand,
  jvmTuningOptions,
  runCommand,
  serverLogFile,
  serversCacheDir,
  serversSourceDir,
  spawnServer,
  waitForReady,
} from './server-process.ts';
import type { JvmTuning } from './server-process.ts';

/** A running broker; `stop()` shuts it down and deletes its data. */
export interface TestKafka {
  /** `127.0.0.1:port` of the PLAINTEXT listener: the client's bootstrap server. */
  readonly broker: string;
  /** Same, as the list kafkajs' `brokers` option takes. */
  readonly brokers: readonly string[];
  readonly port: number;
  /** The KRaft controller listener (clients never use it). */
  readonly controllerPort: number;
  readonly pid: number;
  readonly logFile: string;
  /** Controlled shutdown (SIGTERM), SIGKILL if it takes over 20 s; deletes the data dir. */
  stop(): Promise<void>;
  /** Outage drills: controlled shutdown that keeps the log dir and the ports, for `restart()`. */
  shutdown(): Promise<void>;
  /** Starts the broker again with the same log dir and ports; resolves when it answers. `pid` is the new one's. */
  restart(): Promise<void>;
}

export interface TestKafkaOptions {
  /** Give up (and say where the log is) after this long. @defaultValue 180 s */
  readonly readyTimeoutMs?: number;
  /** Partitions of auto-created topics. @defaultValue 1 */
  readonly defaultPartitions?: number;
  /** @defaultValue 'fast-start' (see JvmTuning; benchmarks want 'throughput') */
  readonly jvmTuning?: JvmTuning;
}

const sourceDir = join(serversSourceDir, 'kafka');
const cacheDir = join(serversCacheDir, 'kafka');
const libDir = join(cacheDir, 'lib');
const classesDir = join(cacheDir, 'classes');
/** A storage dir formatted once (`kafka-storage format`), copied for every broker start. */
const formattedTemplateDir = join(cacheDir, 'formatted-storage');
const exitWithParentSource = join(serversSourceDir, 'java', 'testservers', 'ExitWithParent.java');
const log4jConfig = join(sourceDir, 'log4j2.properties');
const heap = ['-Xms512m', '-Xmx512m'];

/**
 * Downloads the broker's jars (first run: Maven Central into ~/.m2, then copied to
 * .cache/servers/kafka/lib), compiles the watchdog main and formats a template storage dir.
 * Does nothing when all of that is current; safe to call from parallel test files.
 */
export async function prepareKafka(): Promise<void> {
  const hash = inputsHash([join(sourceDir, 'pom.xml'), exitWithParentSource, log4jConfig], ['format-v1']);
  await ensureBuilt(cacheDir, hash, 'the Kafka test broker', async () => {
    await runCommand('mvn', ['-q', '-B', '-f', join(sourceDir, 'pom.xml'), 'dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${libDir}`], {
      what: 'downloading the Kafka jars',
      fix: installJavaAndMaven,
    });
    mkdirSync(classesDir, { recursive: true });
    await runCommand(javacCommand(), ['-d', classesDir, exitWithParentSource], { what: 'compiling ExitWithParent.java', fix: installJavaAndMaven });
    // The storage format does not depend on the listener ports, so one formatted dir serves
    // every start and saves a JVM start (seconds on 2 busy cores) each time.
    const formatConfig = join(cacheDir, 'format.properties');
    writeFileSync(formatConfig, serverProperties(formattedTemplateDir, 9092, 9093, 1));
    await runCommand(javaCommand(), [...javaOptions('fast-start'), '-cp', `${libDir}/*`, 'kafka.tools.StorageTool', 'format', '-t', randomClusterId(), '-c', formatConfig], {
      what: 'formatting the Kafka storage dir',
      fix: installJavaAndMaven,
    });
  });
}

/** Starts a fresh broker (empty storage, free ports) and waits until it answers a metadata request. */
export async function startTestKafka(options: TestKafkaOptions = {}): Promise<TestKafka> {
  await prepareKafka();
  const port = await freeLoopbackPort();
  let controllerPort = await freeLoopbackPort();
  while (controllerPort === port) controllerPort = await freeLoopbackPort();
  const workDir = mkdtempSync(join(tmpdir(), 'peregrine-kafka-'));
  const dataDir = join(workDir, 'data');
  cpSync(formattedTemplateDir, dataDir, { recursive: true });
  const config = join(workDir, 'server.properties');
  writeFileSync(config, serverProperties(dataDir, port, controllerPort, options.defaultPartitions ?? 1));
  const spawnBroker = () =>
    spawnServer(javaCommand(), {
      args: [...javaOptions(options.jvmTuning), '-cp', `${classesDir}:${libDir}/*`, 'testservers.ExitWithParent', 'kafka.Kafka', config],
      logFile: serverLogFile(`kafka-${port}`),
      exitWithParentStdin: true,
    });
  let server = spawnBroker();
  const broker = `127.0.0.1:${port}`;
  try {
    await waitForReady(server, `Kafka broker on ${broker}`, options.readyTimeoutMs ?? 180_000, () => answersMetadata(broker));
  } catch (error) {
    rmSync(workDir, { recursive: true, force: true });
    throw error;
  }
  return {
    broker,
    brokers: [broker],
    port,
    controllerPort,
    get pid() {
      return server.pid;
    },
    logFile: server.logFile,
    async stop() {
      await server.stop(20_000);
      rmSync(workDir, { recursive: true, force: true });
    },
    async shutdown() {
      await server.stop(20_000);
    },
    async restart() {
      if (server.exited() === undefined) throw new Error('restart(): the broker is still running; shutdown() first');
      server = spawnBroker();
      await waitForReady(server, `Kafka broker on ${broker} (restarted)`, options.readyTimeoutMs ?? 180_000, () => answersMetadata(broker));
    },
  };
}

/** A message read back by consumeKafkaMessages: key, value and header values as text. */
export interface ConsumedKafkaMessage {
  readonly topic: string;
  readonly partition: number;
  readonly key: string | null;
  readonly value: string;
  readonly headers: Record<string, string>;
}

/**
 * Reads every message of `topics` from the beginning (a new consumer group each call) until `count`
 * have arrived; rejects, saying how many came, after `timeoutMs`. The array can hold more than
 * `count` (what arrived before the consumer disconnected): tests that look for duplicates compare
 * counts per uuid.
 */
export async function consumeKafkaMessages(brokers: readonly string[], topics: readonly string[], count: number, timeoutMs: number): Promise<ConsumedKafkaMessage[]> {
  const client = new Kafka({ clientId: 'peregrine-test-reader', brokers: [...brokers], logLevel: logLevel.NOTHING });
  const consumer = client.consumer({ groupId: `peregrine-test-reader-${Math.random().toString(36).slice(2)}` });
  await consumer.connect();
  try {
    for (const topic of topics) await consumer.subscribe({ topic, fromBeginning: true });
    const got: ConsumedKafkaMessage[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${got.length} of ${count} messages on ${topics.join(', ')} within ${timeoutMs} ms`)), timeoutMs);
      consumer
        .run({
          eachMessage: async ({ topic, partition, message }) => {
            const headers: Record<string, string> = {};
            for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
            got.push({ topic, partition, key: message.key === null ? null : message.key.toString(), value: message.value?.toString() ?? '', headers });
            if (got.length >= count) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
    return got;
  } finally {
    await consumer.disconnect();
  }
}

/** Ready = the broker answers a Metadata request (through kafkajs, the sink's client) and names itself. */
async function answersMetadata(broker: string): Promise<true | undefined> {
  const admin = new Kafka({ clientId: 'peregrine-test-ready', brokers: [broker], logLevel: logLevel.NOTHING, retry: { retries: 0 }, connectionTimeout: 2_000 }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0 && cluster.controller !== null ? true : undefined;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

function javaOptions(tuning: JvmTuning | undefined): string[] {
  return [...heap, ...jvmTuningOptions(tuning), '-Djava.awt.headless=true', `-Dlog4j2.configurationFile=${log4jConfig}`];
}

/** A 22-character base64url UUID, what `kafka-storage random-uuid` prints (no JVM needed). */
function randomClusterId(): string {
  return randomBytes(16).toString('base64url');
}

/** One node is broker and controller; every internal topic has replication factor 1. */
function serverProperties(dataDir: string, port: number, controllerPort: number, partitions: number): string {
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    `log.dirs=${dataDir}`,
    `num.partitions=${partitions}`,
    'auto.create.topics.enable=true',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    // Consumer groups form at once instead of after 3 s.
    'group.initial.rebalance.delay.ms=0',
    '',
  ].join('\n');
}
