/**
 * Pure checks of the layout mirror and the decoder on hand-built records
 * (the real-kernel tests cover what the probe writes).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CaptureFormatError, CaptureReader, CHUNK_HEADER_SIZE, ChunkType, FILE_HEADER_SIZE } from '../ts/capture.ts';
import { DecodeError, countRecords, decodeBatch, forEachRecord, newDecodeStats, records, type RawEvent } from '../ts/decode.ts';
import {
  DESC_SIZE,
  DescFlag,
  EXEC_INFO_SIZE,
  EXEC_INFO_V1_SIZE,
  ExecInfoOffset,
  ExeFlag,
  H,
  HEADER_SIZE,
  Kind,
  SYSCALLS,
  SYSCALL_BY_NAME,
  Tag,
  adaptiveSyscalls,
  buildSyscallTable,
} from '../ts/layout.ts';
import { record, sampleRecords, writeSmallCapture } from './records.ts';

describe('layout and decoder', () => {
  test('the syscall table has one 12-byte entry per raw number, ids follow enum pg_syscall', () => {
    const t = buildSyscallTable(['openat']);
    assert.equal(t.length, 512 * DESC_SIZE);
    const o = 257 * DESC_SIZE; // x86_64 openat
    assert.equal(t[o] | (t[o + 1] << 8), SYSCALL_BY_NAME.get('openat')!.id);
    assert.deepEqual([t[o + 2], t[o + 4]], [1, 0], 'path arg 1, dirfd arg 0');
    assert.equal(t[2 * DESC_SIZE], 0, 'open not selected');
    assert.deepEqual(SYSCALLS.map((s) => s.id), SYSCALLS.map((_, i) => i + 1));
    assert.throws(() => buildSyscallTable(['frobnicate']), /unknown syscall "frobnicate": the probe captures open, openat/);
  });

  test('adaptive set: the rules event types the probe supports, plus the state set', () => {
    const r = adaptiveSyscalls(['execve', 'openat', 'procexit', 'container']);
    assert.deepEqual(r.syscalls, ['openat', 'execve', 'dup', 'dup2', 'dup3', 'close', 'fcntl', 'chdir', 'fchdir', 'pipe', 'pipe2', 'socketpair', 'memfd_create']);
    assert.deepEqual(r.unsupported, ['container', 'procexit']);
  });

  test('a hand-built record decodes field by field', () => {
    const rec = record(Kind.SYSCALL, SYSCALL_BY_NAME.get('openat')!.id, [[Tag.PATH0, Buffer.from('rel.txt')], [Tag.BASE0, Buffer.from('/tmp')]]);
    const [e] = decodeBatch(Buffer.concat([rec]));
    assert.equal(e.type, 'openat');
    assert.equal(e.tsNs, 123456789);
    assert.deepEqual([e.tid, e.pid, e.ppid, e.res, e.comm], [42, 41, 1, -2, 'cat']);
    assert.equal(e.args[0], -100);
    assert.equal(e.args[2], 0x241);
    assert.deepEqual([e.path0, e.base0], ['rel.txt', '/tmp']);
  });

  test('damaged batches are reported with the byte offset, not misread', () => {
    const rec = record(Kind.SYSCALL, 2, [[Tag.PATH0, Buffer.from('x')]]);
    assert.throws(() => decodeBatch(rec.subarray(0, rec.length - 1)), DecodeError);
    const badKind = Buffer.from(rec);
    badKind.writeUInt16LE(9, H.kind);
    assert.throws(() => decodeBatch(Buffer.concat([rec, badKind])), /unknown record kind 9 at byte \d+/);
    const badBlob = Buffer.from(rec);
    badBlob.writeUInt16LE(200, HEADER_SIZE + 2);
    assert.throws(() => decodeBatch(badBlob), /overruns its record/);
    assert.equal(countRecords(Buffer.concat([rec, rec])), 2);
    assert.throws(() => countRecords(Buffer.concat([rec, rec.subarray(0, 10)])), /batch ends inside a record|bad record length/);
  });

  test('unknown blob tags from a newer minor revision are skipped', () => {
    const rec = record(Kind.SYSCALL, 2, [[99, Buffer.from('future')], [Tag.PATH0, Buffer.from('/etc/x')]]);
    const [e] = decodeBatch(rec);
    assert.equal(e.path0, '/etc/x');
  });
});

describe('layout v2 additions', () => {
  const execRecord = (info: Buffer): RawEvent => decodeBatch(record(Kind.EXEC, 0, [[Tag.EXECINFO, info]], { res: 0 }))[0];

  test('a v1 exec info blob (64 bytes) decodes without the v2 fields', () => {
    const info = Buffer.alloc(EXEC_INFO_V1_SIZE);
    info.writeUInt32LE(1000, ExecInfoOffset.loginuid);
    info.writeBigUInt64LE(0x3n, ExecInfoOffset.capEffective);
    const e = execRecord(info);
    assert.equal(e.exec?.loginuid, 1000);
    assert.equal(e.exec?.capEffective, 3n);
    for (const k of ['capPermitted', 'capInheritable', 'exeFlags', 'exeWritable', 'exeUpperLayer', 'exeLowerLayer', 'exeFromMemfd']) {
      assert.ok(!(k in (e.exec ?? {})), `${k} absent from a v1 record`);
    }
  });

  test('a v2 exec info blob carries the permitted/inheritable caps and the exe flags', () => {
    const info = Buffer.alloc(EXEC_INFO_SIZE);
    info.writeBigUInt64LE((1n << 21n) | 1n, ExecInfoOffset.capPermitted);
    info.writeBigUInt64LE(1n << 40n, ExecInfoOffset.capInheritable);
    info.writeUInt32LE(ExeFlag.UPPER_LAYER | ExeFlag.FROM_MEMFD, ExecInfoOffset.exeFlags);
    const x = execRecord(info).exec;
    assert.ok(x);
    assert.equal(x.capPermitted, (1n << 21n) | 1n);
    assert.equal(x.capInheritable, 1n << 40n);
    assert.equal(x.exeFlags, 6);
    assert.deepEqual([x.exeWritable, x.exeUpperLayer, x.exeLowerLayer, x.exeFromMemfd], [false, true, false, true]);
    assert.equal(execRecord(info.subarray(0, EXEC_INFO_V1_SIZE - 1)).exec, undefined, 'shorter than v1: not decoded');
  });

  test('cgroup path and fd pair blobs', () => {
    const fds = Buffer.alloc(8);
    fds.writeInt32LE(5, 0);
    fds.writeInt32LE(6, 4);
    const [pipe] = decodeBatch(record(Kind.SYSCALL, SYSCALL_BY_NAME.get('pipe2')!.id, [[Tag.FDS, fds]], { res: 0 }));
    assert.equal(pipe.type, 'pipe2');
    assert.deepEqual(pipe.fds, { fd0: 5, fd1: 6 });
    const path = '/kubepods/besteffort/pod1234/' + 'a'.repeat(64);
    const [exec] = decodeBatch(record(Kind.EXEC, 0, [[Tag.CGROUP_PATH, Buffer.from(path)]], { res: 0 }));
    assert.equal(exec.cgroupPath, path);
  });

  test('the new syscalls have their table entries (fcntl filtered in the kernel, chdir cwd, pipe fds)', () => {
    const t = buildSyscallTable(['fcntl', 'chdir', 'pipe2', 'socketpair', 'prctl', 'mount', 'bind']);
    const flagsAt = (nr: number): number => t[nr * DESC_SIZE + 8] | (t[nr * DESC_SIZE + 9] << 8);
    assert.equal(flagsAt(72), DescFlag.FCNTL);
    assert.equal(flagsAt(80), DescFlag.CWD);
    assert.equal(flagsAt(293), DescFlag.FDS_ARG0);
    assert.equal(flagsAt(53), DescFlag.FDS_ARG3);
    assert.equal(flagsAt(157), DescFlag.PRCTL);
    assert.equal(flagsAt(49), DescFlag.ADDR_CONNECT);
    assert.equal(t[165 * DESC_SIZE + 7], 2, 'mount: the fs type string is arg 2');
    const nrs = new Set(SYSCALLS.map((s) => s.x86_64));
    assert.equal(nrs.size, SYSCALLS.length, 'no raw number twice');
  });
});

describe('lenient batch walk (DecodeStats)', () => {
  const good = (): Buffer => record(Kind.SYSCALL, SYSCALL_BY_NAME.get('openat')!.id, [[Tag.PATH0, Buffer.from('/etc/x')]]);
  const withKind = (kind: number): Buffer => {
    const r = good();
    r.writeUInt16LE(kind, H.kind);
    return r;
  };

  test('a framed record with a bad kind, syscall id or blob is counted and skipped; the rest decode', () => {
    const badSyscall = good();
    badSyscall.writeUInt16LE(999, H.syscall);
    const overrun = good();
    overrun.writeUInt16LE(200, HEADER_SIZE + 2);
    const parts = [good(), withKind(9), good(), badSyscall, overrun, good()];
    const batch = Buffer.concat(parts);
    const stats = newDecodeStats();
    const events = decodeBatch(batch, stats);
    assert.equal(events.length, 3);
    assert.ok(events.every((e) => e.path0 === '/etc/x'));
    assert.deepEqual({ ...stats, firstProblem: undefined }, { records: 3, malformedRecords: 3, droppedBytes: 0, truncatedBatches: 0, firstProblem: undefined });
    assert.equal(stats.firstProblem, `unknown record kind 9 at byte ${parts[0].length}`);
    // Strict (no stats): the same batch throws at the first bad record.
    assert.throws(() => decodeBatch(batch), /unknown record kind 9 at byte \d+/);
  });

  test('a record length below the header size or past the batch stops that batch; the rest is dropped bytes', () => {
    for (const badLen of [0, 7, HEADER_SIZE - 1, 100_000]) {
      const bad = good();
      bad.writeUInt32LE(badLen, H.len);
      const batch = Buffer.concat([good(), bad, good()]);
      const stats = newDecodeStats();
      const seen: RawEvent[] = [];
      assert.equal(forEachRecord(batch, (e) => seen.push(e), stats), 1, `length ${badLen}`);
      assert.equal(seen.length, 1);
      assert.equal(stats.malformedRecords, 1);
      assert.equal(stats.truncatedBatches, 1);
      assert.equal(stats.droppedBytes, batch.length - good().length);
      assert.equal(stats.firstProblem, `bad record length ${badLen} at byte ${good().length}`);
    }
  });

  test('a batch ending inside a record header drops those bytes', () => {
    const batch = Buffer.concat([good(), good().subarray(0, 50)]);
    const stats = newDecodeStats();
    assert.equal(decodeBatch(batch, stats).length, 1);
    assert.deepEqual([stats.malformedRecords, stats.droppedBytes, stats.truncatedBatches], [1, 50, 1]);
    assert.match(stats.firstProblem ?? '', /truncated record header \(50 bytes left in the batch\)/);
  });

  test('stats total across batches, and the generator walk agrees with the callback walk', () => {
    const stats = newDecodeStats();
    const sample = Buffer.concat(sampleRecords());
    const damaged = Buffer.concat([good(), withKind(0), good()]);
    const fromGenerator = [...records(sample, stats), ...records(damaged, stats)];
    const fromCallback = [...decodeBatch(sample), ...decodeBatch(damaged, newDecodeStats())];
    assert.deepEqual(fromGenerator, fromCallback);
    assert.equal(stats.records, sampleRecords().length + 2);
    assert.equal(stats.malformedRecords, 1);
    assert.equal(stats.firstProblem, `unknown record kind 0 at byte ${good().length}`, 'the first problem is kept');
  });

  test("a capture read with records: 'decoder' replays past a damaged record instead of aborting", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pg-lenient-'));
    try {
      const file = join(dir, 'damaged.pgcap');
      const { records: total } = await writeSmallCapture(file, 2);
      const b = readFileSync(file);
      const firstRecord = FILE_HEADER_SIZE + b.readUInt32LE(12) + CHUNK_HEADER_SIZE;
      const secondRecord = firstRecord + b.readUInt32LE(firstRecord);
      b.writeUInt32LE(3, secondRecord); // an untrustworthy length in the first chunk
      writeFileSync(file, b);

      const strict = await CaptureReader.open(file);
      await assert.rejects(async () => {
        for await (const _c of strict.chunks());
      }, CaptureFormatError);
      await strict.close();

      const reader = await CaptureReader.open(file, { records: 'decoder' });
      const stats = newDecodeStats();
      const events: RawEvent[] = [];
      for await (const c of reader.chunks()) if (c.type === ChunkType.EVENTS) for (const e of records(c.payload, stats)) events.push(e);
      await reader.close();
      assert.equal(reader.complete, true);
      const perChunk = total / 2;
      assert.equal(events.length, 1 + perChunk, 'the first record of chunk 1, then all of chunk 2');
      assert.equal(stats.malformedRecords, 1);
      assert.equal(stats.truncatedBatches, 1);
      assert.equal(stats.droppedBytes, Buffer.concat(sampleRecords()).length - (secondRecord - firstRecord));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
