#!/usr/bin/env node
// Starts any subset of the real test servers on 127.0.0.1 and says where each listens:
//   node scripts/test-servers.mjs kafka opensearch lambda redis-cluster   (or: all)
// They run until Ctrl-C / SIGTERM, then stop cleanly. Logs: .cache/logs/.
//   --prepare                  only download/build what they need (jars, classes, the emulator), then exit
//   --json                     once ready, print one JSON line {name: {address, pids, logFiles}} too
//   --lambda-handler <module>  the Lambda handler module (export `handler`); default echoes the event
//   --throughput               JVMs tuned as in production (C2, G1) instead of for a quick start: for benchmarks
// The first run downloads from Maven Central and the Go proxy (minutes); later runs reuse
// .cache/servers and start in seconds. The tests start their own servers with the same code
// (test/support: startTestKafka, startTestOpenSearch, startTestLambda, startTestRedisCluster).
import { register } from 'tsx/esm/api';

register();
const { testServerNames, isTestServerName, prepareTestServer, startTestServer } = await import('../test/support/test-servers.ts');

const usage = `usage: node scripts/test-servers.mjs [--prepare] [--json] [--throughput] [--lambda-handler <module>] <${testServerNames.join('|')}|all>...`;
const args = process.argv.slice(2);
const names = [];
let prepareOnly = false;
let json = false;
let lambdaHandler;
let jvmTuning = 'fast-start';
for (let i = 0; i < args.length; i += 1) {
  const arg = args[i];
  if (arg === '--prepare') prepareOnly = true;
  else if (arg === '--json') json = true;
  else if (arg === '--throughput') jvmTuning = 'throughput';
  else if (arg === '--lambda-handler') {
    lambdaHandler = args[++i];
    if (!lambdaHandler) fail('--lambda-handler needs a module path');
  } else if (arg === '-h' || arg === '--help') {
    console.log(usage);
    process.exit(0);
  } else if (arg === 'all') names.push(...testServerNames);
  else if (isTestServerName(arg)) names.push(arg);
  else fail(`unknown server or option ${JSON.stringify(arg)}; servers: ${testServerNames.join(', ')}`);
}
if (names.length === 0) fail('name at least one server');
const wanted = [...new Set(names)];

function fail(message) {
  console.error(`test-servers: ${message}\n${usage}`);
  process.exit(2);
}

const seconds = (since) => `${((performance.now() - since) / 1000).toFixed(1)} s`;
const log = (line) => console.error(`[test-servers] ${line}`);

// Builds one after another: two Maven downloads at once gain nothing on 2 cores.
for (const name of wanted) {
  const started = performance.now();
  try {
    await prepareTestServer(name);
  } catch (error) {
    log(`${name}: preparing failed: ${error instanceof Error ? error.message : error}`);
    process.exit(1);
  }
  log(`${name}: prepared in ${seconds(started)}`);
}
if (prepareOnly) process.exit(0);

const running = [];
let stopping = false;
async function stopAll(code) {
  if (stopping) return;
  stopping = true;
  log('stopping');
  await Promise.allSettled(running.map((server) => server.stop()));
  process.exit(code);
}
process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

const results = await Promise.allSettled(
  wanted.map(async (name) => {
    const started = performance.now();
    const server = await startTestServer(name, { lambdaHandler, jvmTuning });
    running.push(server);
    const mib = (server.residentBytes() / 1048576).toFixed(0);
    console.log(`${name.padEnd(14)} ${server.address}   (ready in ${seconds(started)} using ${server.cpuSeconds().toFixed(1)} s CPU, pid ${server.pids.join(',')}, ${mib} MiB RSS, log ${server.logFiles.join(' ')})`);
    return server;
  }),
);
const failures = results.filter((r) => r.status === 'rejected');
if (failures.length > 0) {
  for (const failure of failures) log(String(failure.reason instanceof Error ? failure.reason.message : failure.reason));
  await stopAll(1);
}
if (json) {
  const description = Object.fromEntries(running.map((s) => [s.name, { address: s.address, pids: s.pids, logFiles: s.logFiles }]));
  console.log(JSON.stringify(description));
}
log('all ready; Ctrl-C stops them');
// The servers do not keep this process alive by themselves (see spawnServer): wait for a signal.
setInterval(() => undefined, 1 << 30);
