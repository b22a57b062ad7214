/**
 * The syscall-event field extractor over a real capture: real processes do real
 * syscalls, the capture is read back, process state is rebuilt, and the
 * Falco fields the raw events carry come out as Falco would show them.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FieldRef, FieldType } from '@peregrine/rules';
import { CaptureReader, runCapture } from '@peregrine/native';
import type { SyscallEvent } from '../src/extract/syscall-event.ts';
import { syscallExtractor } from '../src/extract/syscall-extractor.ts';
import { chmodModeText, openFlagsText, errnoText } from '../src/extract/falco-args.ts';
import { captureEvents } from '../src/sources/capture-file.ts';
import { ProbeSource } from '../src/sources/probe-source.ts';
import { resolvePath } from '../src/state/paths.ts';
import { SYSC, requireBuilt, runHelper, type HelperRun } from './support.ts';

let dir: string;
interface Seen {
  readonly raw: SyscallEvent['raw'];
  readonly procName: string;
  /** Field values computed when the event was replayed (state moves on afterwards). */
  readonly fields: Map<string, unknown>;
}
let events: Seen[] = [];
let helper: HelperRun;
let shellRun: HelperRun;
const extractor = syscallExtractor();

function ref(name: string, arg?: string, type: FieldType = 'CHARBUF', isList = false): FieldRef {
  return { name, arg, text: arg === undefined ? name : `${name}[${arg}]`, type, isList };
}

const FIELDS: Array<[string, string?]> = [
  ['evt.type'], ['evt.dir'], ['evt.res'], ['evt.rawres'], ['evt.failed'], ['evt.is_open_write'], ['evt.is_open_read'],
  ['evt.arg', 'name'], ['evt.rawarg', 'name'], ['evt.arg', 'flags'], ['evt.rawarg', 'flags'], ['evt.arg', 'dirfd'],
  ['evt.arg', 'fd'], ['evt.arg', 'tuple'], ['evt.arg', 'uid'], ['evt.rawarg', 'uid'],
  ['fd.name'], ['fd.directory'], ['fd.filename'], ['fd.typechar'], ['fd.num'], ['fd.sip'], ['fd.sport'], ['fd.cport'],
  ['fd.l4proto'], ['fs.path.name'],
  ['proc.pid'], ['proc.ppid'], ['proc.name'], ['proc.exe'], ['proc.exepath'], ['proc.cmdline'], ['proc.args'],
  ['proc.cwd'], ['proc.pname'], ['proc.pexepath'], ['proc.pcmdline'], ['proc.aname', '1'], ['proc.env', 'PG_TEST_ENV'],
  ['user.uid'], ['user.name'], ['user.loginuid'], ['thread.tid'], ['container.id'], ['k8s.pod.name'],
  ['evt.arg', 'exe'], ['evt.arg', 'args'], ['evt.arg', 'filename'], ['evt.arg', 'cwd'], ['evt.arg', 'mode'], ['evt.rawarg', 'mode'],
];
const accessors = FIELDS.map(([name, arg]) => [arg === undefined ? name : `${name}[${arg}]`, extractor.accessor(ref(name, arg))] as const);
const ancestorsOf = extractor.accessor(ref('proc.aname', undefined, 'CHARBUF', true));

function snapshot(ev: SyscallEvent): Seen {
  const fields = new Map<string, unknown>(accessors.map(([k, f]) => [k, f(ev)]));
  fields.set('proc.aname', ancestorsOf(ev));
  return { raw: ev.raw, procName: ev.proc.name, fields };
}

const get = (ev: Seen, name: string, arg?: string): unknown => {
  const key = arg === undefined ? name : `${name}[${arg}]`;
  assert.ok(ev.fields.has(key), `test snapshot lacks ${key}`);
  return ev.fields.get(key);
};

before(async () => {
  requireBuilt();
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'pg-replay-')));
  const file = join(dir, 'replay.pgcap');
  const abort = new AbortController();
  let work: Promise<void> | undefined;
  await runCapture({
    out: file,
    seconds: 10,
    signal: abort.signal,
    onStarted: () => {
      work = (async () => {
        helper = await runHelper(
          [
            'openat', 'cwd', 'notes.txt', '0x241', '0600', 'openat', `dir:${dir}`, 'missing.txt', '0', '0', 'tcp', 'setuid', '0',
            'chmod', 'notes.txt', '04755', 'fchmodat', 'cwd', 'notes.txt', '0', 'openat', 'cwd', '.', '0x90800', '0755',
            'mkdir', 'sub', '0755', 'mkdirat', 'cwd', 'subat', '0750',
          ],
          dir,
        );
        // A shell (child of the helper) that runs the helper again: a three-level ancestry.
        shellRun = await runHelper(['execve', '/bin/sh', '-c', `${SYSC} mkdir from-shell 0755; exit 0`], dir);
        await new Promise((r) => setTimeout(r, 100));
        abort.abort();
      })();
    },
  });
  await work;
  const reader = await CaptureReader.open(file);
  for await (const ev of captureEvents(reader)) events.push(snapshot(ev));
  await reader.close();
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function find(pred: (e: Seen) => boolean, what: string): Seen {
  const e = events.find(pred);
  assert.ok(e, `no replayed event: ${what}`);
  return e;
}

describe('syscall extractor over a capture', () => {
  test('open: evt.*, resolved fd.name/directory/filename, flags as Falco names', () => {
    const e = find((x) => x.raw.pid === helper.pid && x.raw.type === 'openat' && x.raw.path0 === 'notes.txt', 'openat notes.txt');
    assert.equal(get(e, 'evt.type'), 'openat');
    assert.equal(get(e, 'evt.dir'), '<');
    assert.equal(get(e, 'evt.res'), 'SUCCESS');
    assert.equal(get(e, 'evt.rawres'), e.raw.res);
    assert.equal(get(e, 'evt.arg', 'name'), `${dir}/notes.txt`);
    assert.equal(get(e, 'evt.rawarg', 'name'), 'notes.txt');
    // libsinsp's file_flags order, PPM_O_* values (O_WRONLY 2 | O_CREAT 4 | O_TRUNC 256).
    assert.equal(get(e, 'evt.arg', 'flags'), 'O_TRUNC|O_CREAT|O_WRONLY');
    assert.equal(get(e, 'evt.rawarg', 'flags'), 0x106);
    assert.equal(get(e, 'evt.arg', 'mode'), '0600', 'an O_CREAT open prints its mode %#o');
    assert.equal(get(e, 'evt.arg', 'dirfd'), '-100');
    assert.equal(get(e, 'evt.is_open_write'), true);
    assert.equal(get(e, 'evt.is_open_read'), false);
    assert.equal(get(e, 'fd.name'), `${dir}/notes.txt`);
    assert.equal(get(e, 'fd.directory'), dir);
    assert.equal(get(e, 'fd.filename'), 'notes.txt');
    assert.equal(get(e, 'fd.typechar'), 'f');
    assert.equal(get(e, 'fd.num'), e.raw.res);
    assert.equal(get(e, 'proc.pid'), helper.pid);
    assert.equal(get(e, 'proc.ppid'), process.pid);
    assert.equal(get(e, 'proc.name'), 'sysc');
    assert.equal(get(e, 'proc.exepath'), SYSC);
    assert.equal(get(e, 'proc.exe'), SYSC);
    assert.match(String(get(e, 'proc.cmdline')), /^sysc openat cwd notes\.txt 0x241 0600 /);
    assert.match(String(get(e, 'proc.args')), /^openat cwd notes\.txt/);
    assert.equal(get(e, 'proc.cwd'), `${dir}/`);
    assert.equal(get(e, 'user.uid'), 0);
    assert.equal(get(e, 'user.name'), 'root');
    assert.equal(get(e, 'thread.tid'), helper.tid);
    assert.equal(get(e, 'container.id'), 'host');
    assert.equal(get(e, 'k8s.pod.name'), undefined, 'fields the capture cannot answer are missing');
  });

  test('dirfd-relative failure: resolved against the directory fd, errno name', () => {
    const e = find((x) => x.raw.pid === helper.pid && x.raw.path0 === 'missing.txt', 'openat missing.txt');
    assert.equal(get(e, 'evt.res'), 'ENOENT');
    assert.equal(get(e, 'evt.failed'), true);
    assert.equal(get(e, 'fd.name'), `${dir}/missing.txt`);
    assert.equal(get(e, 'evt.arg', 'fd'), '-2');
  });

  test('sockets: tuple as client->server, fd.sip/sport/cip/cport', () => {
    const c = find((x) => x.raw.pid === helper.pid && x.raw.type === 'connect' && x.raw.res === 0, 'connect');
    const port = helper.results.find((r) => r.op === 'port')!.ret;
    const client = c.raw.tuple!.localPort;
    assert.equal(get(c, 'fd.name'), `127.0.0.1:${client}->127.0.0.1:${port}`);
    assert.equal(get(c, 'fd.sip'), '127.0.0.1');
    assert.equal(get(c, 'fd.sport'), port);
    assert.equal(get(c, 'fd.cport'), client);
    assert.equal(get(c, 'fd.typechar'), '4');
    assert.equal(get(c, 'fd.l4proto'), 'tcp');
    assert.equal(get(c, 'evt.arg', 'tuple'), `127.0.0.1:${client}->127.0.0.1:${port}`);
    const a = find((x) => x.raw.pid === helper.pid && x.raw.type === 'accept4', 'accept4');
    assert.equal(get(a, 'fd.name'), `127.0.0.1:${client}->127.0.0.1:${port}`, 'accept sees the same client->server tuple');
    assert.equal(get(a, 'fd.sport'), port);
  });

  test('setuid renders the uid as a user name (evt.arg.uid=root)', () => {
    const e = find((x) => x.raw.pid === helper.pid && x.raw.type === 'setuid', 'setuid');
    assert.equal(get(e, 'evt.arg', 'uid'), 'root');
    assert.equal(get(e, 'evt.rawarg', 'uid'), 0);
  });

  test('exec state: the shell and its child, parent and ancestor fields', () => {
    const m = find((x) => x.raw.type === 'mkdir' && x.raw.path0 === 'from-shell', 'mkdir from the shell child');
    assert.equal(get(m, 'proc.name'), 'sysc');
    assert.equal(get(m, 'proc.pname'), 'sh');
    assert.equal(get(m, 'proc.pexepath'), '/bin/sh');
    assert.equal(get(m, 'proc.pcmdline'), `sh -c ${SYSC} mkdir from-shell 0755; exit 0`);
    assert.equal(get(m, 'proc.ppid'), shellRun.pid);
    assert.equal(get(m, 'proc.aname', '1'), 'sh');
    assert.equal(get(m, 'fs.path.name'), `${dir}/from-shell`);
    assert.equal(get(m, 'fd.name'), `${dir}/from-shell`);
    const ancestors = get(m, 'proc.aname');
    assert.ok(Array.isArray(ancestors) && ancestors[0] === 'sh');

    const exec = find((x) => x.raw.pid === shellRun.pid && x.raw.type === 'execve' && x.raw.res === 0 && x.procName === 'sh', 'execve of sh');
    assert.equal(get(exec, 'proc.exepath'), '/bin/sh');
    assert.equal(get(exec, 'proc.args'), `-c ${SYSC} mkdir from-shell 0755; exit 0`);
    assert.equal(get(exec, 'proc.env', 'PG_TEST_ENV'), '1');
    // A successful execve's Falco parameters describe the new image.
    assert.equal(get(exec, 'evt.arg', 'exe'), '/bin/sh');
    assert.equal(get(exec, 'evt.arg', 'args'), `-c ${SYSC} mkdir from-shell 0755; exit 0`);
    assert.equal(get(exec, 'evt.arg', 'filename'), '/bin/sh');
    assert.equal(get(exec, 'evt.arg', 'cwd'), dir);
    assert.equal(get(exec, 'proc.ppid'), process.pid);
    // This test process is excluded from the capture; replay knows it from the /proc snapshot.
    assert.equal(get(exec, 'proc.pname'), readFileSync('/proc/self/comm', 'utf8').trim());
    const loginuid = get(exec, 'user.loginuid');
    assert.ok(typeof loginuid === 'number' && (loginuid === -1 || loginuid >= 0), 'loginuid from the exec record (-1 = unset)');
  });
});

describe('mode and flag arguments as Falco renders them', () => {
  const sysc = (type: string, path0: string): Seen =>
    find((x) => x.raw.pid === helper.pid && x.raw.type === type && x.raw.path0 === path0, `${type} ${path0}`);

  test('chmod/fchmodat mode (PT_MODE): the permission bit names in libsinsp chmod_mode order; 0 stays 0', () => {
    const c = sysc('chmod', 'notes.txt');
    assert.equal(get(c, 'evt.arg', 'mode'), 'S_IXOTH|S_IROTH|S_IXGRP|S_IRGRP|S_IXUSR|S_IWUSR|S_IRUSR|S_ISUID');
    assert.equal(get(c, 'evt.rawarg', 'mode'), 0o4755);
    assert.equal(get(c, 'evt.arg', 'filename'), `${dir}/notes.txt`);
    const z = sysc('fchmodat', 'notes.txt');
    assert.equal(get(z, 'evt.arg', 'mode'), '0');
  });

  test('open without O_CREAT: mode 0; a directory open also says O_TMPFILE (the driver quirk Falco prints)', () => {
    const missing = sysc('openat', 'missing.txt');
    assert.equal(get(missing, 'evt.arg', 'flags'), 'O_RDONLY');
    assert.equal(get(missing, 'evt.arg', 'mode'), '0');
    const d = sysc('openat', '.');
    // O_RDONLY|O_NONBLOCK|O_DIRECTORY|O_CLOEXEC; O_TMPFILE's kernel mask includes O_DIRECTORY, so mode is kept too.
    assert.equal(get(d, 'evt.arg', 'flags'), 'O_DIRECTORY|O_NONBLOCK|O_RDONLY|O_CLOEXEC|O_TMPFILE');
    assert.equal(get(d, 'evt.arg', 'mode'), '0755');
  });

  test('mkdir mode prints %X (PF_HEX), mkdirat %#o (PF_OCT), as the event table says', () => {
    assert.equal(get(sysc('mkdir', 'sub'), 'evt.arg', 'mode'), '1ED');
    assert.equal(get(sysc('mkdirat', 'subat'), 'evt.arg', 'mode'), '0750');
  });
});

describe('extractor helpers', () => {
  test('path resolution like libsinsp', () => {
    assert.equal(resolvePath('a/../b/./c', '/x/y'), '/x/y/b/c');
    assert.equal(resolvePath('/abs/../p', '/ignored'), '/p');
    assert.equal(resolvePath('rel', undefined), 'rel');
    assert.equal(resolvePath('..', '/'), '/');
  });

  test('flag and errno rendering', () => {
    assert.equal(openFlagsText(0), 'O_RDONLY');
    assert.equal(openFlagsText(0x80000), 'O_RDONLY|O_CLOEXEC');
    assert.equal(openFlagsText(0x80042), 'O_CREAT|O_RDWR|O_CLOEXEC');
    assert.equal(openFlagsText(0o10001), 'O_SYNC|O_DSYNC|O_WRONLY', 'O_SYNC mask includes O_DSYNC in the driver');
    assert.equal(chmodModeText(0o755), 'S_IXOTH|S_IROTH|S_IXGRP|S_IRGRP|S_IXUSR|S_IWUSR|S_IRUSR');
    assert.equal(chmodModeText(0o100644), 'S_IROTH|S_IRGRP|S_IWUSR|S_IRUSR', 'file type bits are not mode bits');
    assert.equal(chmodModeText(0o2000), 'S_ISGID');
    assert.equal(chmodModeText(0), '0');
    assert.equal(errnoText(-13), 'EACCES');
    assert.equal(errnoText(5), 'SUCCESS');
  });

});

describe('live events', () => {
  test('a live probe feeds the same extractor through the shared batch walk', async () => {
    const source = ProbeSource.open({ syscalls: ['mkdirat', 'mkdir'] });
    const seen: Array<{ name: unknown; pname: unknown; fd: unknown; pid: number }> = [];
    const fdName = extractor.accessor(ref('fd.name'));
    const pname = extractor.accessor(ref('proc.pname'));
    const pn = extractor.accessor(ref('proc.name'));
    source.start((e) => seen.push({ name: pn(e), pname: pname(e), fd: fdName(e), pid: e.raw.pid }));
    try {
      const r = await runHelper(['mkdir', 'live-assembled', '0755'], dir);
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline && !seen.some((s) => s.pid === r.pid)) await new Promise((x) => setTimeout(x, 20));
      const mine = seen.find((s) => s.pid === r.pid);
      assert.deepEqual(mine, { name: 'sysc', pname: readFileSync('/proc/self/comm', 'utf8').trim(), fd: `${dir}/live-assembled`, pid: r.pid });
      assert.equal(source.stats().walk.malformed, 0);
    } finally {
      source.close();
    }
  });
});
