// Calibration for bench/hub: how many alerts/s this machine moves through
// BullMQ when every alert is its own job (the design the hub issue rules out:
// "one BullMQ job per alert caps us near 15k alerts/s on this hardware").
// 64 concurrent producers each `queue.add` one ~600-byte alert at a time (as
// 64 single-alert connections would), one Worker (concurrency 16) completes
// them with a no-op processor; no HTTP, validation or sink. Prints one JSON line.
// Usage: node --import tsx bench/hub/bullmq-per-alert.ts REDIS_URL [ALERTS]
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { falcoAlertWithUuid } from './alerts.ts';

const [redisUrl, countArg] = [process.argv[2], process.argv[3]];
const TOTAL = Number(countArg ?? 20_000);
const PRODUCERS = 64;
const NAME = 'calibration';

const connections: Redis[] = [];
const connection = () => {
  const c = new Redis(redisUrl, { maxRetriesPerRequest: null });
  connections.push(c);
  return c;
};
const queue = new Queue(NAME, { connection: connection() });
await queue.obliterate({ force: true });

let completed = 0;
let allDone: () => void = () => undefined;
const done = new Promise<void>((resolve) => (allDone = resolve));
const worker = new Worker(NAME, async () => undefined, { connection: connection(), concurrency: 16 });
worker.on('completed', () => {
  if (++completed === TOTAL) allDone();
});
await worker.waitUntilReady();

const cpu0 = process.cpuUsage();
const start = performance.now();
let next = 0;
await Promise.all(
  Array.from({ length: PRODUCERS }, async () => {
    while (next < TOTAL) {
      const i = next++;
      await queue.add('alert', falcoAlertWithUuid(i), { removeOnComplete: true, removeOnFail: 1000 });
    }
  }),
);
await done;
const seconds = (performance.now() - start) / 1000;
const cpu = process.cpuUsage(cpu0);
process.stdout.write(`${JSON.stringify({ alerts: TOTAL, seconds, alertsPerSec: Math.round(TOTAL / seconds), cpuMsPer1k: Math.round(((cpu.user + cpu.system) / 1000 / TOTAL) * 1000 * 10) / 10 })}\n`);
await worker.close();
await queue.close();
// Connections passed in are the caller's to close (BullMQ leaves them open).
for (const c of connections) c.disconnect();
