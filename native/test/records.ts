/**
 * Hand-built raw records and small captures for tests that need no probe:
 * the layout tests, the crafted-file regressions and the capture fuzz suite.
 */
import { CAPTURE_FORMAT_VERSION, CAPTURE_MAGIC, CaptureWriter, FILE_HEADER_SIZE, type CaptureMetadata } from '../ts/capture.ts';
import { EVENT_LAYOUT_VERSION, H, HEADER_SIZE, HeaderFlag, Kind, SYSCALL_BY_NAME, Tag } from '../ts/layout.ts';

export interface RecordFields {
  readonly res?: number;
  readonly tid?: number;
  readonly pid?: number;
  readonly ppid?: number;
  readonly flags?: number;
}

/** One record of layout v1: the 120-byte header and its blobs. */
export function record(kind: number, syscall: number, blobs: Array<[number, Buffer]>, fields: RecordFields = {}): Buffer {
  const body = Buffer.concat(
    blobs.map(([tag, b]) => {
      const p = Buffer.alloc(4);
      p.writeUInt16LE(tag, 0);
      p.writeUInt16LE(b.length, 2);
      return Buffer.concat([p, b]);
    }),
  );
  const h = Buffer.alloc(HEADER_SIZE);
  h.writeUInt32LE(HEADER_SIZE + body.length, H.len);
  h.writeUInt16LE(kind, H.kind);
  h.writeUInt16LE(syscall, H.syscall);
  h.writeBigUInt64LE(123456789n, H.tsNs);
  h.writeUInt32LE(fields.tid ?? 42, H.tid);
  h.writeUInt32LE(fields.pid ?? 41, H.pid);
  h.writeUInt32LE(fields.ppid ?? 1, H.ppid);
  h.writeUInt16LE(blobs.length, H.nblobs);
  h.writeUInt16LE(fields.flags ?? 0, H.flags);
  h.writeBigInt64LE(BigInt(fields.res ?? -2), H.res);
  h.write('cat', H.comm, 'latin1');
  h.writeBigInt64LE(-100n, H.args); // AT_FDCWD
  h.writeBigUInt64LE(0x241n, H.args + 16);
  return Buffer.concat([h, body]);
}

const id = (name: string): number => SYSCALL_BY_NAME.get(name)!.id;

/** A batch with one record of each kind and most blob tags. */
export function sampleRecords(): Buffer[] {
  const tuple = Buffer.alloc(40);
  tuple.writeUInt16LE(2, 0);
  tuple.writeUInt16LE(40000, 2);
  tuple.writeUInt16LE(443, 4);
  tuple.writeUInt16LE(6, 6);
  Buffer.from([10, 0, 0, 1]).copy(tuple, 8);
  Buffer.from([93, 184, 216, 34]).copy(tuple, 24);
  const sockaddr = Buffer.from([2, 0, 1, 187, 93, 184, 216, 34]);
  const execInfo = Buffer.alloc(64);
  execInfo.writeUInt32LE(1000, 0);
  execInfo.writeBigUInt64LE(0x1234n, 24);
  return [
    record(Kind.FORK, 0, [], { tid: 43, pid: 43, ppid: 41, res: 0 }),
    record(Kind.EXEC, 0, [
      [Tag.FILENAME, Buffer.from('/usr/bin/cat')],
      [Tag.ARGV, Buffer.from('cat\0/etc/shadow')],
      [Tag.ENV, Buffer.from('HOME=/root\0TERM=xterm')],
      [Tag.CWD, Buffer.from('/root')],
      [Tag.EXECINFO, execInfo],
      [Tag.CGROUP, Buffer.from('session-1.scope')],
    ], { tid: 43, pid: 43, ppid: 41, res: 0 }),
    record(Kind.SYSCALL, id('openat'), [[Tag.PATH0, Buffer.from('rel.txt')], [Tag.BASE0, Buffer.from('/tmp')]]),
    record(Kind.SYSCALL, id('connect'), [[Tag.SOCKADDR, sockaddr], [Tag.TUPLE, tuple]], { res: 0 }),
    record(Kind.SYSCALL, id('renameat2'), [[Tag.PATH0, Buffer.from('a')], [Tag.PATH1, Buffer.from('b')], [Tag.BASE0, Buffer.from('/x')], [Tag.BASE1, Buffer.from('/y')]], { res: 0 }),
    record(Kind.EXIT, 0, [], { tid: 43, pid: 43, ppid: 41, res: 0, flags: HeaderFlag.THREAD }),
  ];
}

export const SAMPLE_METADATA: CaptureMetadata = {
  hostname: 'fuzz-host',
  kernel: '6.18.0',
  arch: 'x64',
  startedAt: '2025-01-01T00:00:00.000Z',
  syscalls: ['openat', 'connect', 'renameat2'],
  users: { '0': 'root' },
  groups: { '0': 'root' },
  tool: 'test',
  processes: [{ pid: 41, ppid: 1, comm: 'bash', argv: ['bash'], uid: 0, gid: 0, tty: 0, pgid: 41, sid: 41 }],
};

/** Writes a small valid capture: `batches` events chunks of `recs` (the sample records), stats and the end marker. */
export async function writeSmallCapture(path: string, batches = 2, recs: readonly Buffer[] = sampleRecords()): Promise<{ records: number }> {
  const w = CaptureWriter.create(path, SAMPLE_METADATA, 1_700_000_000_000_000_000n);
  for (let i = 0; i < batches; i++) w.writeBatch(Buffer.concat(recs), recs.length);
  await w.close({ kernel: { events: recs.length * batches, dropsBuffer: 0 }, user: { drops: 0 } });
  return { records: recs.length * batches };
}

/** A capture file header of the current format and layout whose metadata length field says `metaLen` (crafted files start with one). */
export function fileHeader(metaLen: number): Buffer {
  const h = Buffer.alloc(FILE_HEADER_SIZE);
  h.write(CAPTURE_MAGIC, 0, 'latin1');
  h.writeUInt16LE(CAPTURE_FORMAT_VERSION, 8);
  h.writeUInt16LE(EVENT_LAYOUT_VERSION, 10);
  h.writeUInt32LE(metaLen, 12);
  return h;
}
