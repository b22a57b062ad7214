// Profiling aid for bench/destinations (not a phase of it): one sink, no hub, no Redis, delivering
// pre-encoded alerts in hub-sized batches straight to the real server, to split "through the
// hub" into the sink client's CPU, the server's CPU and what is left for the hub.
// node --import tsx bench/destinations/sink-direct.ts <kafka|opensearch|webhook> [alerts] [batch] [concurrency]
// (add --cpu-prof after `node` for a profile of the client side).
import { cpuUsage } from 'node:process';
import { encodeAlert, createSink, decodeAlert } from '@peregrine/sinks';
import type { Sink } from '@peregrine/sinks';
import type { Alert } from '@peregrine/alert';
import pino from 'pino';
import { freeLoopbackPort, startTestKafka, startTestOpenSearch } from '@peregrine/testkit';
import { falcoAlertWithUuid } from '../hub/alerts.ts';
import { cpuMs, startServer, stop } from '../hub/processes.ts';
import { kafkaTopicCounter, openSearchCounter, receiverCounter } from './counters.ts';
import type { DeliveryCounter } from './counters.ts';
import { fileURLToPath } from 'node:url';

const [kind = 'kafka', alertsArg = '50000', batchArg = '500', concurrencyArg = '8'] = process.argv.slice(2);
const total = Number(alertsArg);
const batchSize = Number(batchArg);
const concurrency = Number(concurrencyArg);
const logger = pino({ level: 'warn' });
const encoded = Array.from({ length: total }, (_, i) => encodeAlert(decodeAlert(JSON.stringify(falcoAlertWithUuid(i + 1)))));
const batches: string[][] = [];
for (let i = 0; i < total; i += batchSize) batches.push(encoded.slice(i, i + batchSize));

let sink: Sink;
let counter: DeliveryCounter;
let serverPid: number;
let stopServer: () => Promise<void>;
let openSearchUrl = '';
if (kind === 'kafka') {
  const kafka = await startTestKafka({ jvmTuning: 'throughput' });
  counter = await kafkaTopicCounter(kafka.brokers, 'direct', 3);
  sink = createSink('kafka', { brokers: kafka.brokers, topic: 'direct', timeoutMs: 30_000 }, { logger }, 'direct');
  serverPid = kafka.pid;
  stopServer = () => kafka.stop();
} else if (kind === 'opensearch') {
  const node = await startTestOpenSearch({ jvmTuning: 'throughput' });
  counter = openSearchCounter(node.url, 'direct');
  sink = createSink('opensearch', { url: node.url, index: 'direct', numberOfShards: 1, numberOfReplicas: 0, timeoutMs: 30_000 }, { logger }, 'direct');
  serverPid = node.pid;
  openSearchUrl = node.url;
  stopServer = () => node.stop();
} else {
  const port = await freeLoopbackPort();
  const receiver = await startServer(fileURLToPath(new URL('./receiver-server.ts', import.meta.url)), [String(port)]);
  counter = receiverCounter(`http://127.0.0.1:${port}`);
  sink = createSink('webhook', { address: `http://127.0.0.1:${port}/in`, batchAsArray: true }, { logger }, 'direct');
  serverPid = receiver.pid ?? 0;
  stopServer = () => stop(receiver);
}

/** What the hub hands the sink: the queued text when the sink takes it, else the decoded alerts. */
const deliverOne = async (batch: string[], attempts = 1) => {
  for (let attempt = 1; ; attempt++) {
    const ctx = { signal: AbortSignal.timeout(30_000) };
    const r = sink.deliverEncoded ? await sink.deliverEncoded(batch, ctx) : await sink.deliver(batch.map(decodeAlert) as Alert[], ctx);
    if (r.kind === 'delivered') return;
    if (r.kind === 'permanent' || attempt >= attempts) throw new Error(JSON.stringify(r));
  }
};
// Warm-up: the connection, the index template, JIT (a cold server on a busy machine may need a retry, as the hub would do).
for (const b of batches.slice(0, 4)) await deliverOne(b, 5);
// Experiment knob: OpenSearch's refresh interval for the measured part (SINK_DIRECT_REFRESH=30s; default 1s).
if (kind === 'opensearch' && process.env.SINK_DIRECT_REFRESH !== undefined) {
  const answer = await fetch(`${openSearchUrl}/direct-*/_settings`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ index: { refresh_interval: process.env.SINK_DIRECT_REFRESH } }) });
  if (!answer.ok) throw new Error(`refresh_interval: ${answer.status} ${await answer.text()}`);
}
const rest = batches.slice(4);
const alerts = rest.reduce((n, b) => n + b.length, 0);
const client0 = cpuUsage();
const server0 = cpuMs(serverPid);
const start = performance.now();
let next = 0;
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < rest.length) await deliverOne(rest[next++]);
  }),
);
const seconds = (performance.now() - start) / 1000;
const client = cpuUsage(client0);
const serverMs = cpuMs(serverPid) - server0;
const perK = (ms: number) => ((ms / alerts) * 1000).toFixed(1);
console.log(
  `${kind} direct: ${Math.round(alerts / seconds)} alerts/s (batch ${batchSize}, concurrency ${concurrency}); CPU ms per 1000: client ${perK((client.user + client.system) / 1000)}, server ${perK(serverMs)}; server holds ${await counter.finalCount()} of ${total}`,
);
await sink.close();
await counter.close();
await stopServer();
