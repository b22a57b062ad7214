// `npm run -w apps/responder serve`: the HTTP form, configured from the environment like the
// Lambda (PEREGRINE_RESPONDER_POLICY(_FILE), PEREGRINE_KUBE_* or KUBECONFIG or in-cluster), plus
// PEREGRINE_RESPONDER_HOST (default 127.0.0.1), PEREGRINE_RESPONDER_PORT (default 2804) and
// PEREGRINE_RESPONDER_TOKEN (bearer token the callers must send; required off loopback).
import { environmentResponder } from './handler.ts';
import { createResponderHttpServer } from './http.ts';

const host = process.env.PEREGRINE_RESPONDER_HOST || '127.0.0.1';
const port = Number(process.env.PEREGRINE_RESPONDER_PORT || 2804);
const token = process.env.PEREGRINE_RESPONDER_TOKEN || undefined;
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`PEREGRINE_RESPONDER_PORT must be a port number, got "${process.env.PEREGRINE_RESPONDER_PORT}"`);
  process.exit(2);
}
if (token === undefined && !['127.0.0.1', '::1', 'localhost'].includes(host)) {
  console.error(`PEREGRINE_RESPONDER_HOST=${host} is not loopback: set PEREGRINE_RESPONDER_TOKEN too (this endpoint deletes pods)`);
  process.exit(2);
}
let responder;
try {
  responder = environmentResponder();
} catch (e) {
  console.error((e as Error).message);
  process.exit(2);
}
const server = createResponderHttpServer({ responder, token });
server.listen(port, host, () => {
  const address = server.address();
  const bound = typeof address === 'object' && address !== null ? address.port : port;
  console.log(JSON.stringify({ service: 'peregrine-responder', msg: 'listening', url: `http://${host}:${bound}/` }));
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
