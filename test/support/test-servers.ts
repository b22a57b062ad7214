// Starting any subset of the test servers by name: what scripts/test-servers.mjs and
// .ci/run use. Tests call the typed starters (startTestKafka, …) directly.
import { join } from 'node:path';
import { prepareKafka, startTestKafka } from './kafka.ts';
import { prepareLambdaEmulator, startTestLambda } from './lambda.ts';
import { prepareOpenSearch, startTestOpenSearch } from './opensearch.ts';
import { startTestRedisCluster } from './redis-cluster.ts';
import { cpuSeconds, residentBytes, serversSourceDir } from './server-process.ts';
import type { JvmTuning } from './server-process.ts';

export const testServerNames = ['kafka', 'opensearch', 'lambda', 'redis-cluster'] as const;
export type TestServerName = (typeof testServerNames)[number];

/** The handler the Lambda emulator runs when none is named: it answers with the event it got. */
export const defaultLambdaHandler = join(serversSourceDir, 'lambda', 'echo-handler.mjs');

/** Where one started server listens, for people and scripts. */
export interface StartedTestServer {
  readonly name: TestServerName;
  /** What a client connects to: `host:port` for Kafka, a URL for OpenSearch and Lambda, `host:port,…` for Redis Cluster. */
  readonly address: string;
  /** Process ids (three for Redis Cluster). */
  readonly pids: readonly number[];
  readonly logFiles: readonly string[];
  /** Resident memory now, summed over the processes. */
  residentBytes(): number;
  /** CPU seconds used so far, summed over the processes: start-up cost independent of how busy the machine is. */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

export function isTestServerName(name: string): name is TestServerName {
  return (testServerNames as readonly string[]).includes(name);
}

/** Downloads/builds what a server needs (nothing to do for Redis Cluster: Debian's redis). */
export async function prepareTestServer(name: TestServerName): Promise<void> {
  if (name === 'kafka') await prepareKafka();
  else if (name === 'opensearch') await prepareOpenSearch();
  else if (name === 'lambda') await prepareLambdaEmulator();
}

export interface StartTestServerOptions {
  /** For `lambda`: the handler module (its export `handler` is called). */
  readonly lambdaHandler?: string;
  /** For `kafka` and `opensearch`. @defaultValue 'fast-start' */
  readonly jvmTuning?: JvmTuning;
}

export async function startTestServer(name: TestServerName, options: StartTestServerOptions = {}): Promise<StartedTestServer> {
  const describe = (address: string, pids: number[], logFiles: string[], stop: () => Promise<void>): StartedTestServer => ({
    name,
    address,
    pids,
    logFiles,
    residentBytes: () => pids.reduce((sum, pid) => sum + residentBytes(pid), 0),
    cpuSeconds: () => pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0),
    stop,
  });
  switch (name) {
    case 'kafka': {
      const kafka = await startTestKafka({ jvmTuning: options.jvmTuning });
      return describe(kafka.broker, [kafka.pid], [kafka.logFile], () => kafka.stop());
    }
    case 'opensearch': {
      const node = await startTestOpenSearch({ jvmTuning: options.jvmTuning });
      return describe(node.url, [node.pid], [node.logFile], () => node.stop());
    }
    case 'lambda': {
      const lambda = await startTestLambda({ handlerModule: options.lambdaHandler ?? defaultLambdaHandler });
      return describe(lambda.invokeUrl, [lambda.pid], [lambda.logFile], () => lambda.stop());
    }
    case 'redis-cluster': {
      const cluster = await startTestRedisCluster();
      return describe(
        cluster.nodes.map((n) => `${n.host}:${n.port}`).join(','),
        cluster.nodes.map((n) => n.pid),
        cluster.nodes.map((n) => n.logFile),
        () => cluster.stop(),
      );
    }
  }
}
