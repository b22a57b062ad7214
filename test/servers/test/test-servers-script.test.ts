import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { repoRoot } from '../../support/server-process.ts';
import { assertGroupGone, groupAlive } from './process-gone.ts';

const script = 'scripts/test-servers.mjs';

test('the script starts the servers it is given, prints where they listen, and stops them on SIGTERM', { timeout: 300_000 }, async () => {
  const child = spawn(process.execPath, [script, '--json', 'lambda', 'redis-cluster'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const lines = createInterface({ input: child.stdout });
  let description: Record<string, { address: string; pids: number[] }> | undefined;
  for await (const line of lines) {
    if (line.startsWith('{')) {
      description = JSON.parse(line) as Record<string, { address: string; pids: number[] }>;
      break;
    }
  }
  assert.ok(description, `no JSON line; stderr:\n${stderr}`);
  assert.deepEqual(Object.keys(description).sort(), ['lambda', 'redis-cluster']);

  const lambda = description.lambda!;
  assert.match(lambda.address, /^http:\/\/127\.0\.0\.1:\d+\/2015-03-31\/functions\/function\/invocations$/);
  const answer = (await (await fetch(lambda.address, { method: 'POST', body: '{"ping":1}' })).json()) as { echo: unknown };
  assert.deepEqual(answer.echo, { ping: 1 });

  const cluster = description['redis-cluster']!;
  const nodes = cluster.address.split(',');
  assert.equal(nodes.length, 3);
  for (const node of nodes) assert.match(node, /^127\.0\.0\.1:\d+$/);
  const [, port] = nodes[0]!.split(':');
  const info = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', port!, 'cluster', 'info'], { encoding: 'utf8' });
  assert.match(info.stdout, /cluster_state:ok/);

  const pids = [...lambda.pids, ...cluster.pids];
  for (const pid of pids) assert.equal(groupAlive(pid), true);
  child.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
  for (const pid of pids) assertGroupGone(pid, 'a server the script started');
});

test('an unknown server name is refused with the list of known ones', () => {
  const run = spawnSync(process.execPath, [script, 'kafak'], { cwd: repoRoot, encoding: 'utf8' });
  assert.equal(run.status, 2);
  assert.match(run.stderr, /unknown server or option "kafak"; servers: kafka, opensearch, lambda, redis-cluster/);
});
