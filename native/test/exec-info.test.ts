/**
 * Real kernel: what the exec record says about the new image beyond its
 * name and arguments (layout v2): Falco's exe flags (writable by the
 * process, overlayfs upper/lower layer, memfd), the permitted and inheritable
 * capability sets, and the cgroup path container runtimes leave on hybrid
 * cgroup v1 machines (a real process moved into a v1 cgroup we create).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RawEvent } from '../ts/decode.ts';
import { ExeFlag } from '../ts/layout.ts';
import { Probe } from '../ts/probe.ts';
import { EventSink, requireBuilt, runHelper } from './support.ts';

let probe: Probe;
let sink: EventSink;
let dir: string;

before(() => {
  requireBuilt();
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'pg-exec-')));
  // Other users must reach the binaries below (the temp dir is 0700).
  chmodSync(dir, 0o755);
  probe = Probe.open({ syscalls: ['execve', 'execveat', 'memfd_create'], ringBytes: 4 * 1024 * 1024 });
  sink = new EventSink().attach(probe);
});

after(() => {
  probe?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs sysc (through `wrapper`) to exec `target`; returns the exec record of `target` (by filename). */
async function execOf(target: string, wrapper: readonly string[] = [], helperArgs: readonly string[] = ['execve', target]): Promise<RawEvent> {
  const r = await runHelper(helperArgs, dir, sink, wrapper);
  const evs = await sink.untilExit(r.pid);
  const exec = evs.find((e) => e.kind === 'exec' && e.filename === target);
  assert.ok(exec, `no exec record of ${target}; got ${evs.filter((e) => e.kind === 'exec').map((e) => e.filename).join(', ')}`);
  assert.ok(exec.exec, 'exec info blob');
  return exec;
}

const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--'];

function copyTrue(name: string, mode: number, uid = 0, gid = 0): string {
  const p = join(dir, name);
  copyFileSync('/bin/true', p);
  chownSync(p, uid, gid);
  chmodSync(p, mode);
  return p;
}

describe('exe flags (Falco execve flags: proc.is_exe_writable / upper_layer / from_memfd)', () => {
  test('writable: the owner; group and other write bits (supplementary groups too); not a root 0755 file for nobody', async () => {
    const rootOwned = copyTrue('root-755', 0o755);
    let x = (await execOf(rootOwned)).exec!;
    assert.equal(x.exeWritable, true, 'root owns it');
    assert.equal((x.exeFlags ?? 0) & ExeFlag.WRITABLE, ExeFlag.WRITABLE);
    assert.equal(x.exeFromMemfd, false);

    x = (await execOf(rootOwned, NOBODY)).exec!;
    assert.equal(x.exeWritable, false, 'nobody, no capabilities, mode 0755');
    assert.equal(x.euid, 65534);

    x = (await execOf(copyTrue('world-777', 0o777), NOBODY)).exec!;
    assert.equal(x.exeWritable, true, 'S_IWOTH');

    const groupFile = copyTrue('group-775', 0o775, 0, 4242);
    x = (await execOf(groupFile, NOBODY)).exec!;
    assert.equal(x.exeWritable, false, 'not in group 4242');
    x = (await execOf(groupFile, ['setpriv', '--reuid=65534', '--regid=65534', '--groups=4242', '--'])).exec!;
    assert.equal(x.exeWritable, true, 'S_IWGRP through a supplementary group');

    x = (await execOf(copyTrue('nobody-555', 0o555, 65534, 65534), NOBODY)).exec!;
    assert.equal(x.exeWritable, true, 'the owner may chmod it: writable, as Falco says');
  });

  test('memfd: a binary executed from a memfd_create file, not one from disk', async () => {
    const r = await runHelper(['memfd-exec', '/bin/true'], dir, sink);
    const evs = await sink.untilExit(r.pid);
    const mfd = evs.find((e) => e.type === 'memfd_create');
    assert.equal(mfd?.str, 'pg-fileless');
    const execs = evs.filter((e) => e.kind === 'exec');
    assert.equal(execs.length, 2, 'node -> sysc, sysc -> memfd');
    assert.equal(execs[0].exec?.exeFromMemfd, false);
    const fileless = execs[1];
    assert.equal(fileless.exec?.exeFromMemfd, true);
    assert.equal((fileless.exec?.exeFlags ?? 0) & ExeFlag.FROM_MEMFD, ExeFlag.FROM_MEMFD);
    assert.equal(fileless.exec?.exeUpperLayer, false);
  });

  test('overlayfs: upper layer, lower layer, and neither off overlayfs', async () => {
    const base = join(dir, 'ovl');
    const [lower, upper, work, merged] = ['lower', 'upper', 'work', 'merged'].map((d) => join(base, d));
    for (const d of [lower, upper, work, merged]) mkdirSync(d, { recursive: true });
    copyFileSync('/bin/true', join(lower, 'from-image'));
    copyFileSync('/bin/true', join(upper, 'dropped'));
    chmodSync(join(lower, 'from-image'), 0o755);
    chmodSync(join(upper, 'dropped'), 0o755);
    execFileSync('mount', ['-t', 'overlay', 'pg-test-overlay', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, merged]);
    try {
      let x = (await execOf(join(merged, 'dropped'))).exec!;
      assert.deepEqual([x.exeUpperLayer, x.exeLowerLayer], [true, false], 'written in the upper layer');
      x = (await execOf(join(merged, 'from-image'))).exec!;
      assert.deepEqual([x.exeUpperLayer, x.exeLowerLayer], [false, true], 'from the lower layer');
      x = (await execOf('/bin/true')).exec!;
      assert.deepEqual([x.exeUpperLayer, x.exeLowerLayer], [false, false], 'not on overlayfs');
    } finally {
      execFileSync('umount', [merged]);
    }
  });
});

describe('capability sets', () => {
  test('permitted and inheritable next to effective', async () => {
    const CAP_CHOWN = 1n << 0n;
    const CAP_KILL = 1n << 5n;
    const CAP_SYS_ADMIN = 1n << 21n;
    let x = (await execOf('/bin/true', ['setpriv', '--inh-caps=+chown,+kill', '--'])).exec!;
    assert.equal(x.capInheritable, CAP_CHOWN | CAP_KILL);
    assert.ok(((x.capPermitted ?? 0n) & CAP_SYS_ADMIN) !== 0n, 'root: full permitted set');
    assert.equal(x.capEffective, x.capPermitted);

    x = (await execOf('/bin/true', NOBODY)).exec!;
    assert.deepEqual([x.capPermitted, x.capEffective, x.capInheritable], [0n, 0n, 0n]);
  });
});

describe('cgroup path (the cpu controller\'s v1 hierarchy, or cgroup v2 when that is all there is)', () => {
  // Hybrid machines (like the CI one) mount the cpu controller at /sys/fs/cgroup/cpu; pure v2 ones mount
  // the unified hierarchy at /sys/fs/cgroup. The probe follows the same choice.
  const cpuV1 = existsSync('/sys/fs/cgroup/cpu/cgroup.procs') && !existsSync('/sys/fs/cgroup/cpu/cgroup.controllers');
  const CPU = cpuV1 ? '/sys/fs/cgroup/cpu' : '/sys/fs/cgroup';
  const top = `pg-test-${process.pid}`;
  const hex = (c: string): string => c.repeat(64);
  const created: string[] = [];

  /** Creates each level of `rel` under the cpu hierarchy (remembered for clean-up, deepest first). */
  function makeCgroup(rel: string): string {
    let p = CPU;
    for (const part of rel.split('/').filter(Boolean)) {
      p = join(p, part);
      if (!existsSync(p)) {
        mkdirSync(p);
        created.push(p);
      }
    }
    return p;
  }

  /** Runs sysc inside `cgroup` (moved there by a shell that then execs it) and returns sysc's exec record. */
  async function execIn(cgroup: string): Promise<{ sysc: RawEvent; shell: RawEvent }> {
    const wrapper = ['sh', '-c', `echo $$ > ${join(cgroup, 'cgroup.procs')} && exec "$0" "$@"`];
    // A small environment: under `npm test` the inherited one is long enough to be cut short,
    // which sets the record's truncated flag that this test reads for the cgroup path.
    const r = await runHelper(['mkdir', 'cg-marker', '0755'], dir, sink, wrapper, undefined, { PATH: process.env.PATH });
    const evs = await sink.untilExit(r.pid);
    rmSync(join(dir, 'cg-marker'), { recursive: true, force: true });
    const execs = evs.filter((e) => e.kind === 'exec');
    assert.equal(execs.length, 2, 'node -> sh, sh -> sysc');
    return { shell: execs[0], sysc: execs[1] };
  }

  after(() => {
    for (const p of created.reverse()) rmdirSync(p);
  });

  test('docker and kubepods layouts, the inherited one, and a path deeper than the walk', async () => {
    const lines = readFileSync('/proc/self/cgroup', 'utf8').split('\n');
    const ownCpu = cpuV1 ? lines.find((l) => l.split(':')[1]?.split(',').includes('cpu')) : lines.find((l) => l.startsWith('0::'));
    assert.ok(ownCpu, 'this process has a cpu cgroup line');
    const ownPath = ownCpu.slice(ownCpu.indexOf(':', ownCpu.indexOf(':') + 1) + 1);

    const docker = `/${top}/docker/${hex('a')}`;
    let r = await execIn(makeCgroup(docker));
    assert.equal(r.shell.cgroupPath, ownPath, 'before the move: the cgroup inherited from the test');
    assert.equal(r.sysc.cgroupPath, docker);
    assert.equal(r.sysc.truncated, false);
    if (cpuV1) assert.equal(r.sysc.cgroup, '', 'the v2 default hierarchy is the root here, the reason for the v1 path');
    else assert.equal(r.sysc.cgroup, hex('a'), 'v2 only: the same cgroup, its leaf name');

    const kube = `/${top}/kubepods/besteffort/pod0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/${hex('b')}`;
    r = await execIn(makeCgroup(kube));
    assert.equal(r.sysc.cgroupPath, kube);

    // 34 levels: the walk keeps the 32 nearest the leaf and says the record is cut.
    const deep = `/${top}/deep/${Array.from({ length: 31 }, (_, i) => `l${i}`).join('/')}/${hex('c')}`;
    r = await execIn(makeCgroup(deep));
    const parts = deep.split('/').filter(Boolean);
    assert.equal(r.sysc.cgroupPath, `/${parts.slice(-32).join('/')}`);
    assert.equal(r.sysc.truncated, true);
  });
});
