// A real OpenSearch 2.19.6 node embedded in a JVM of its own, on 127.0.0.1, for the tests:
// Maven Central jars (test/servers/opensearch/pom.xml) and our main
// (test/servers/java/testservers/EmbeddedOpenSearch.java), compiled once into .cache/servers.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

/** A running node; `stop()` shuts it down and deletes its data. */
export interface TestOpenSearch {
  /** `http://127.0.0.1:port`, no trailing slash. */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  readonly logFile: string;
  /** SIGTERM (the node closes in a shutdown hook), SIGKILL after 20 s; deletes the data dir. */
  stop(): Promise<void>;
}

export interface TestOpenSearchOptions {
  /** Give up (and say where the log is) after this long. @defaultValue 240 s */
  readonly readyTimeoutMs?: number;
  /** @defaultValue 'fast-start' (see JvmTuning; benchmarks want 'throughput') */
  readonly jvmTuning?: JvmTuning;
}

const sourceDir = join(serversSourceDir, 'opensearch');
const javaSourceDir = join(serversSourceDir, 'java', 'testservers');
const javaSources = [join(javaSourceDir, 'ExitWithParent.java'), join(javaSourceDir, 'PluginNode.java'), join(javaSourceDir, 'EmbeddedOpenSearch.java')];
const log4jConfig = join(sourceDir, 'log4j2.properties');
const cacheDir = join(serversCacheDir, 'opensearch');
const libDir = join(cacheDir, 'lib');
const classesDir = join(cacheDir, 'classes');
const listeningLine = /OPENSEARCH LISTENING (127\.0\.0\.1:\d+)/;

/**
 * Downloads the jars (first run: Maven Central into ~/.m2, then copied to
 * .cache/servers/opensearch/lib) and compiles the main. Does nothing when both are current.
 */
export async function prepareOpenSearch(): Promise<void> {
  const hash = inputsHash([join(sourceDir, 'pom.xml'), ...javaSources], []);
  await ensureBuilt(cacheDir, hash, 'the OpenSearch test node', async () => {
    await runCommand('mvn', ['-q', '-B', '-f', join(sourceDir, 'pom.xml'), 'dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${libDir}`], {
      what: 'downloading the OpenSearch jars',
      fix: installJavaAndMaven,
    });
    mkdirSync(classesDir, { recursive: true });
    await runCommand(javacCommand(), ['-d', classesDir, '-cp', `${libDir}/*`, ...javaSources], { what: 'compiling EmbeddedOpenSearch.java', fix: installJavaAndMaven });
  });
}

/**
 * Starts a fresh node (empty data, HTTP on a port the node picks itself, so no port race) and
 * waits until its cluster health is green or yellow. Create indices with `number_of_replicas: 0`:
 * there is one node.
 */
export async function startTestOpenSearch(options: TestOpenSearchOptions = {}): Promise<TestOpenSearch> {
  await prepareOpenSearch();
  const home = mkdtempSync(join(tmpdir(), 'peregrine-opensearch-'));
  const logFile = serverLogFile(`opensearch-${home.slice(-6)}`);
  const server = spawnServer(javaCommand(), {
    args: [
      '-Xms512m',
      '-Xmx512m',
      ...jvmTuningOptions(options.jvmTuning),
      '-Djava.awt.headless=true',
      '-Dlog4j2.disable.jmx=true',
      `-Dlog4j2.configurationFile=${log4jConfig}`,
      '-cp',
      `${classesDir}:${libDir}/*`,
      'testservers.EmbeddedOpenSearch',
      home,
      '0',
    ],
    logFile,
    exitWithParentStdin: true,
  });
  const what = 'OpenSearch test node';
  try {
    const address = await waitForReady(server, what, options.readyTimeoutMs ?? 240_000, async () => listeningAddress(logFile));
    const url = `http://${address}`;
    await waitForReady(server, `${what} on ${url}`, options.readyTimeoutMs ?? 240_000, () => healthy(url));
    return {
      url,
      port: Number(address.split(':')[1]),
      pid: server.pid,
      logFile,
      async stop() {
        await server.stop(20_000);
        rmSync(home, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await server.kill();
    rmSync(home, { recursive: true, force: true });
    throw error;
  }
}

function listeningAddress(logFile: string): string | undefined {
  if (!existsSync(logFile)) return undefined;
  return listeningLine.exec(readFileSync(logFile, 'utf8'))?.[1];
}

/** Ready = GET /_cluster/health says green or yellow. */
async function healthy(url: string): Promise<true | undefined> {
  const response = await fetch(`${url}/_cluster/health`, { signal: AbortSignal.timeout(5_000) });
  if (!response.ok) return undefined;
  const health = (await response.json()) as { status?: string };
  return health.status === 'green' || health.status === 'yellow' ? true : undefined;
}
