/**
 * fd state on a live probe: a file opened and dup2'ed by one program is
 * named on the close done by its grandchild (inherited over exec and fork),
 * while a close-on-exec duplicate is gone after exec (its fields missing).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { FieldRef } from '@peregrine/rules';
import { resolveField } from '@peregrine/rules';
import { syscallExtractor } from '../src/extract/syscall-extractor.ts';
import { ProbeSource } from '../src/sources/probe-source.ts';
import { SYSC, requireBuilt, runHelper } from './support.ts';

test('live: dup2 + exec + fork keep a non-CLOEXEC fd; dup3(O_CLOEXEC) is closed by exec', async () => {
  requireBuilt();
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'pg-live-fd-')));
  const x = syscallExtractor();
  const f = (name: string): ((e: never) => unknown) => x.accessor(resolveField(name, undefined) as FieldRef) as (e: never) => unknown;
  const fdName = f('fd.name');
  const fdNum = f('fd.num');
  const pname = f('proc.pname');
  const seen: Array<{ pid: number; ppid: number; type: string; res: number; num: unknown; name: unknown; pname: unknown }> = [];
  const source = ProbeSource.open({ syscalls: ['openat', 'dup2', 'dup3', 'close'] });
  source.start((e) => {
    if (e.raw.type === 'close' && (e.raw.args[0] === 50 || e.raw.args[0] === 51)) {
      seen.push({ pid: e.raw.pid, ppid: e.raw.ppid, type: e.raw.type, res: e.raw.res, num: fdNum(e as never), name: fdName(e as never), pname: pname(e as never) });
    }
  });
  try {
    const helper = await runHelper(
      ['openat', 'cwd', 'kept.txt', '0x241', '0600', 'dup2', 'last', '50', 'openat', 'cwd', 'cloexec.txt', '0x241', '0600', 'dup3', 'last', '51', '0x80000',
        'execve', '/bin/sh', '-c', `${SYSC} close 50 close 51; exit 0`],
      dir,
    );
    // Only the helper's closes: it execs a shell (same pid) whose child does them. Any other
    // process on the machine may close its own fd 50 or 51 meanwhile.
    const ours = () => seen.filter((s) => s.pid === helper.pid || s.ppid === helper.pid);
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && ours().length < 2) await new Promise((r) => setTimeout(r, 20));
    const kept = ours().find((s) => s.num === 50);
    const dropped = ours().find((s) => s.num === 51);
    assert.ok(kept && dropped, `closes seen: ${JSON.stringify(seen)}`);
    assert.equal(kept.pname, 'sh', 'closed by the shell child');
    assert.equal(kept.res, 0);
    assert.equal(kept.name, `${dir}/kept.txt`, 'dup2 target survived exec and fork');
    assert.equal(dropped.res, -9, 'the kernel closed it at exec too');
    assert.equal(dropped.name, undefined, 'close-on-exec fd is unknown after exec');
    assert.equal(source.stats().walk.malformed, 0);
  } finally {
    source.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
