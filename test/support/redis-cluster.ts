// A real three-node Redis Cluster on 127.0.0.1 for the tests: three `redis-server
// --cluster-enabled yes` masters (Debian's redis) joined by `redis-cli --cluster create`,
// every slot covered, no replicas.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeLoopbackPort } from './redis.ts';
import { runCommand, serverLogFile, spawnServer, waitForReady } from './server-process.ts';
import type { ServerProcess } from './server-process.ts';

/** One node of the cluster. */
export interface RedisClusterNode {
  readonly host: string;
  readonly port: number;
  readonly pid: number;
  readonly logFile: string;
}

/** A running cluster; `stop()` ends every node and deletes their data. */
export interface TestRedisCluster {
  /** Every node, in port order of creation; each owns about a third of the slots. */
  readonly nodes: readonly RedisClusterNode[];
  /** `{ host, port }` of each node: ioredis' `new Cluster(startupNodes)` takes this list. */
  readonly startupNodes: readonly { host: string; port: number }[];
  /** `redis://127.0.0.1:port` of each node. */
  readonly urls: readonly string[];
  readonly dir: string;
  stop(): Promise<void>;
}

export interface TestRedisClusterOptions {
  /** AOF on (appendfsync everysec), the hub's production setting. @defaultValue true */
  readonly appendOnly?: boolean;
  /** Give up after this long per step. @defaultValue 30 s */
  readonly readyTimeoutMs?: number;
}

const nodeCount = 3;

/** Starts three nodes, joins them and waits until every node reports `cluster_state:ok`. */
export async function startTestRedisCluster(options: TestRedisClusterOptions = {}): Promise<TestRedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'peregrine-redis-cluster-'));
  const timeoutMs = options.readyTimeoutMs ?? 30_000;
  const used = new Set<number>();
  const servers: { port: number; server: ServerProcess }[] = [];
  const stopAll = async () => {
    await Promise.all(servers.map(({ server }) => server.stop(10_000)));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < nodeCount; i += 1) {
      const port = await distinctFreePort(used);
      // The cluster bus defaults to port + 10000, which may be taken or above 65535: pick it too.
      const busPort = await distinctFreePort(used);
      const nodeDir = join(dir, String(port));
      mkdirSync(nodeDir);
      const server = spawnServer('redis-server', {
        args: [
          '--port', String(port),
          '--bind', '127.0.0.1',
          '--cluster-enabled', 'yes',
          '--cluster-port', String(busPort),
          '--cluster-config-file', join(nodeDir, 'nodes.conf'),
          '--cluster-node-timeout', '5000',
          '--dir', nodeDir,
          '--save', '',
          '--appendonly', options.appendOnly === false ? 'no' : 'yes',
          '--appendfsync', 'everysec',
        ],
        logFile: serverLogFile(`redis-cluster-${port}`),
      });
      servers.push({ port, server });
    }
    for (const { port, server } of servers) {
      await waitForReady(server, `Redis Cluster node 127.0.0.1:${port}`, timeoutMs, async () => ((await redisCli(port, ['ping'])).trim() === 'PONG' ? true : undefined));
    }
    await runCommand('redis-cli', ['--cluster', 'create', ...servers.map(({ port }) => `127.0.0.1:${port}`), '--cluster-replicas', '0', '--cluster-yes'], {
      what: 'joining the Redis Cluster (redis-cli --cluster create)',
      fix: 'install redis-tools: apt-get install redis-tools',
    });
    // `create` returns once slots are assigned; each node must also have met the others.
    for (const { port, server } of servers) {
      await waitForReady(server, `Redis Cluster node 127.0.0.1:${port} (cluster_state:ok)`, timeoutMs, async () => {
        const info = await redisCli(port, ['cluster', 'info']);
        return info.includes('cluster_state:ok') && info.includes(`cluster_known_nodes:${nodeCount}`) ? true : undefined;
      });
    }
  } catch (error) {
    await stopAll();
    throw error;
  }
  const nodes = servers.map(({ port, server }) => ({ host: '127.0.0.1', port, pid: server.pid, logFile: server.logFile }));
  return {
    nodes,
    startupNodes: nodes.map(({ host, port }) => ({ host, port })),
    urls: nodes.map(({ port }) => `redis://127.0.0.1:${port}`),
    dir,
    stop: stopAll,
  };
}

function redisCli(port: number, args: readonly string[]): Promise<string> {
  return runCommand('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { what: `redis-cli on port ${port}`, fix: 'install redis-tools: apt-get install redis-tools' });
}

async function distinctFreePort(used: Set<number>): Promise<number> {
  for (;;) {
    const port = await freeLoopbackPort();
    if (!used.has(port)) {
      used.add(port);
      return port;
    }
  }
}
