// Sinks hot path (queue → sink batches). Two comparisons, each against its
// baseline in the same run:
//  1. templates: render a compiled template vs compile-and-render per alert
//     (what a naive engine that re-parses would cost);
//  2. webhook delivery to a loopback receiver: one request per alert (the
//     default, Falcosidekick's behaviour) vs batchAsArray with batches of 100.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import type { Alert } from '@peregrine/alert';
import { compileTemplate, createSink } from '@peregrine/sinks';
import pino from 'pino';

const alert: Alert = {
  uuid: '5b0a7f0e-8d8e-4d0c-9a51-2b1f6c1d2e3f',
  hostname: 'ip-10-0-12-34',
  output: '06:13:20.123456789: Warning Sensitive file opened for reading by non-trusted program (file=/etc/shadow user=root process=cat)',
  output_fields: { 'fd.name': '/etc/shadow', 'k8s.pod.name': 'web-7d4b9c6f5-x2k8q', 'k8s.ns.name': 'shop', 'proc.name': 'cat', 'proc.tty': 34816, 'user.name': 'root' },
  priority: 'Warning',
  rule: 'Read sensitive file untrusted',
  source: 'syscall',
  tags: ['T1555', 'container', 'filesystem', 'host', 'maturity_stable', 'mitre_credential_access'],
  time: '2024-06-10T06:13:20.123456789Z',
};

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const spread = (xs: number[]): string => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;

async function rate(runs: number, n: number, body: () => Promise<void> | void): Promise<number[]> {
  const rates: number[] = [];
  for (let r = 0; r < runs; r++) {
    const start = process.hrtime.bigint();
    await body();
    const ns = Number(process.hrtime.bigint() - start);
    rates.push(n / (ns / 1e9));
  }
  return rates;
}

console.log(`node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, ${os.platform()} ${os.release()}`);

// 1. Templates
const source = '{"text": "{{ rule }} on {{ hostname }}", "pod": {{ output_fields["k8s.pod.name"] | json }}, "tags": {{ tags | json }}, "ns": "{{ output_fields["k8s.ns.name"] | default "-" }}"}';
const compiled = compileTemplate(source, { escape: 'json' });
const N_T = 50_000;
let sink = 0;
compiled(alert); // warm-up
const tCompiled = await rate(5, N_T, () => {
  for (let i = 0; i < N_T; i++) sink += compiled(alert).length;
});
const tNaive = await rate(5, N_T / 10, () => {
  for (let i = 0; i < N_T / 10; i++) sink += compileTemplate(source, { escape: 'json' })(alert).length;
});
console.log(`template render, compiled once: ${median(tCompiled).toFixed(0)} renders/s (runs ${spread(tCompiled)})`);
console.log(`template compile+render per alert (baseline): ${median(tNaive).toFixed(0)} renders/s (runs ${spread(tNaive)})`);
console.log(`ratio compiled/baseline: ${(median(tCompiled) / median(tNaive)).toFixed(1)}×`);

// 2. Webhook to a loopback receiver
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => res.end('ok'));
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
const deps = { logger: pino({ level: 'silent' }) };
const perAlert = createSink('webhook', { address: url }, deps);
const batched = createSink('webhook', { address: url, batchAsArray: true }, deps);
const BATCH = 100;
const N_W = 2_000;
const batch = Array.from({ length: BATCH }, (_, i) => ({ ...alert, uuid: `${alert.uuid}-${i}` }));
const ctx = { signal: new AbortController().signal };
const deliverAll = (s: typeof perAlert) => async () => {
  for (let i = 0; i < N_W / BATCH; i++) {
    const r = await s.deliver(batch, ctx);
    if (r.kind !== 'delivered') throw new Error(JSON.stringify(r));
  }
};
await deliverAll(perAlert)(); // warm-up (connections, JIT)
const wPer = await rate(3, N_W, deliverAll(perAlert));
const wBatch = await rate(3, N_W, deliverAll(batched));
console.log(`webhook, one request per alert (baseline): ${median(wPer).toFixed(0)} alerts/s (runs ${spread(wPer)})`);
console.log(`webhook, batchAsArray (${BATCH}/request): ${median(wBatch).toFixed(0)} alerts/s (runs ${spread(wBatch)})`);
console.log(`ratio batched/per-alert: ${(median(wBatch) / median(wPer)).toFixed(1)}×`);
await perAlert.close();
await batched.close();
server.close();
if (sink < 0) console.log(sink);
