// Baseline for bench/hub: plain Fastify that parses the same bodies and
// answers 202 with no validation, no Redis and no delivery. The hub's figures
// are reported as a ratio of this, measured in the same run.
import Fastify from 'fastify';

const port = Number(process.argv[2]);
const app = Fastify({ bodyLimit: 10 * 1024 * 1024 });
app.post('/', async (request, reply) => reply.code(202).send({ uuid: (request.body as { uuid?: string }).uuid ?? '' }));
app.post('/v1/alerts', async (request, reply) => reply.code(202).send({ accepted: (request.body as unknown[]).length }));
await app.listen({ host: '127.0.0.1', port });
process.stdout.write('ready\n');
