/**
 * Upstream Falco rules on a real kernel (issue 9 acceptance): with the stable
 * falco_rules.yaml and the incubating file loaded, each rule below fires from
 * a real, harmless action done by the test, with the output_fields keys and
 * values Falco prints for that action. One probe session, many actions.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import type { Alert } from '@peregrine/alert';
import { startContainerRuntimes, type ContainerRuntimes } from '@peregrine/testkit';
import { criExec, dockerExec, fieldText, LiveHarness, runAction, type ActionMatch, type RecordedAlert } from './live-harness.ts';
import { SELF_COMM, SYSC } from './support.ts';

const FIXTURES = fileURLToPath(new URL('../../../packages/rules/test/fixtures/falco-rules/', import.meta.url));
const STABLE = join(FIXTURES, 'falco_rules.yaml');
const INCUBATING = join(FIXTURES, 'falco-incubating_rules.yaml');

let env: ContainerRuntimes;
let harness: LiveHarness;
let work: string;

/** What every action started by this process shares: its user, login uid, terminal, parent name. */
const self = {
  user: 'root',
  uid: String(process.getuid?.() ?? 0),
  loginuid: ((): string => {
    const v = Number(readFileSync('/proc/self/loginuid', 'utf8').trim());
    return String(v === 0xffffffff ? -1 : v);
  })(),
  tty: readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ')[4]!,
};

before(async () => {
  env = await startContainerRuntimes();
  harness = LiveHarness.start({
    rules: [STABLE, INCUBATING],
    containers: { dockerSockets: [env.dockerSocket], criSockets: [env.containerdSocket] },
  });
  work = realpathSync(mkdtempSync(join(tmpdir(), 'pg-upstream-')));
});

after(async () => {
  await harness?.close();
  await env?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function fired(rule: string, who: ActionMatch): Promise<RecordedAlert> {
  const hits = await harness.waitFor(rule, who);
  assert.ok(hits.length >= 1, `${rule} did not fire; ${harness.describe(who)}`);
  return hits[0]!;
}

/** The alert's output_fields hold exactly the rule's %fields and the expected values. */
function expectFields(alert: Alert, expected: Record<string, string | RegExp>): void {
  for (const [key, value] of Object.entries(expected)) {
    assert.ok(key in alert.output_fields, `${alert.rule}: output_fields has no ${key}: ${JSON.stringify(alert.output_fields)}`);
    const got = fieldText(alert, key);
    if (value instanceof RegExp) assert.match(got ?? '', value, `${alert.rule}: ${key}`);
    else assert.equal(got, value, `${alert.rule}: ${key}`);
  }
}

/** The fields every upstream rule prints about the process, for an action this test spawned directly. */
function hostProcess(name: string, exepath: string, cmdline: string, evtType: string): Record<string, string> {
  return {
    'evt.type': evtType,
    'user.name': self.user,
    'user.uid': self.uid,
    'user.loginuid': self.loginuid,
    'proc.name': name,
    'proc.exepath': exepath,
    'proc.pname': SELF_COMM,
    'proc.cmdline': cmdline,
    'proc.tty': self.tty,
  };
}

test('Read sensitive file untrusted: cat /etc/shadow', async () => {
  const run = await runAction('/usr/bin/cat', ['/etc/shadow']);
  assert.equal(run.exitCode, 0);
  const r = await fired('Read sensitive file untrusted', { pid: run.pid });
  expectFields(r.alert, { ...hostProcess('cat', '/usr/bin/cat', 'cat /etc/shadow', 'openat'), 'fd.name': '/etc/shadow' });
  assert.equal(r.alert.priority, 'Warning');
});

test('Run shell untrusted: a shell spawned by a process named nginx', async () => {
  const nginx = join(work, 'nginx');
  symlinkSync('/usr/bin/perl', nginx);
  const marker = `pg-${randomUUID()}`;
  const run = await runAction(nginx, ['-e', `system("/bin/sh", "-c", "true ${marker}")`]);
  assert.equal(run.exitCode, 0, run.stderr);
  const r = await fired('Run shell untrusted', { pid: run.pid });
  expectFields(r.alert, {
    'evt.type': 'execve',
    'user.name': self.user,
    'proc.name': 'sh',
    'proc.exepath': realpathSync('/bin/sh'),
    'proc.pname': 'nginx',
    'proc.cmdline': `sh -c true ${marker}`,
    'proc.pcmdline': `nginx -e system("/bin/sh", "-c", "true ${marker}")`,
    'proc.aname[2]': SELF_COMM,
    'proc.pexepath': '/usr/bin/perl',
    'evt.arg.flags': /^(0|EXE_\w+(\|EXE_\w+)*)$/,
  });
});

test('Terminal shell in container: docker exec -it sh', async () => {
  const c = await env.runDockerContainer({ name: `upstream-tty-${process.pid}` });
  const marker = `pg-${randomUUID()}`;
  assert.equal(await dockerExec(env, c.id, ['sh', '-c', `true ${marker}`], { tty: true }), 0);
  const r = await fired('Terminal shell in container', { containerId: c.id.slice(0, 12), marker });
  expectFields(r.alert, {
    'evt.type': 'execve',
    'user.name': 'root',
    'user.uid': '0',
    'proc.name': 'sh',
    // The busybox image's /bin/sh is a link to /bin/busybox: Falco gives the canonical path.
    'proc.exepath': '/bin/busybox',
    'proc.cmdline': `sh -c true ${marker}`,
    'proc.tty': /^[1-9]\d*$/,
  });
});

test('Terminal shell in container: a CRI container exec with a terminal', async () => {
  const pod = await env.runPod({ name: `tty-${process.pid}`, namespace: 'shop', labels: { app: 'tty' }, container: { name: 'tty' } });
  const marker = `pg-${randomUUID()}`;
  const run = await criExec(env, pod.containerId, ['sh', '-c', `true ${marker}`], { tty: true });
  assert.equal(run.exitCode, 0, run.stdout + run.stderr);
  const r = await fired('Terminal shell in container', { containerId: pod.containerId.slice(0, 12), marker });
  expectFields(r.alert, { 'proc.name': 'sh', 'proc.cmdline': `sh -c true ${marker}`, 'user.name': 'root', 'proc.tty': /^[1-9]\d*$/ });
});

test('Search Private Keys or Passwords: grep for a private key header', async () => {
  const run = await runAction('/usr/bin/grep', ['-rs', 'BEGIN RSA PRIVATE', work]);
  assert.equal(run.exitCode, 1, 'nothing found');
  const r = await fired('Search Private Keys or Passwords', { pid: run.pid });
  expectFields(r.alert, hostProcess('grep', '/usr/bin/grep', `grep -rs BEGIN RSA PRIVATE ${work}`, 'execve'));
});

test('Clear Log Activities: a log file below /var/log truncated', async () => {
  const log = `/var/log/pg-test-${randomUUID()}.log`;
  writeFileSync(log, 'line\n');
  try {
    const run = await runAction('/usr/bin/truncate', ['-s', '0', log]);
    assert.equal(run.exitCode, 0, run.stderr);
    // truncate(1) opens with O_CREAT|O_WRONLY and truncates with ftruncate; Falco's rule wants O_TRUNC on the open.
    const run2 = await runAction('/usr/bin/cp', ['/dev/null', log]);
    assert.equal(run2.exitCode, 0, run2.stderr);
    const r = await fired('Clear Log Activities', { pid: run2.pid });
    expectFields(r.alert, { ...hostProcess('cp', '/usr/bin/cp', `cp /dev/null ${log}`, 'openat'), 'fd.name': log });
  } finally {
    rmSync(log, { force: true });
  }
});

test('Directory traversal monitored file read: cat via ../../etc/passwd', async () => {
  const raw = `${work}/../../etc/passwd`;
  const run = await runAction('/usr/bin/cat', [raw]);
  assert.equal(run.exitCode, 0);
  const r = await fired('Directory traversal monitored file read', { pid: run.pid });
  expectFields(r.alert, { ...hostProcess('cat', '/usr/bin/cat', `cat ${raw}`, 'openat'), 'fd.name': '/etc/passwd', 'fd.nameraw': raw });
});

test('Create Symlink Over Sensitive Files: ln -s /etc/shadow', async () => {
  const link = join(work, 'shadow-link');
  const run = await runAction('/usr/bin/ln', ['-s', '/etc/shadow', link]);
  assert.equal(run.exitCode, 0, run.stderr);
  const r = await fired('Create Symlink Over Sensitive Files', { pid: run.pid });
  expectFields(r.alert, {
    ...hostProcess('ln', '/usr/bin/ln', `ln -s /etc/shadow ${link}`, 'symlinkat'),
    'evt.arg.target': '/etc/shadow',
    'evt.arg.linkpath': link,
  });
});

test('Execution from /dev/shm: a copy of true run from /dev/shm', async () => {
  const exe = `/dev/shm/pg-true-${process.pid}`;
  copyFileSync('/usr/bin/true', exe);
  try {
    const run = await runAction(exe, []);
    assert.equal(run.exitCode, 0, run.stderr);
    const r = await fired('Execution from /dev/shm', { pid: run.pid });
    const name = `pg-true-${process.pid}`.slice(0, 15);
    expectFields(r.alert, {
      ...hostProcess(name, exe, name, 'execve'),
      'evt.res': 'SUCCESS',
      'proc.cwd': `${process.cwd()}/`,
      'user.loginname': self.loginuid === '-1' ? '' : /.+/,
      'group.gid': String(process.getgid?.() ?? 0),
      'group.name': 'root',
      'evt.arg.flags': /EXE_WRITABLE/,
    });
  } finally {
    rmSync(exe, { force: true });
  }
});

test('Drop and execute new binary in container: a binary copied into the container and run', async () => {
  const c = await env.runDockerContainer({ name: `upstream-drop-${process.pid}` });
  const marker = `pg-${randomUUID()}`;
  // busybox picks its applet from the file name: /tmp/true is `true`.
  assert.equal(await dockerExec(env, c.id, ['sh', '-c', `cp /bin/busybox /tmp/true && /tmp/true ${marker}`]), 0);
  const r = await fired('Drop and execute new binary in container', { containerId: c.id.slice(0, 12), marker });
  expectFields(r.alert, {
    'evt.type': 'execve',
    'proc.name': 'true',
    'proc.exe': '/tmp/true',
    'proc.exepath': '/tmp/true',
    // busybox sh execs the last command of -c in place, so the parent is the runtime's: runc while
    // its exec is still running, the shim (the subreaper) once runc has exited; the kernel's parent at that moment.
    'proc.pname': /^(runc|containerd-shim)$/,
    'proc.cmdline': `true ${marker}`,
    'user.name': 'root',
    'evt.arg.flags': /EXE_UPPER_LAYER/,
    'container.start_ts': /^\d{19}$/,
    'proc.cwd': '/',
    'proc.sname': /.+/,
  });
});

test('Fileless execution via memfd_create: a binary executed from a memfd', async () => {
  const run = await runAction(SYSC, ['memfd-exec', '/usr/bin/true']);
  const r = await fired('Fileless execution via memfd_create', { pid: run.pid });
  expectFields(r.alert, {
    // The helper calls execveat(memfd, "", AT_EMPTY_PATH), yet Falco prints `execve`: on x86_64 a
    // successful exec rewrites orig_ax to __NR_execve (set_personality_64bit), and Falco's modern
    // probe builds every successful exec's exit event from sched_process_exec as an execve exit
    // (falcosecurity/libs: driver/modern_bpf/.../sched_process_exec.bpf.c; libsinsp parsers.cpp pairs
    // an execveat enter with an execve exit; the driver test sched_proc_exec_execveat_memfd expects
    // __NR_execve). Only a failed execveat is an `execveat` event, in Falco and here.
    'evt.type': 'execve',
    'evt.res': 'SUCCESS',
    'user.name': 'root',
    'proc.pname': SELF_COMM,
    'evt.arg.flags': /EXE_FROM_MEMFD/,
  });
});

test('Set Setuid or Setgid bit (incubating): chmod u+s on a temp file', async () => {
  const file = join(work, `setuid-${randomUUID()}`);
  writeFileSync(file, '', { mode: 0o644 });
  chmodSync(file, 0o644); // whatever the umask did
  const run = await runAction('/usr/bin/chmod', ['u+s', file]);
  assert.equal(run.exitCode, 0, run.stderr);
  const r = await fired('Set Setuid or Setgid bit', { pid: run.pid });
  // The condition is `evt.arg.mode contains "S_ISUID"`: PT_MODE renders as the bit names, in
  // libsinsp's chmod_mode order, with no octal prefix (that form is evt.args', not evt.arg.mode's).
  expectFields(r.alert, {
    'evt.type': /^(chmod|fchmodat|fchmod)$/,
    'evt.arg.mode': 'S_IROTH|S_IRGRP|S_IWUSR|S_IRUSR|S_ISUID',
    'user.name': self.user,
    'user.uid': self.uid,
    'user.loginuid': self.loginuid,
    'proc.name': 'chmod',
    'proc.exepath': '/usr/bin/chmod',
    'proc.pname': SELF_COMM,
    'proc.cmdline': `chmod u+s ${file}`,
    'proc.tty': self.tty,
  });
  // fchmodat/chmod name the file; fchmod names the fd instead (Falco prints <NA> for the missing one).
  if (r.alert.output_fields['evt.type'] !== 'fchmod') assert.equal(fieldText(r.alert, 'evt.arg.filename'), file);
  assert.equal(r.alert.priority, 'Notice');
});

test('more upstream rules: Schedule Cron Jobs, Modify Shell Configuration File, Delete or rename shell history', async () => {
  const cron = `/etc/cron.pg-test-${randomUUID()}`;
  try {
    const run = await runAction('/usr/bin/touch', [cron]);
    assert.equal(run.exitCode, 0, run.stderr);
    const r = await fired('Schedule Cron Jobs', { pid: run.pid });
    expectFields(r.alert, { ...hostProcess('touch', '/usr/bin/touch', `touch ${cron}`, 'openat'), 'fd.name': cron });
  } finally {
    rmSync(cron, { force: true });
  }
  const bashrc = join(work, '.bashrc');
  const touch = await runAction('/usr/bin/touch', [bashrc]);
  const rc = await fired('Modify Shell Configuration File', { pid: touch.pid });
  expectFields(rc.alert, { ...hostProcess('touch', '/usr/bin/touch', `touch ${bashrc}`, 'openat'), 'fd.name': bashrc, 'proc.pcmdline': new RegExp(`^${SELF_COMM} `) });
  const history = join(work, '.bash_history');
  writeFileSync(history, 'ls\n');
  const rm = await runAction('/usr/bin/rm', [history]);
  assert.equal(rm.exitCode, 0);
  const h = await fired('Delete or rename shell history', { pid: rm.pid });
  expectFields(h.alert, { ...hostProcess('rm', '/usr/bin/rm', `rm ${history}`, 'unlinkat'), 'evt.arg.name': history });
});
