// A floor for bench/hub, not a product: the least a durable pipeline can do on
// this machine with the hub's HTTP stack. Fastify ingest, alerts appended to
// one Redis list per group of concurrent requests (RPUSH, 202 after Redis
// acknowledged), one consumer taking up to 500 at a time (BLMPOP) and posting
// them as one JSON array. No validation, routing, retries, per-destination
// queues, dead-letter or metrics. The gap between it and the hub is what
// BullMQ and the hub's own work cost per alert.
import { request, Agent } from 'node:http';
import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import { Redis } from 'ioredis';

const [port, redisUrl, receiverUrl] = [Number(process.argv[2]), process.argv[3], process.argv[4]];
const LIST = 'floor:alerts';
const producer = new Redis(redisUrl);
const consumer = new Redis(redisUrl);
const agent = new Agent({ keepAlive: true });

let pending: string[] = [];
let answers: Array<() => void> = [];
let writing = false;
function flush(): void {
  if (writing || pending.length === 0) return;
  writing = true;
  const batch = pending;
  const done = answers;
  pending = [];
  answers = [];
  void producer.rpush(LIST, ...batch).then(() => {
    for (const answer of done) answer();
    writing = false;
    if (pending.length > 0) setImmediate(flush);
  });
}

function accept(values: Array<Record<string, unknown>>, answer: () => void): void {
  for (const a of values) {
    a.uuid ??= randomUUID();
    pending.push(JSON.stringify(a));
  }
  answers.push(answer);
  setImmediate(flush);
}

const app = Fastify({ bodyLimit: 10 * 1024 * 1024 });
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
app.post('/', (req, reply) => {
  const alert = JSON.parse(req.body as string) as Record<string, unknown>;
  accept([alert], () => void reply.code(202).send({ uuid: alert.uuid }));
});
app.post('/v1/alerts', (req, reply) => {
  const alerts = JSON.parse(req.body as string) as Array<Record<string, unknown>>;
  accept(alerts, () => void reply.code(202).send({ accepted: alerts.length }));
});

async function deliverForever(): Promise<void> {
  for (;;) {
    const popped = (await consumer.blmpop(1, 1, LIST, 'LEFT', 'COUNT', 500)) as [string, string[]] | null;
    if (popped === null) continue;
    const body = `[${popped[1].join(',')}]`;
    await new Promise<void>((resolve) => {
      const req = request(receiverUrl, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', () => resolve());
      req.end(body);
    });
  }
}

await app.listen({ host: '127.0.0.1', port });
void deliverForever();
process.stdout.write('ready\n');
