#!/usr/bin/env node
// The tests' Kubernetes cluster, from the shell (the same code as test/support's
// startTestKubeNode / startTestKubeApi; see ../shared/reference/kubernetes-here.md):
//   node scripts/kube-cluster.mjs up [--api-only] [--detach] [--json]
//       starts it (first run on a machine: builds the binaries, minutes), prints the admin
//       kubeconfig path, and runs until Ctrl-C / SIGTERM / `down`; with --detach it returns once
//       the cluster is ready and the cluster keeps running in the background.
//       Full mode (default) = etcd + kube-apiserver + kube-controller-manager + kube-scheduler +
//       kubelet on containerd: it holds the machine's containers lock until it stops.
//   node scripts/kube-cluster.mjs down      stops the running cluster and cleans up
//   node scripts/kube-cluster.mjs status    prints the running cluster's description (JSON)
//   node scripts/kube-cluster.mjs build     only builds the binaries (into .cache/kube/)
// Busybox image for pods (imagePullPolicy: Never): docker.io/local/busybox:test.
import { spawn } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { register } from 'tsx/esm/api';

register();
const { startTestKubeApi, startTestKubeNode, prepareKubeBinaries, KUBE_RUN_DIR } = await import('../test/support/index.ts');

const usage = 'usage: node scripts/kube-cluster.mjs up [--api-only] [--detach] [--json] | down | status | build';
const stateFile = join(KUBE_RUN_DIR, 'cluster.json');
const stableKubeconfig = join(KUBE_RUN_DIR, 'admin.kubeconfig');
const log = (line) => console.error(`[kube-cluster] ${line}`);
const fail = (message, code = 2) => {
  console.error(`kube-cluster: ${message}\n${usage}`);
  process.exit(code);
};
const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
};
const readState = () => {
  try {
    return JSON.parse(readFileSync(stateFile, 'utf8'));
  } catch {
    return undefined;
  }
};

const [command, ...rest] = process.argv.slice(2);
const flags = new Set(rest);
for (const flag of flags) if (!['--api-only', '--detach', '--json'].includes(flag)) fail(`unknown option ${JSON.stringify(flag)}`);

if (command === 'build') {
  const started = performance.now();
  const binaries = await prepareKubeBinaries();
  log(`binaries in ${binaries.dir} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
} else if (command === 'status') {
  const state = readState();
  if (!state || !alive(state.pid)) fail('no cluster is running', 1);
  console.log(JSON.stringify(state));
} else if (command === 'down') {
  const state = readState();
  if (!state) {
    log('no cluster is running');
    process.exit(0);
  }
  if (alive(state.pid)) {
    process.kill(state.pid, 'SIGTERM');
    const deadline = Date.now() + 180_000;
    while (alive(state.pid)) {
      if (Date.now() > deadline) fail(`the cluster process ${state.pid} did not stop within 180 s (log ${state.logFile ?? 'stderr'})`, 1);
      await new Promise((r) => setTimeout(r, 200));
    }
    log('stopped');
  } else {
    // Its processes and host state are reaped by the next start (they are recorded under KUBE_RUN_DIR).
    log(`the cluster's process ${state.pid} is gone without cleaning up; the next \`up\` (or test start) cleans up after it`);
    rmSync(stateFile, { force: true });
  }
} else if (command === 'up') {
  const previous = readState();
  if (previous && alive(previous.pid)) fail(`a cluster is already running (pid ${previous.pid}, kubeconfig ${previous.kubeconfig}); run \`down\` first`, 1);
  if (flags.has('--detach')) {
    mkdirSync(KUBE_RUN_DIR, { recursive: true });
    const logFile = join(KUBE_RUN_DIR, 'cluster.log');
    const fd = openSync(logFile, 'w');
    const args = [process.argv[1], 'up', '--json', ...(flags.has('--api-only') ? ['--api-only'] : [])];
    const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', 'pipe', fd] });
    closeSync(fd);
    const line = await new Promise((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk) => {
        out += chunk.toString();
        const json = out.split('\n').find((l) => l.startsWith('{'));
        if (json) resolve(json);
      });
      child.once('exit', (code) => reject(new Error(`the cluster process exited (${code}) before it was ready; log ${logFile}:\n${existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-4000) : ''}`)));
    }).catch((error) => fail(error.message, 1));
    child.stdout.destroy();
    child.unref();
    const state = JSON.parse(line);
    if (flags.has('--json')) console.log(line);
    else console.log(state.kubeconfig);
    log(`running in the background (pid ${state.pid}, log ${logFile}); stop it with: node scripts/kube-cluster.mjs down`);
    process.exit(0);
  }
  const started = performance.now();
  let cluster;
  try {
    cluster = flags.has('--api-only') ? await startTestKubeApi() : await startTestKubeNode();
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error), 1);
  }
  let stopping = false;
  const stop = async (code) => {
    if (stopping) return;
    stopping = true;
    log('stopping');
    let exitCode = code;
    try {
      await cluster.stop();
    } catch (error) {
      log(error instanceof Error ? error.message : String(error));
      exitCode = 1;
    }
    rmSync(stateFile, { force: true });
    rmSync(stableKubeconfig, { force: true });
    log('stopped');
    process.exit(exitCode);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  copyFileSync(cluster.adminKubeconfig, stableKubeconfig);
  const mib = Object.fromEntries(Object.entries(cluster.residentBytes()).map(([name, bytes]) => [name, Math.round(bytes / 1048576)]));
  const state = {
    pid: process.pid,
    mode: cluster.mode,
    server: cluster.server,
    kubeconfig: stableKubeconfig,
    caFile: cluster.caFile,
    ...(cluster.mode === 'node' ? { node: cluster.nodeName, nodeIp: cluster.nodeIp, containerdSocket: cluster.runtimes.containerdSocket, images: cluster.images } : {}),
    processes: cluster.processes,
    startupMs: cluster.startup,
    residentMiB: mib,
  };
  writeFileSync(stateFile, `${JSON.stringify(state, null, 2)}\n`);
  log(`${cluster.mode === 'node' ? 'one-node cluster' : 'API server'} ready in ${((performance.now() - started) / 1000).toFixed(1)} s at ${cluster.server}; RSS MiB ${JSON.stringify(mib)}`);
  if (flags.has('--json')) console.log(JSON.stringify(state));
  else console.log(stableKubeconfig);
  log('Ctrl-C (or `node scripts/kube-cluster.mjs down`) stops it');
  setInterval(() => undefined, 1 << 30);
} else {
  fail(command ? `unknown command ${JSON.stringify(command)}` : 'name a command');
}
