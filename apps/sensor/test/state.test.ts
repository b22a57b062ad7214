/**
 * Process and fd state from records: fds born by open/socket/accept, copied
 * by dup*, closed (after their own close event), inherited over fork, and
 * kept over exec unless close-on-exec; bounded tables; /proc seeding; user
 * names from each process's own root.
 */
import assert from 'node:assert/strict';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir, uptime } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { RawEvent } from '@peregrine/native';
import { containerIdForCgroupPath } from '../src/containers/cgroup.ts';
import { ProcessTable } from '../src/state/process-table.ts';
import { ProcFacts, resolveWithinRoot } from '../src/state/proc-facts.ts';
import { readFds, readSockets, readStartNs, seedProcess } from '../src/state/proc-seed.ts';
import { RootNames, StaticNames } from '../src/state/user-names.ts';

let ts = 1000;
function rec(over: Partial<RawEvent> & Pick<RawEvent, 'type'>): RawEvent {
  ts += 1000;
  return {
    kind: 'syscall', syscall: 0, tsNs: ts, tid: 100, pid: 100, ppid: 1, uid: 0, gid: 0, res: 0, cgroupId: 0n,
    comm: 'app', args: [0, 0, 0, 0, 0, 0], truncated: false, thread: false, ...over,
  };
}
const exec = (pid: number, file: string, ppid = 1): RawEvent =>
  rec({ kind: 'exec', type: 'procexec', pid, tid: pid, ppid, filename: file, argv: [file], cwd: '/work', comm: file.split('/').pop()! });
const fork = (child: number, parent: number): RawEvent =>
  rec({ kind: 'fork', type: 'clone', pid: child, tid: child, ppid: parent, args: [parent, parent, 0, 0, 0, 0] });
const openat = (pid: number, path: string, fd: number, flags = 0): RawEvent =>
  rec({ type: 'openat', pid, tid: pid, res: fd, args: [-100, 0, flags, 0, 0, 0], path0: path, base0: '/work' });

describe('fd table', () => {
  test('open, dup2, dup3, close: names follow the fd; a close still sees its fd during its own event', () => {
    const t = new ProcessTable();
    t.apply(exec(100, '/bin/app'));
    t.apply(openat(100, 'notes.txt', 3));
    const p = t.get(100)!;
    assert.equal(p.fds.get(3)?.name, '/work/notes.txt');
    assert.equal(p.fds.get(3)?.type, 'file');
    t.apply(rec({ type: 'dup2', res: 7, args: [3, 7, 0, 0, 0, 0] }));
    assert.equal(p.fds.get(7)?.name, '/work/notes.txt');
    t.apply(rec({ type: 'dup3', res: 8, args: [3, 8, 0x80000, 0, 0, 0] }));
    assert.equal(p.fds.get(8)?.cloexec, true);
    t.apply(rec({ type: 'dup', res: 9, args: [8, 0, 0, 0, 0, 0] }));
    assert.equal(p.fds.get(9)?.cloexec, false, 'dup clears close-on-exec');
    t.apply(rec({ type: 'close', args: [3, 0, 0, 0, 0, 0] }));
    assert.equal(p.fds.get(3)?.name, '/work/notes.txt', 'visible while its close event is evaluated');
    t.apply(rec({ type: 'close', args: [7, 0, 0, 0, 0, 0] }));
    assert.equal(p.fds.get(3), undefined, 'gone once the next record is applied');
    assert.equal(p.fds.get(8)?.name, '/work/notes.txt', 'the other slots stay');
  });

  test('fork inherits the fds; exec keeps the ones without close-on-exec', () => {
    const t = new ProcessTable();
    t.apply(exec(100, '/bin/app'));
    t.apply(openat(100, 'keep.txt', 3));
    t.apply(openat(100, 'drop.txt', 4, 0x80000));
    t.apply(fork(200, 100));
    const child = t.get(200)!;
    assert.equal(child.fds.get(3)?.name, '/work/keep.txt');
    assert.equal(child.fds.get(4)?.name, '/work/drop.txt');
    t.apply(rec({ type: 'close', pid: 200, tid: 200, args: [3, 0, 0, 0, 0, 0] }));
    t.apply(rec({ type: 'openat', pid: 100, tid: 100, res: 5, args: [-100, 0, 0, 0, 0, 0], path0: '/etc/hosts' }));
    assert.equal(t.get(100)!.fds.get(3)?.name, '/work/keep.txt', "the child's close does not touch the parent");
    assert.equal(child.fds.get(5), undefined, "the parent's later open is not the child's");
    t.apply(openat(200, 'again.txt', 3));
    t.apply(exec(200, '/bin/other', 100));
    const after = t.get(200)!;
    assert.equal(after.fds.get(3)?.name, '/work/again.txt');
    assert.equal(after.fds.get(4), undefined, 'O_CLOEXEC fd closed by exec');
  });

  test("fork carries the parent's cgroup path (sent only at exec) to the child and its children: same container.id", () => {
    const t = new ProcessTable();
    const id = 'ab'.repeat(32);
    const path = `/system.slice/docker-${id}.scope`;
    t.apply({ ...exec(300, '/bin/sh'), cgroupPath: path, cgroup: `docker-${id}.scope` });
    assert.equal(t.get(300)!.cgroup, path);
    t.apply(fork(301, 300));
    t.apply(openat(301, 'from-subshell.txt', 3));
    t.apply(fork(302, 301));
    for (const pid of [301, 302]) {
      const p = t.get(pid)!;
      assert.equal(p.cgroup, path, `pid ${pid}: the cgroup path of the exec before the forks`);
      assert.equal(containerIdForCgroupPath(p.cgroup!), id.slice(0, 12));
    }
    // A later exec that carries no path (a v1 record names only the leaf) keeps the inherited full path.
    t.apply({ ...exec(302, '/bin/cat', 301), cgroup: `docker-${id}.scope` });
    assert.equal(t.get(302)!.cgroup, path);
    // The child's own state is its own: a parent that moves on does not drag the child.
    t.apply({ ...exec(300, '/bin/other'), cgroupPath: '/user.slice' });
    assert.equal(t.get(301)!.cgroup, path);
  });

  test('sockets: socket() type, connect names client->server, accept names the peer, listen marks the server end', () => {
    const t = new ProcessTable();
    t.apply(exec(100, '/bin/app'));
    t.apply(rec({ type: 'socket', res: 5, args: [2, 1 | 0x80000, 0, 0, 0, 0] }));
    const fds = t.get(100)!.fds;
    assert.equal(fds.get(5)?.type, 'ipv4');
    assert.equal(fds.get(5)?.cloexec, true);
    const tuple = { family: 'ipv4' as const, proto: 6, localAddr: '10.0.0.2', localPort: 40000, remoteAddr: '1.2.3.4', remotePort: 443 };
    t.apply(rec({ type: 'connect', args: [5, 0, 0, 0, 0, 0], tuple, sockaddr: { family: 'ipv4', addr: '1.2.3.4', port: 443 } }));
    assert.equal(fds.get(5)?.name, '10.0.0.2:40000->1.2.3.4:443');
    assert.equal(fds.get(5)?.connected, true);
    assert.equal(fds.get(5)?.socket?.localIsServer, false);
    const peer = { family: 'ipv4' as const, proto: 6, localAddr: '10.0.0.2', localPort: 80, remoteAddr: '5.6.7.8', remotePort: 5555 };
    t.apply(rec({ type: 'accept4', res: 6, args: [4, 0, 0, 0, 0, 0], tuple: peer }));
    assert.equal(fds.get(6)?.name, '5.6.7.8:5555->10.0.0.2:80');
    assert.equal(fds.get(6)?.socket?.localIsServer, true);
    t.apply(rec({ type: 'connect', res: -111, args: [7, 0, 0, 0, 0, 0] }));
    assert.equal(fds.get(7), undefined, 'a refused connect makes no fd');
  });

  test('threads share the process entry; exit removes it; unknown dup sources forget the target', () => {
    const t = new ProcessTable();
    t.apply(exec(100, '/bin/app'));
    t.apply(openat(100, 'a', 3));
    t.apply(rec({ kind: 'fork', type: 'clone', pid: 100, tid: 101, thread: true, args: [100, 100, 0, 0, 0, 0] }));
    t.apply(rec({ type: 'dup2', pid: 100, tid: 101, res: 3, args: [42, 3, 0, 0, 0, 0] }));
    assert.equal(t.get(100)!.fds.get(3), undefined, 'fd 3 now refers to something unknown');
    t.apply(rec({ kind: 'exit', type: 'procexit', pid: 100, tid: 101, thread: true }));
    assert.ok(t.get(100), 'a thread exit keeps the process');
    t.apply(rec({ kind: 'exit', type: 'procexit', pid: 100, tid: 100 }));
    assert.equal(t.get(100), undefined, 'the leader exit purges it');
  });
});

describe('bounds', () => {
  test('fds per process are bounded (oldest slot forgotten) and counted', () => {
    const t = new ProcessTable({ maxFds: 4 });
    t.apply(exec(100, '/bin/app'));
    for (let fd = 3; fd < 10; fd++) t.apply(openat(100, `f${fd}`, fd));
    const fds = t.get(100)!.fds;
    assert.equal(fds.size, 4);
    assert.equal(fds.get(3), undefined);
    assert.equal(fds.get(9)?.name, '/work/f9');
    assert.equal(t.stats().evictedFds, 3);
  });

  test('processes are bounded: the least recently active go first', () => {
    const t = new ProcessTable({ maxProcesses: 20 });
    for (let pid = 1000; pid < 1020; pid++) t.apply(exec(pid, '/bin/x'));
    t.apply(rec({ type: 'close', pid: 1000, tid: 1000, args: [-1, 0, 0, 0, 0, 0], res: -9 })); // 1000 active again
    t.apply(exec(2000, '/bin/new'));
    assert.ok(t.size <= 20);
    assert.ok(t.get(1000), 'recently active survives');
    assert.ok(t.get(2000), 'the newcomer is kept');
    assert.equal(t.get(1001), undefined, 'the least recently active is dropped');
    assert.ok(t.stats().evictedProcesses >= 1);
  });

  test('purgeIdle drops idle entries whose process is gone (a missed exit)', () => {
    const t = new ProcessTable();
    t.apply(exec(100, '/bin/a'));
    t.apply(exec(101, '/bin/b'));
    const n = t.purgeIdle(Number.MAX_SAFE_INTEGER, (pid) => pid === 101);
    assert.equal(n, 1);
    assert.equal(t.get(100), undefined);
    assert.ok(t.get(101));
    assert.equal(t.stats().purgedProcesses, 1);
  });
});

describe('seeding from /proc', () => {
  test('this process: start time, an open file and a connected TCP socket named from /proc/net', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pg-seed-'));
    const file = join(dir, 'held.txt');
    writeFileSync(file, 'x');
    const fd = openSync(file, 'r');
    let server: Server | undefined;
    let client: Socket | undefined;
    try {
      server = createServer();
      await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
      const port = (server.address() as { port: number }).port;
      client = connect(port, '127.0.0.1');
      await new Promise<void>((r) => client!.once('connect', () => r()));
      const fds = new Map(readFds(process.pid, readSockets()));
      assert.equal(fds.get(fd)?.name, file);
      assert.equal(fds.get(fd)?.type, 'file');
      const tcp = [...fds.values()].filter((f) => f.type === 'ipv4' && f.socket?.remotePort === port);
      assert.equal(tcp.length, 1, 'the client socket');
      assert.equal(tcp[0].name, `127.0.0.1:${client.localPort}->127.0.0.1:${port}`);
      assert.equal(tcp[0].socket?.localIsServer, false);
      const listening = [...fds.values()].find((f) => f.socket?.localPort === port && f.socket.localIsServer);
      assert.ok(listening, 'the listening socket is the server end');
      const start = readStartNs(process.pid);
      assert.ok(start !== undefined && start > 0 && start <= (uptime() + 1) * 1e9, `start ${start} ns after boot`);
      const seeded = seedProcess(process.pid)!;
      const t = new ProcessTable();
      t.seed(seeded);
      assert.equal(t.get(process.pid)!.fds.get(fd)?.name, file);
    } finally {
      client?.destroy();
      server?.close();
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('user and group names per root', () => {
  test("a container's names come from its own /etc, the host's from the host's, cached and re-read on change", () => {
    const dir = mkdtempSync(join(tmpdir(), 'pg-names-'));
    try {
      mkdirSync(join(dir, 'host', 'etc'), { recursive: true });
      mkdirSync(join(dir, 'proc', '4242', 'root', 'etc'), { recursive: true });
      writeFileSync(join(dir, 'host', 'etc', 'passwd'), 'root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n');
      writeFileSync(join(dir, 'host', 'etc', 'group'), 'root:x:0:\nstaff:x:50:\n');
      const cpasswd = join(dir, 'proc', '4242', 'root', 'etc', 'passwd');
      writeFileSync(cpasswd, 'root:x:0:0::/root:/bin/sh\nnginx:x:1000:1000::/:/sbin/nologin\n');
      let now = 0;
      const names = new RootNames({ hostRoot: join(dir, 'host'), procRoot: join(dir, 'proc'), recheckMs: 1000, now: () => now });
      const p = new ProcessTable();
      p.apply(exec(4242, '/bin/app'));
      const proc = p.get(4242)!;
      assert.equal(names.userName(proc, 'host', 1000), 'alice');
      assert.equal(names.userName(proc, 'abcdef123456', 1000), 'nginx');
      assert.equal(names.userName(proc, 'abcdef123456', 1001), undefined, 'an unlisted id has no name');
      assert.equal(names.groupName(proc, 'host', 50), 'staff');
      assert.equal(names.groupName(proc, 'abcdef123456', 50), undefined, 'no group file in the container: missing');
      writeFileSync(cpasswd, 'root:x:0:0::/root:/bin/sh\nweb:x:1000:1000::/:/sbin/nologin\n');
      assert.equal(names.userName(proc, 'abcdef123456', 1000), 'nginx', 'cached until the recheck interval');
      now = 5000;
      // Make sure the mtime moves even on coarse-timestamp filesystems.
      const later = new Date(Date.now() + 5000);
      utimesSync(cpasswd, later, later);
      assert.equal(names.userName(proc, 'abcdef123456', 1000), 'web');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a capture knows only the host names it recorded', () => {
    const s = new StaticNames(new Map([[0, 'root']]), new Map([[0, 'root']]));
    const t = new ProcessTable();
    t.apply(exec(5, '/bin/x'));
    assert.equal(s.userName(t.get(5)!, 'host', 0), 'root');
    assert.equal(s.userName(t.get(5)!, 'abcdef123456', 0), undefined);
  });
});

describe('proc.exepath of a container process that already ended', () => {
  /** A container-like root: /bin/sh -> busybox, /usr/bin/env -> /bin/busybox, /sbin -> usr/sbin, a loop. */
  function fakeRoot(): string {
    const root = mkdtempSync(join(tmpdir(), 'pg-root-'));
    for (const dir of ['bin', 'usr/bin', 'usr/sbin', 'etc']) mkdirSync(join(root, dir), { recursive: true });
    writeFileSync(join(root, 'bin/busybox'), '');
    writeFileSync(join(root, 'usr/sbin/init'), '');
    symlinkSync('busybox', join(root, 'bin/sh'));
    // Absolute: must resolve to the container's /bin/busybox, never the host's.
    symlinkSync('/bin/busybox', join(root, 'usr/bin/env'));
    symlinkSync('usr/sbin', join(root, 'sbin'));
    symlinkSync('../../bin/sh', join(root, 'usr/bin/ash'));
    symlinkSync('loop-b', join(root, 'etc/loop-a'));
    symlinkSync('loop-a', join(root, 'etc/loop-b'));
    // Out of the root through "..": stays at the root, as in a chroot.
    symlinkSync('../../../../bin/sh', join(root, 'usr/bin/escape'));
    return root;
  }

  test('links resolve inside the root: relative, absolute, a linked folder, "..", loops and missing files', () => {
    const root = fakeRoot();
    try {
      assert.equal(resolveWithinRoot(root, '/bin/sh'), '/bin/busybox');
      assert.equal(resolveWithinRoot(root, '/usr/bin/env'), '/bin/busybox');
      assert.equal(resolveWithinRoot(root, '/sbin/init'), '/usr/sbin/init');
      assert.equal(resolveWithinRoot(root, '/usr/bin/ash'), '/bin/busybox');
      assert.equal(resolveWithinRoot(root, '/usr/bin/escape'), '/bin/busybox');
      assert.equal(resolveWithinRoot(root, '/usr/bin/../../bin/./sh'), '/bin/busybox');
      assert.equal(resolveWithinRoot(root, '/etc/loop-a'), undefined, 'a loop gives up');
      assert.equal(resolveWithinRoot(root, '/bin/nothing'), undefined);
      assert.equal(resolveWithinRoot(root, '/bin/busybox'), '/bin/busybox');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('resolved through a living process of the same container; the exec path as given when none lives', () => {
    const root = fakeRoot();
    const proc = mkdtempSync(join(tmpdir(), 'pg-proc-'));
    try {
      // pid 40 (the container's init) lives: its /proc/40/root is the container root. pid 41 ended.
      mkdirSync(join(proc, '40'));
      symlinkSync(root, join(proc, '40/root'));
      const t = new ProcessTable();
      t.apply(exec(40, '/sbin/init'));
      t.apply(exec(41, '/bin/sh', 40));
      t.apply(exec(42, '/bin/sh', 1));
      t.apply(exec(43, '/bin/sh', 40));
      t.get(40)!.containerId = 'c0ffee000001';
      t.get(41)!.containerId = 'c0ffee000001';
      t.get(43)!.containerId = 'c0ffee000001';
      t.get(42)!.containerId = 'deadbeef0002';
      const facts = new ProcFacts(proc);
      assert.equal(facts.canonicalExepath(t.get(41)!, 'c0ffee000001', () => t.values()), '/bin/busybox');
      assert.equal(facts.canonicalExepath(t.get(42)!, 'deadbeef0002', () => t.values()), '/bin/sh', 'no living process of that container');
      assert.equal(new ProcFacts(proc).canonicalExepath(t.get(43)!, 'c0ffee000001'), '/bin/sh', 'no candidates given (a capture replay)');
    } finally {
      rmSync(root, { recursive: true, force: true });
      rmSync(proc, { recursive: true, force: true });
    }
  });
});
