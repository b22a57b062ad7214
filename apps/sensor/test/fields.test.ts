/**
 * Field coverage and semantics of the syscall-event extractor: every proc.*,
 * thread.*, user.*, group.*, fd.*, evt.*, container.* and k8s.* field the
 * upstream stable and incubating rules use is answered (or listed in
 * CANNOT_KNOW and always missing), and the derived fields follow libsinsp.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import type { RawEvent } from '@peregrine/native';
import { resolveField, SUGGESTED_OUTPUT_FIELDS, type FieldRef } from '@peregrine/rules';
import type { ContainerInfo } from '../src/containers/index.ts';
import { SyscallEvent, type ContainerLookup, type SyscallContext } from '../src/extract/syscall-event.ts';
import { CANNOT_KNOW, extractorKnows, syscallExtractor } from '../src/extract/syscall-extractor.ts';
import { ProcessTable } from '../src/state/process-table.ts';
import { StaticNames } from '../src/state/user-names.ts';

const INVENTORY = '/work/shared/fixtures/falco-rules/rules_inventory.json';
const PREFIXES = ['proc.', 'thread.', 'user.', 'group.', 'fd.', 'evt.', 'container.', 'k8s.'];

function refOf(text: string): FieldRef {
  const dotted = /^(evt\.(?:raw)?arg)\.(.+)$/.exec(text);
  const bracket = /^([^[]+)\[(.*)\]$/.exec(text);
  const [name, arg] = dotted ? [dotted[1], dotted[2]] : bracket ? [bracket[1], bracket[2]] : [text, undefined];
  return resolveField(name, arg);
}

/** Fields the issue names explicitly, on top of what the rules files use. */
const ISSUE_FIELDS = [
  'proc.aname[2]', 'proc.apid[2]', 'proc.aexepath[2]', 'proc.pcmdline', 'proc.exepath', 'proc.cwd', 'proc.tty', 'proc.sname',
  'proc.vpgid', 'proc.is_exe_from_memfd', 'proc.is_exe_upper_layer', 'proc.is_exe_writable', 'proc.duration', 'proc.env',
  'user.loginuid', 'user.loginname', 'thread.cap_effective', 'thread.cap_permitted', 'fd.name', 'fd.nameraw', 'fd.directory',
  'fd.filename', 'fd.typechar', 'fd.type', 'fd.num', 'fd.sip', 'fd.cip', 'fd.sport', 'fd.cport', 'fd.lport', 'fd.rport',
  'fd.l4proto', 'fd.net', 'fd.snet', 'fd.sockfamily', 'fd.connected', 'evt.is_open_read', 'evt.is_open_write',
  'evt.is_open_exec', 'evt.rawres', 'evt.dir', 'container.name', 'container.image', 'container.image.repository',
  'container.image.tag', 'container.privileged', 'container.start_ts', 'k8s.pod.name', 'k8s.ns.name', 'k8s.pod.uid',
  'k8s.pod.labels', 'k8s.pod.label[app]',
];

describe('field coverage', () => {
  test('every field the upstream stable and incubating rules use (conditions and outputs) is known or explicitly unknowable', () => {
    // condition_fields / output_fields: field name -> how often the file uses it.
    const inv = JSON.parse(readFileSync(INVENTORY, 'utf8')) as {
      files: Array<{ file: string; condition_fields: Record<string, unknown>; output_fields: Record<string, unknown> }>;
    };
    const files = inv.files.filter((f) => f.file === 'falco_rules.yaml' || f.file === 'falco-incubating_rules.yaml');
    assert.equal(files.length, 2, 'stable and incubating entries in the inventory');
    const wanted = new Set<string>([...ISSUE_FIELDS, ...SUGGESTED_OUTPUT_FIELDS]);
    for (const f of files) for (const x of [...Object.keys(f.condition_fields), ...Object.keys(f.output_fields)]) if (PREFIXES.some((p) => x.startsWith(p))) wanted.add(x);
    assert.ok(wanted.size > 80, `${wanted.size} fields`);
    const unknown = [...wanted].filter((x) => {
      const ref = refOf(x);
      return !extractorKnows(ref) && CANNOT_KNOW[ref.name] === undefined;
    });
    assert.deepEqual(unknown, [], 'fields the extractor does not answer and does not list as unknowable');
    for (const x of wanted) {
      const ref = refOf(x);
      if (CANNOT_KNOW[ref.name] !== undefined) assert.equal(extractorKnows(ref), false, `${x} is listed as unknowable and must stay missing`);
    }
  });
});

// ---- semantics on synthetic records -------------------------------------------------------

let ts = 5_000_000_000;
function rec(over: Partial<RawEvent> & Pick<RawEvent, 'type'>): RawEvent {
  ts += 1_000_000;
  return {
    kind: 'syscall', syscall: 0, tsNs: ts, tid: 300, pid: 300, ppid: 200, uid: 1000, gid: 1000, res: 0, cgroupId: 0n,
    comm: 'app', args: [0, 0, 0, 0, 0, 0], truncated: false, thread: false, ...over,
  };
}

const CID = 'aaaaaaaaaaaa';
const stubContainers: ContainerLookup = {
  idForCgroup: (path) => (path.includes('cri-containerd-') ? CID : 'host'),
  info: (id): ContainerInfo | undefined =>
    id === CID
      ? {
          id: CID, name: 'web', image: 'docker.io/library/nginx:1.25', imageRepository: 'docker.io/library/nginx', imageTag: '1.25',
          privileged: true, startTs: 1_700_000_000_000_000_000n, podName: 'web-0', podNamespace: 'shop', podUid: 'uid-1',
          podLabels: { app: 'web', tier: 'front' }, type: 'containerd',
        }
      : id === 'host' ? { id: 'host', name: 'host', type: 'host' } : undefined,
};

function context(processes: ProcessTable): SyscallContext {
  return {
    hostname: 'node-1',
    processes,
    bootEpochNs: 1_000_000_000_000_000_000n,
    names: new StaticNames(new Map([[0, 'root'], [1000, 'alice']]), new Map([[1000, 'staff']])),
    containers: stubContainers,
  };
}

const x = syscallExtractor();
const get = (e: SyscallEvent, text: string): unknown => x.accessor(refOf(text))(e);

function world(): { t: ProcessTable; ctx: SyscallContext; ev: (r: RawEvent) => SyscallEvent } {
  const t = new ProcessTable();
  const ctx = context(t);
  let n = 0;
  // pid 100 (bash, session leader) -> 200 (sh) -> 300 (app)
  for (const [pid, ppid, comm] of [[100, 1, 'bash'], [200, 100, 'sh']] as const) {
    t.apply(rec({ kind: 'fork', type: 'clone', pid, tid: pid, ppid, args: [ppid, ppid, 0, 0, 0, 0], comm }));
    t.apply(rec({
      kind: 'exec', type: 'procexec', pid, tid: pid, ppid, comm, filename: `/bin/${comm}`, argv: [comm, '-i'], cwd: '/home/alice',
      exec: { loginuid: 1000, tty: 34816, euid: 1000, egid: 1000, pgid: pid, sid: 100, exeIno: 7, exeDev: 1, exeCtimeSec: 1000, exeMtimeSec: 900, capEffective: 0n },
    }));
  }
  return { t, ctx, ev: (r) => new SyscallEvent(r, ++n, t.apply(r), ctx) };
}

describe('field semantics', () => {
  test('process fields: ancestry, session leader, duration, exe inode times, capabilities, login user, env', () => {
    const { ev } = world();
    ev(rec({ kind: 'fork', type: 'clone', pid: 300, tid: 300, ppid: 200, args: [200, 200, 0, 0, 0, 0] }));
    const exec = ev(rec({
      kind: 'exec', type: 'procexec', pid: 300, tid: 300, ppid: 200, comm: 'app', filename: 'bin/app', argv: ['./bin/app', 'x', 'y'],
      env: ['HOME=/home/alice', 'PATH=/bin'], cwd: '/srv',
      exec: { loginuid: 1000, tty: 0, euid: 1000, egid: 1000, pgid: 200, sid: 100, exeIno: 9, exeDev: 1, exeCtimeSec: 4, exeMtimeSec: 3, capEffective: (1n << 21n) | 1n },
      cgroup: 'cri-containerd-' + 'a'.repeat(64) + '.scope',
    }));
    const e = ev(rec({ type: 'openat', res: 3, args: [-100, 0, 0o1 | 0x40, 0o755, 0, 0], path0: 'out.sh', base0: '/srv' }));
    assert.equal(get(e, 'proc.exepath'), '/srv/bin/app');
    assert.equal(get(e, 'proc.exe'), './bin/app');
    assert.equal(get(e, 'proc.cmdline'), 'app x y');
    assert.equal(get(e, 'proc.pcmdline'), 'sh -i');
    assert.equal(get(e, 'proc.aname[2]'), 'bash');
    assert.equal(get(e, 'proc.apid[2]'), 100);
    assert.equal(get(e, 'proc.aexepath[2]'), '/bin/bash');
    assert.deepEqual(get(e, 'proc.aname'), ['sh', 'bash']);
    assert.equal(get(e, 'proc.sname'), 'bash', 'the process whose pid is the session id');
    assert.equal(get(e, 'proc.cwd'), '/srv/');
    assert.equal(get(e, 'proc.tty'), 0);
    assert.equal(get(e, 'proc.env[HOME]'), '/home/alice');
    assert.equal(get(e, 'proc.env'), 'HOME=/home/alice PATH=/bin');
    assert.equal(get(e, 'proc.duration'), e.raw.tsNs - (exec.raw.tsNs - 1_000_000), 'since the fork');
    assert.equal(get(e, 'proc.exe_ino.ctime'), 4_000_000_000n);
    assert.equal(get(e, 'proc.exe_ino.mtime'), 3_000_000_000n);
    assert.equal(get(e, 'thread.cap_effective'), 'CAP_CHOWN CAP_SYS_ADMIN');
    assert.equal(get(e, 'thread.cap_permitted'), undefined, 'not in the record and no /proc on a replay: missing');
    assert.equal(get(e, 'user.loginuid'), 1000);
    assert.equal(get(e, 'user.name'), undefined, "a container's users are not the capture's host names");
    assert.equal(get(e, 'proc.vpid'), undefined, 'namespace pid unknown without /proc');
    assert.equal(get(e, 'proc.is_exe_upper_layer'), undefined, 'unknowable on a replay');
    assert.equal(get(e, 'evt.is_open_exec'), true, 'O_CREAT with an execute bit');
    assert.equal(get(e, 'evt.is_open_write'), true);
    assert.equal(get(e, 'evt.is_open_read'), false);
  });

  test('container and k8s fields come from the registry; the host has no k8s fields', () => {
    const { ev } = world();
    const host = ev(rec({ type: 'close', pid: 200, tid: 200, ppid: 100, args: [9, 0, 0, 0, 0, 0], comm: 'sh' }));
    assert.equal(get(host, 'container.id'), 'host');
    assert.equal(get(host, 'container.name'), 'host');
    assert.equal(get(host, 'k8s.pod.name'), undefined);
    assert.equal(get(host, 'k8s.ns.name'), undefined);
    assert.equal(get(host, 'user.name'), 'alice');
    assert.equal(get(host, 'user.loginname'), 'alice');
    assert.equal(get(host, 'group.name'), 'staff');
    assert.equal(get(host, 'proc.vpid'), 200, 'on the host the namespace pid is the pid');
    ev(rec({
      kind: 'exec', type: 'procexec', pid: 300, tid: 300, ppid: 200, comm: 'nginx', filename: '/usr/sbin/nginx', argv: ['nginx'], cwd: '/',
      cgroup: 'cri-containerd-' + 'a'.repeat(64) + '.scope',
    }));
    const c = ev(rec({ type: 'close', args: [9, 0, 0, 0, 0, 0], comm: 'nginx' }));
    assert.equal(get(c, 'container.id'), CID);
    assert.equal(get(c, 'container.name'), 'web');
    assert.equal(get(c, 'container.image'), 'docker.io/library/nginx:1.25');
    assert.equal(get(c, 'container.image.repository'), 'docker.io/library/nginx');
    assert.equal(get(c, 'container.image.tag'), '1.25');
    assert.equal(get(c, 'container.privileged'), true);
    assert.equal(get(c, 'container.start_ts'), 1_700_000_000_000_000_000n);
    assert.equal(get(c, 'k8s.pod.name'), 'web-0');
    assert.equal(get(c, 'k8s.ns.name'), 'shop');
    assert.equal(get(c, 'k8s.pod.uid'), 'uid-1');
    assert.equal(get(c, 'k8s.pod.label[app]'), 'web');
    assert.equal(get(c, 'k8s.pod.labels'), 'app:web, tier:front');
  });

  test('fd fields over the fd table: a dup2ed socket, a closed file, an unknown fd', () => {
    const { ev } = world();
    ev(rec({ type: 'socket', res: 4, args: [10, 1, 0, 0, 0, 0] }));
    const tuple = { family: 'ipv6' as const, proto: 6, localAddr: '::1', localPort: 50000, remoteAddr: '::1', remotePort: 8080 };
    const conn = ev(rec({ type: 'connect', args: [4, 0, 0, 0, 0, 0], tuple }));
    assert.equal(get(conn, 'fd.name_changed'), true);
    ev(rec({ type: 'dup2', res: 1, args: [4, 1, 0, 0, 0, 0] }));
    // The stdout redirect: a close of fd 1 reads the socket from the table.
    const close = ev(rec({ type: 'close', args: [1, 0, 0, 0, 0, 0] }));
    assert.equal(get(close, 'fd.num'), 1);
    assert.equal(get(close, 'fd.type'), 'ipv6');
    assert.equal(get(close, 'fd.typechar'), '6');
    assert.equal(get(close, 'fd.sockfamily'), 'ip');
    assert.equal(get(close, 'fd.l4proto'), 'tcp');
    assert.equal(get(close, 'fd.connected'), true);
    assert.equal(get(close, 'fd.sip'), '::1');
    assert.equal(get(close, 'fd.sport'), 8080);
    assert.equal(get(close, 'fd.cport'), 50000);
    assert.equal(get(close, 'fd.lport'), 50000);
    assert.equal(get(close, 'fd.rport'), 8080);
    assert.equal(get(close, 'fd.name'), '[::1]:50000->[::1]:8080');
    assert.equal(get(close, 'fd.name_changed'), false);
    ev(rec({ type: 'openat', res: 5, args: [-100, 0, 0, 0, 0, 0], path0: '../etc/shadow', base0: '/home/alice' }));
    const fileClose = ev(rec({ type: 'close', args: [5, 0, 0, 0, 0, 0] }));
    assert.equal(get(fileClose, 'fd.name'), '/home/etc/shadow');
    assert.equal(get(fileClose, 'fd.nameraw'), '../etc/shadow');
    assert.equal(get(fileClose, 'fd.directory'), '/home/etc');
    assert.equal(get(fileClose, 'fd.filename'), 'shadow');
    assert.equal(get(fileClose, 'fd.typechar'), 'f');
    const unknown = ev(rec({ type: 'close', args: [77, 0, 0, 0, 0, 0], res: -9 }));
    assert.equal(get(unknown, 'fd.num'), 77);
    assert.equal(get(unknown, 'fd.name'), undefined, 'an fd the sensor never saw has no name (not invented)');
    assert.equal(get(unknown, 'fd.typechar'), undefined);
    for (const f of Object.keys(CANNOT_KNOW)) assert.equal(get(close, f), undefined, `${f} is always missing`);
  });
});
