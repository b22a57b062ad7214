/**
 * The README's first command, `npm start` (bootstrap, then `peregrine run`), as a
 * user runs it in a terminal: hub + embedded Redis + sensor with the default
 * rules. `cat /etc/shadow` raises an alert on its stdout and in the JSONL file,
 * and reaches the hub; Ctrl-C (SIGINT to the whole foreground process group:
 * npm, its shell and node) stops it, leaving none of its BPF programs or links
 * and no redis-server.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freeLoopbackPort } from '@peregrine/testkit';
import { waitFor } from './sensor-support.ts';

const PEREGRINE = fileURLToPath(new URL('../../cli/bin/peregrine.js', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** BPF program and link ids a process holds, from its fds' fdinfo. */
function bpfIdsOf(pid: number): { progs: number[]; links: number[] } {
  const progs = new Set<number>();
  const links = new Set<number>();
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    let info = '';
    try {
      info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue;
    }
    const link = /^link_id:\s*(\d+)$/m.exec(info);
    if (link) links.add(Number(link[1]));
    else {
      const prog = /^prog_id:\s*(\d+)$/m.exec(info);
      if (prog) progs.add(Number(prog[1]));
    }
  }
  return { progs: [...progs], links: [...links] };
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z /.test(stat);
  } catch {
    return false;
  }
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    out.push(...readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
  }
  return out;
}

test('npm start: cat /etc/shadow alerts on stdout, in the JSONL file and at the hub; Ctrl-C leaves nothing behind', { timeout: 240_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pg-run-'));
  const hubPort = await freeLoopbackPort();
  // Its own process group, as a terminal's foreground job: Ctrl-C signals the group.
  const child = spawn('npm', ['start', '--', '--dir', dir, '--hub-port', String(hubPort), '--metrics-port', '0'], {
    cwd: REPO_ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SLACK_WEBHOOK_URL: '' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  let runPid = 0;
  let hubPid = 0;
  let redisPids: number[] = [];
  try {
    await waitFor(() => stderr.includes('Ctrl-C stops both') || child.exitCode !== null, 'start-up banner', 120_000);
    assert.equal(child.exitCode, null, stderr);
    // What it started and where things are.
    assert.match(stderr, new RegExp(`hub {6}pid \\d+, http://127\\.0\\.0\\.1:${hubPort}`));
    assert.ok(stderr.includes(`alerts   on stdout and in ${join(dir, 'alerts.jsonl')}`), stderr);
    assert.ok(stderr.includes(join(dir, 'hub.log')) && stderr.includes(join(dir, 'sensor.log')), 'log locations');
    assert.match(stderr, /SLACK_WEBHOOK_URL=/);
    hubPid = Number(/hub {6}pid (\d+)/.exec(stderr)![1]);
    runPid = Number(/sensor {3}pid (\d+)/.exec(stderr)![1]);
    assert.match(readFileSync(`/proc/${runPid}/cmdline`, 'utf8'), /peregrine\.js\0run\0/, 'the sensor runs in the peregrine run process npm started');
    redisPids = childrenOf(hubPid).filter((p) => readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'redis-server');
    assert.equal(redisPids.length, 1, 'the hub runs its embedded redis-server');
    const ours = bpfIdsOf(runPid);
    assert.ok(ours.progs.length > 0 && ours.links.length > 0, 'the sensor holds its BPF programs and links');
    for (const id of ours.progs) assert.match(spawnSync('bpftool', ['prog', 'show', 'id', String(id)], { encoding: 'utf8' }).stdout, /name pg_/);
    // The hub listens on loopback only.
    assert.match(readFileSync(join(dir, 'hub.yaml'), 'utf8'), /host: "127\.0\.0\.1"/);

    assert.equal(spawnSync('cat', ['/etc/shadow'], { stdio: 'ignore' }).status, 0);
    await waitFor(() => /Warning Sensitive file opened for reading .*command=cat \/etc\/shadow/.test(stdout), `alert on stdout:\n${stdout}`);
    const fileAlert = (): { rule: string; output_fields: Record<string, unknown> } | undefined => {
      const path = join(dir, 'alerts.jsonl');
      if (!existsSync(path)) return undefined;
      return readFileSync(path, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { rule: string; output_fields: Record<string, unknown> })
        .find((a) => a.rule === 'Read Sensitive File' && a.output_fields['proc.cmdline'] === 'cat /etc/shadow');
    };
    await waitFor(() => fileAlert() !== undefined, 'alert in the JSONL file');
    assert.equal(fileAlert()!.output_fields['fd.name'], '/etc/shadow');
    // Each alert is printed once: the hub has no stdout destination.
    assert.equal(stdout.split('\n').filter((l) => l.includes('command=cat /etc/shadow')).length, 1);
    let received = 0;
    await waitFor(() => {
      void fetch(`http://127.0.0.1:${hubPort}/metrics`)
        .then((r) => r.text())
        .then((t) => {
          const m = /^peregrine_hub_alerts_received_total\{[^}]*\} (\d+)/m.exec(t);
          received = m ? Number(m[1]) : 0;
        })
        .catch(() => {});
      return received >= 1;
    }, 'the hub received the alert');

    process.kill(-child.pid!, 'SIGINT');
    // npm waits for its script and then ends as the script's job did: by SIGINT (a shell shows ^C).
    const ended = await exit;
    assert.ok(ended.code === 0 || ended.signal === 'SIGINT' || ended.code === 130, `npm ended with ${JSON.stringify(ended)}:\n${stderr}`);
    await waitFor(() => !alive(runPid), 'peregrine run gone', 30_000);
    assert.match(stderr, /peregrine run: stopped/);
    // The kernel frees a program after its last fd closes and an RCU grace period
    // (deferred work): right after exit it may still be listed for a moment, so
    // wait a bounded time; a leftover held by anything stays and fails this.
    const stillThere = () => [
      ...ours.progs.filter((id) => /name pg_/.test(spawnSync('bpftool', ['prog', 'show', 'id', String(id)], { encoding: 'utf8' }).stdout)).map((id) => `BPF program ${id}`),
      ...ours.links.filter((id) => spawnSync('bpftool', ['link', 'show', 'id', String(id)]).status === 0).map((id) => `BPF link ${id}`),
    ];
    await waitFor(() => stillThere().length === 0, 'every BPF program and link of the sensor gone', 20_000).catch(() => {
      assert.deepEqual(stillThere(), [], 'left behind after exit');
    });
    await waitFor(() => !alive(hubPid) && redisPids.every((p) => !alive(p)), 'hub and redis-server gone', 30_000);
  } finally {
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
    for (const p of [runPid, hubPid, ...redisPids]) if (p > 0 && alive(p)) process.kill(p, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('peregrine run without root: says what is missing, exit 1, starts nothing', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'pg-run-nobody-')), 'run');
  try {
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', process.execPath, PEREGRINE, 'run', '--dir', dir], {
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, HOME: tmpdir() },
    });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^peregrine run: the eBPF probe cannot start:\n {2}- missing CAP_BPF and CAP_PERFMON \(euid 65534\): run as root/);
    assert.equal(existsSync(dir), false, 'no run folder, no hub');
  } finally {
    rmSync(join(dir, '..'), { recursive: true, force: true });
  }
});
