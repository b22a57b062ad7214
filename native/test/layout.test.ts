/**
 * Pure checks of the layout mirror and the decoder on hand-built records
 * (the real-kernel tests cover what the probe writes).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DecodeError, countRecords, decodeBatch } from '../ts/decode.ts';
import { DESC_SIZE, H, HEADER_SIZE, Kind, SYSCALLS, SYSCALL_BY_NAME, Tag, adaptiveSyscalls, buildSyscallTable } from '../ts/layout.ts';

function record(kind: number, syscall: number, blobs: Array<[number, Buffer]>, res = -2): Buffer {
  const body = Buffer.concat(blobs.map(([tag, b]) => {
    const p = Buffer.alloc(4);
    p.writeUInt16LE(tag, 0);
    p.writeUInt16LE(b.length, 2);
    return Buffer.concat([p, b]);
  }));
  const h = Buffer.alloc(HEADER_SIZE);
  h.writeUInt32LE(HEADER_SIZE + body.length, H.len);
  h.writeUInt16LE(kind, H.kind);
  h.writeUInt16LE(syscall, H.syscall);
  h.writeBigUInt64LE(123456789n, H.tsNs);
  h.writeUInt32LE(42, H.tid);
  h.writeUInt32LE(41, H.pid);
  h.writeUInt32LE(1, H.ppid);
  h.writeUInt16LE(blobs.length, H.nblobs);
  h.writeBigInt64LE(BigInt(res), H.res);
  h.write('cat', H.comm, 'latin1');
  h.writeBigInt64LE(-100n, H.args); // AT_FDCWD
  h.writeBigUInt64LE(0x241n, H.args + 16);
  return Buffer.concat([h, body]);
}

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
    assert.deepEqual(r.syscalls, ['openat', 'execve', 'close']);
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
