// scripts/kube-cluster.mjs from the shell: `up --api-only --detach --json` returns once the API
// server answers, with a kubeconfig that works; `status` describes it; `down` stops everything.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const script = join(repoRoot, 'scripts', 'kube-cluster.mjs');

function alive(pid: number): boolean {
  try {
    readlinkSync(`/proc/${pid}/exe`);
    return true;
  } catch {
    return false;
  }
}

test('up --api-only --detach, status, a working kubeconfig, then down stops every process', { timeout: 1_800_000 }, async () => {
  const up = await run(process.execPath, [script, 'up', '--api-only', '--detach', '--json'], { cwd: repoRoot, maxBuffer: 1 << 24 });
  const state = JSON.parse(up.stdout.trim().split('\n').find((l) => l.startsWith('{'))!) as { pid: number; mode: string; kubeconfig: string; processes: Array<{ name: string; pid: number }> };
  try {
    assert.equal(state.mode, 'api');
    assert.deepEqual(state.processes.map((p) => p.name).sort(), ['etcd', 'kube-apiserver']);
    assert.ok(existsSync(state.kubeconfig));
    const status = await run(process.execPath, [script, 'status'], { cwd: repoRoot });
    assert.equal((JSON.parse(status.stdout) as { pid: number }).pid, state.pid);
    const config = new KubeConfig();
    config.loadFromFile(state.kubeconfig);
    const namespaces = await config.makeApiClient(CoreV1Api).listNamespace();
    assert.ok(namespaces.items.some((n) => n.metadata?.name === 'default'));
    await assert.rejects(run(process.execPath, [script, 'up', '--api-only'], { cwd: repoRoot }), /already running/);
  } finally {
    await run(process.execPath, [script, 'down'], { cwd: repoRoot });
  }
  assert.equal(alive(state.pid), false, 'the cluster process ended');
  for (const proc of state.processes) assert.equal(alive(proc.pid), false, `${proc.name} stopped`);
  assert.equal(existsSync(state.kubeconfig), false);
  await assert.rejects(run(process.execPath, [script, 'status'], { cwd: repoRoot }), /no cluster is running/);
});
