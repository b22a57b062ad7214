import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { freeLoopbackPort, startTestRedis } from '@peregrine/testkit';
import type { TestRedis } from '@peregrine/testkit';
import { spawnHub, writeDrillConfig } from './hub-process.ts';
import type { HubProcess } from './hub-process.ts';

const LEFTOVER_TIMER = fileURLToPath(new URL('./fixtures/leftover-timer.mjs', import.meta.url));

let redis: TestRedis;
const hubs: HubProcess[] = [];

before(async () => {
  redis = await startTestRedis({ appendOnly: false });
});

after(async () => {
  for (const h of hubs) await h.stop('SIGKILL');
  await redis.stop();
});

test('a hub whose shutdown leaves a library timer running still exits 0 on SIGTERM, and says what was left open', async () => {
  const configPath = writeDrillConfig({ redis: `{ url: "${redis.url}" }`, receiverUrl: 'http://127.0.0.1:9' });
  const hub = await spawnHub(configPath, await freeLoopbackPort(), [], ['--import', LEFTOVER_TIMER]);
  hubs.push(hub);
  // Without the exit step the timer keeps the process alive for ever and stop() rejects.
  assert.equal(await hub.stop('SIGTERM', 30_000), 0, hub.output());
  assert.match(hub.output(), /peregrine: finished, but 1 handle\(s\) were still open 2000 ms later \(Timeout\); exiting with code 0/);
});

test('a hub with nothing left open exits on its own, without that message', async () => {
  const configPath = writeDrillConfig({ redis: `{ url: "${redis.url}" }`, receiverUrl: 'http://127.0.0.1:9' });
  const hub = await spawnHub(configPath, await freeLoopbackPort());
  hubs.push(hub);
  assert.equal(await hub.stop('SIGTERM', 30_000), 0, hub.output());
  assert.doesNotMatch(hub.output(), /still open/);
});

test('a client that never finishes its request does not keep a stopping hub alive; its alert was never acknowledged', async () => {
  const configPath = writeDrillConfig({ redis: `{ url: "${redis.url}" }`, receiverUrl: 'http://127.0.0.1:9' });
  const hub = await spawnHub(configPath, await freeLoopbackPort());
  hubs.push(hub);
  const { port } = new URL(hub.url);
  const socket = connect(Number(port), '127.0.0.1');
  await once(socket, 'connect');
  // Headers and the first byte of a body that never comes: a request in progress, not an idle connection.
  socket.write(`POST /v1/alerts HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n[`);
  let answer = '';
  socket.on('data', (c: Buffer) => (answer += c.toString()));
  const closed = once(socket, 'close');
  socket.on('error', () => undefined);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(await hub.stop('SIGTERM', 60_000), 0, hub.output());
  await closed;
  assert.doesNotMatch(answer, /202/, 'nothing acknowledged');
  assert.match(hub.output(), /"step":"open ingest requests"/);
});
