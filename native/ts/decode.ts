/**
 * Decodes batches of raw records (layout v2 and v1, see layout.ts / pg_event.h) with
 * a DataView: fixed header fields by offset, then length-prefixed blobs. One
 * batch is one Buffer as delivered by the addon or stored in a capture chunk.
 */
import {
  ARG_COUNT,
  BLOB_PREFIX,
  COMM_SIZE,
  EXEC_INFO_SIZE,
  EXEC_INFO_V1_SIZE,
  ExecInfoOffset,
  ExeFlag,
  FD_PAIR_SIZE,
  FdPairOffset,
  H,
  HEADER_SIZE,
  HeaderFlag,
  Kind,
  OPEN_HOW_SIZE,
  OpenHowOffset,
  SYSCALL_BY_ID,
  Tag,
  TUPLE_SIZE,
  TupleOffset,
} from './layout.ts';

export type EventKind = 'syscall' | 'exec' | 'fork' | 'exit';

export interface SockTuple {
  /** 'ipv4' | 'ipv6' | 'unix' | 'other'. */
  readonly family: 'ipv4' | 'ipv6' | 'unix' | 'other';
  readonly proto: number;
  readonly localAddr: string;
  readonly localPort: number;
  readonly remoteAddr: string;
  readonly remotePort: number;
}

export interface SockAddr {
  readonly family: 'ipv4' | 'ipv6' | 'unix' | 'other';
  readonly addr: string;
  readonly port: number;
}

export interface ExecInfo {
  readonly loginuid: number;
  readonly tty: number;
  readonly euid: number;
  readonly egid: number;
  readonly pgid: number;
  readonly sid: number;
  readonly exeIno: number;
  readonly exeDev: number;
  readonly exeCtimeSec: number;
  readonly exeMtimeSec: number;
  readonly capEffective: bigint;
  /**
   * Layout v2 (absent in records of v1 captures): permitted and inheritable
   * capability sets (kernel bit numbers, as capEffective), and the exe flags.
   */
  readonly capPermitted?: bigint;
  readonly capInheritable?: bigint;
  /** ExeFlag bits (Falco's execve `flags`: 1 writable, 2 upper layer, 4 from memfd, 8 lower layer). */
  readonly exeFlags?: number;
  /** exeFlags decoded: the exe is writable by the process's fs uid/gid (proc.is_exe_writable). */
  readonly exeWritable?: boolean;
  /** The exe is on an overlayfs upper layer (proc.is_exe_upper_layer). */
  readonly exeUpperLayer?: boolean;
  /** The exe is on an overlayfs lower layer (from the image). */
  readonly exeLowerLayer?: boolean;
  /** The exe is a memfd_create file (proc.is_exe_from_memfd). */
  readonly exeFromMemfd?: boolean;
}

/** The two fds pipe/pipe2/socketpair returned through user memory. */
export interface FdPair {
  readonly fd0: number;
  readonly fd1: number;
}

export interface OpenHow {
  readonly flags: number;
  readonly mode: number;
  readonly resolve: number;
}

/** One decoded record. Optional fields are undefined unless the record carried them. */
export interface RawEvent {
  readonly kind: EventKind;
  /** Syscall name for syscall records; 'procexec' | 'clone' | 'procexit' for sched records. */
  readonly type: string;
  /** Portable syscall id (0 for sched records). */
  readonly syscall: number;
  /** CLOCK_BOOTTIME nanoseconds (a double: exact to the ns for ~104 days of uptime). */
  readonly tsNs: number;
  readonly tid: number;
  readonly pid: number;
  readonly ppid: number;
  readonly uid: number;
  readonly gid: number;
  readonly res: number;
  readonly cgroupId: bigint;
  readonly comm: string;
  /** Raw arguments as signed 64-bit values (doubles: exact up to 2^53). */
  readonly args: readonly number[];
  readonly truncated: boolean;
  /** Fork/exit: a thread rather than a thread-group leader. */
  readonly thread: boolean;
  readonly path0?: string;
  readonly path1?: string;
  readonly base0?: string;
  readonly base1?: string;
  readonly sockaddr?: SockAddr;
  readonly tuple?: SockTuple;
  readonly filename?: string;
  readonly argv?: readonly string[];
  readonly env?: readonly string[];
  readonly cwd?: string;
  readonly exec?: ExecInfo;
  /** Exec: leaf name of the task's cgroup v2 (on hybrid v1 machines usually empty: the v2 root). */
  readonly cgroup?: string;
  /**
   * Exec: the task's cgroup path from its hierarchy's root, e.g.
   * `/docker/<64hex>`: the cpu controller's v1 hierarchy when it has one
   * (hybrid machines), else the cgroup v2 path. Deeper than 32 components:
   * leading ones cut and `truncated` set.
   */
  readonly cgroupPath?: string;
  /** memfd_create: the name; init/finit_module: the parameters; prctl PR_SET_NAME/PR_GET_NAME: the name. */
  readonly str?: string;
  readonly fdPath?: string;
  readonly openHow?: OpenHow;
  /** pipe/pipe2/socketpair on success: the two fds. */
  readonly fds?: FdPair;
}

/** A batch that cannot be decoded: the reason and the byte offset inside the batch. */
export class DecodeError extends Error {
  constructor(
    readonly reason: string,
    readonly offset: number,
  ) {
    super(`${reason} at byte ${offset}`);
    this.name = 'DecodeError';
  }
}

const KIND_NAMES: Record<number, EventKind> = {
  [Kind.SYSCALL]: 'syscall',
  [Kind.EXEC]: 'exec',
  [Kind.FORK]: 'fork',
  [Kind.EXIT]: 'exit',
};
const SCHED_TYPES: Record<EventKind, string> = { syscall: '', exec: 'procexec', fork: 'clone', exit: 'procexit' };

function i64(dv: DataView, off: number): number {
  return dv.getInt32(off + 4, true) * 4294967296 + dv.getUint32(off, true);
}

function u64(dv: DataView, off: number): number {
  return dv.getUint32(off + 4, true) * 4294967296 + dv.getUint32(off, true);
}

function ipv4(b: Uint8Array, off: number): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

/** An IPv6 address as inet_ntop prints it, from 16 bytes at `off` (network order). */
export function ipv6Text(b: ArrayLike<number>, off = 0): string {
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(((b[off + i] << 8) | b[off + i + 1]).toString(16));
  // Compress the longest run of zero groups, as inet_ntop does.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (parts[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && parts[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return parts.join(':');
  const head = parts.slice(0, best).join(':');
  const tail = parts.slice(best + bestLen).join(':');
  return `${head}::${tail}`;
}

function familyName(f: number): SockTuple['family'] {
  return f === 2 ? 'ipv4' : f === 10 ? 'ipv6' : f === 1 ? 'unix' : 'other';
}

function decodeSockAddr(buf: Buffer, off: number, len: number): SockAddr | undefined {
  if (len < 2) return undefined;
  const family = buf.readUInt16LE(off);
  if (family === 2 && len >= 8) {
    return { family: 'ipv4', port: buf.readUInt16BE(off + 2), addr: ipv4(buf, off + 4) };
  }
  if (family === 10 && len >= 24) {
    return { family: 'ipv6', port: buf.readUInt16BE(off + 2), addr: ipv6Text(buf, off + 8) };
  }
  if (family === 1) {
    let end = off + 2;
    const stop = off + len;
    // Abstract sockets start with a NUL; Falco prints them with a leading '@'.
    const abstract = len > 2 && buf[end] === 0;
    if (abstract) end++;
    const start = end;
    while (end < stop && buf[end] !== 0) end++;
    return { family: 'unix', port: 0, addr: (abstract ? '@' : '') + buf.toString('utf8', start, end) };
  }
  return { family: 'other', port: 0, addr: '' };
}

function decodeTuple(buf: Buffer, off: number): SockTuple {
  const family = familyName(buf.readUInt16LE(off + TupleOffset.family));
  const sport = buf.readUInt16LE(off + TupleOffset.sport);
  const dport = buf.readUInt16LE(off + TupleOffset.dport);
  const proto = buf.readUInt16LE(off + TupleOffset.proto);
  const addr = (o: number): string => (family === 'ipv4' ? ipv4(buf, o) : family === 'ipv6' ? ipv6Text(buf, o) : '');
  return {
    family,
    proto,
    localAddr: addr(off + TupleOffset.saddr),
    localPort: sport,
    remoteAddr: addr(off + TupleOffset.daddr),
    remotePort: dport,
  };
}

function splitNul(buf: Buffer, start: number, end: number): string[] {
  const out: string[] = [];
  let s = start;
  for (let i = start; i < end; i++) {
    if (buf[i] === 0) {
      out.push(buf.toString('utf8', s, i));
      s = i + 1;
    }
  }
  if (s < end) out.push(buf.toString('utf8', s, end));
  return out;
}

function decodeExecInfo(dv: DataView, off: number, len: number): ExecInfo {
  const X = ExecInfoOffset;
  const base = {
    loginuid: dv.getUint32(off + X.loginuid, true),
    tty: dv.getUint32(off + X.tty, true),
    euid: dv.getUint32(off + X.euid, true),
    egid: dv.getUint32(off + X.egid, true),
    pgid: dv.getUint32(off + X.pgid, true),
    sid: dv.getUint32(off + X.sid, true),
    exeIno: u64(dv, off + X.exeIno),
    exeDev: dv.getUint32(off + X.exeDev, true),
    exeCtimeSec: i64(dv, off + X.exeCtimeSec),
    exeMtimeSec: i64(dv, off + X.exeMtimeSec),
    capEffective: dv.getBigUint64(off + X.capEffective, true),
  };
  if (len < EXEC_INFO_SIZE) return base; // a layout v1 record
  const exeFlags = dv.getUint32(off + X.exeFlags, true);
  return {
    ...base,
    capPermitted: dv.getBigUint64(off + X.capPermitted, true),
    capInheritable: dv.getBigUint64(off + X.capInheritable, true),
    exeFlags,
    exeWritable: (exeFlags & ExeFlag.WRITABLE) !== 0,
    exeUpperLayer: (exeFlags & ExeFlag.UPPER_LAYER) !== 0,
    exeLowerLayer: (exeFlags & ExeFlag.LOWER_LAYER) !== 0,
    exeFromMemfd: (exeFlags & ExeFlag.FROM_MEMFD) !== 0,
  };
}

/**
 * The last comm decoded and its bytes: consecutive records mostly come from
 * the same few tasks, so comparing at most 16 bytes beats building a string
 * per record (a new string per record showed in replay profiles).
 */
const lastCommBytes = new Uint8Array(COMM_SIZE);
let lastCommLength = -1;
let lastComm = '';

function commString(buf: Buffer, start: number): string {
  let end = start;
  const max = start + COMM_SIZE;
  while (end < max && buf[end] !== 0) end++;
  const n = end - start;
  if (n === lastCommLength) {
    let i = 0;
    while (i < n && buf[start + i] === lastCommBytes[i]) i++;
    if (i === n) return lastComm;
  }
  lastComm = buf.toString('utf8', start, end);
  lastCommLength = n;
  for (let i = 0; i < n; i++) lastCommBytes[i] = buf[start + i]!;
  return lastComm;
}

function readArgs(dv: DataView, off: number): number[] {
  const args = new Array<number>(ARG_COUNT);
  for (let i = 0; i < ARG_COUNT; i++) args[i] = i64(dv, off + i * 8);
  return args;
}

/** Decodes the record at `off` (the next one starts `len` bytes later); a malformed record throws DecodeError. */
export function decodeRecord(buf: Buffer, dv: DataView, off: number): RawEvent {
  if (off + HEADER_SIZE > buf.length) throw new DecodeError('truncated record header', off);
  const len = dv.getUint32(off + H.len, true);
  if (len < HEADER_SIZE || off + len > buf.length) throw new DecodeError(`bad record length ${len}`, off);
  const kindCode = dv.getUint16(off + H.kind, true);
  const kind = KIND_NAMES[kindCode];
  if (!kind) throw new DecodeError(`unknown record kind ${kindCode}`, off);
  const syscall = dv.getUint16(off + H.syscall, true);
  let type = SCHED_TYPES[kind];
  if (kind === 'syscall') {
    const spec = SYSCALL_BY_ID[syscall];
    if (!spec) throw new DecodeError(`unknown syscall id ${syscall}`, off);
    type = spec.name;
  }
  const hflags = dv.getUint16(off + H.flags, true);
  const ev: { -readonly [K in keyof RawEvent]: RawEvent[K] } = {
    kind,
    type,
    syscall,
    tsNs: u64(dv, off + H.tsNs),
    tid: dv.getUint32(off + H.tid, true),
    pid: dv.getUint32(off + H.pid, true),
    ppid: dv.getUint32(off + H.ppid, true),
    uid: dv.getUint32(off + H.uid, true),
    gid: dv.getUint32(off + H.gid, true),
    res: i64(dv, off + H.res),
    cgroupId: dv.getBigUint64(off + H.cgroupId, true),
    comm: commString(buf, off + H.comm),
    args: readArgs(dv, off + H.args),
    truncated: (hflags & HeaderFlag.TRUNCATED) !== 0,
    thread: (hflags & HeaderFlag.THREAD) !== 0,
    // Every optional field exists on every record (undefined unless its blob
    // came): one object shape for all records keeps property reads in the
    // state, extractor and rules code monomorphic (adding them per blob made
    // a new hidden class per combination).
    path0: undefined,
    path1: undefined,
    base0: undefined,
    base1: undefined,
    sockaddr: undefined,
    tuple: undefined,
    filename: undefined,
    argv: undefined,
    env: undefined,
    cwd: undefined,
    exec: undefined,
    cgroup: undefined,
    cgroupPath: undefined,
    str: undefined,
    fdPath: undefined,
    openHow: undefined,
    fds: undefined,
  };
  const nblobs = dv.getUint16(off + H.nblobs, true);
  let p = off + HEADER_SIZE;
  const end = off + len;
  for (let i = 0; i < nblobs; i++) {
    if (p + BLOB_PREFIX > end) throw new DecodeError(`blob ${i} overruns its record`, p);
    const tag = dv.getUint16(p, true);
    const blen = dv.getUint16(p + 2, true);
    const s = p + BLOB_PREFIX;
    const e = s + blen;
    if (e > end) throw new DecodeError(`blob ${i} (tag ${tag}) overruns its record`, p);
    switch (tag) {
      case Tag.PATH0: ev.path0 = buf.toString('utf8', s, e); break;
      case Tag.PATH1: ev.path1 = buf.toString('utf8', s, e); break;
      case Tag.BASE0: ev.base0 = buf.toString('utf8', s, e); break;
      case Tag.BASE1: ev.base1 = buf.toString('utf8', s, e); break;
      case Tag.SOCKADDR: ev.sockaddr = decodeSockAddr(buf, s, blen); break;
      case Tag.TUPLE: if (blen >= TUPLE_SIZE) ev.tuple = decodeTuple(buf, s); break;
      case Tag.FILENAME: ev.filename = buf.toString('utf8', s, e); break;
      case Tag.ARGV: ev.argv = splitNul(buf, s, e); break;
      case Tag.ENV: ev.env = splitNul(buf, s, e); break;
      case Tag.CWD: ev.cwd = buf.toString('utf8', s, e); break;
      case Tag.EXECINFO: if (blen >= EXEC_INFO_V1_SIZE) ev.exec = decodeExecInfo(dv, s, blen); break;
      case Tag.CGROUP: ev.cgroup = buf.toString('utf8', s, e); break;
      case Tag.CGROUP_PATH: ev.cgroupPath = buf.toString('utf8', s, e); break;
      case Tag.FDS:
        if (blen >= FD_PAIR_SIZE) ev.fds = { fd0: dv.getInt32(s + FdPairOffset.fd0, true), fd1: dv.getInt32(s + FdPairOffset.fd1, true) };
        break;
      case Tag.STR: ev.str = buf.toString('utf8', s, e); break;
      case Tag.FDPATH: ev.fdPath = buf.toString('utf8', s, e); break;
      case Tag.OPENHOW:
        if (blen >= OPEN_HOW_SIZE) {
          ev.openHow = { flags: u64(dv, s + OpenHowOffset.flags), mode: u64(dv, s + OpenHowOffset.mode), resolve: u64(dv, s + OpenHowOffset.resolve) };
        }
        break;
      default:
        break; // unknown tags from a newer minor revision are skipped, not fatal
    }
    p = e;
  }
  return ev;
}

/**
 * What a lenient batch walk skipped instead of throwing. Pass the same object
 * for every batch of a run (a replay, a live session) to total them.
 */
export interface DecodeStats {
  /** Records decoded and handed to the caller. */
  records: number;
  /**
   * Malformed records: framed (their length fits the batch) but not decodable
   * (unknown kind or syscall id, a blob overrunning the record) and skipped,
   * plus each record whose length could not be trusted (see droppedBytes).
   */
  malformedRecords: number;
  /**
   * Bytes left undecoded after a record whose length is below the header size
   * or runs past its batch: the next record cannot be found, so the rest of
   * that batch (from that record on) is dropped.
   */
  droppedBytes: number;
  /** Batches cut short that way. */
  truncatedBatches: number;
  /** The first problem seen, with its byte offset inside its batch (later ones are only counted). */
  firstProblem?: string;
}

export function newDecodeStats(): DecodeStats {
  return { records: 0, malformedRecords: 0, droppedBytes: 0, truncatedBatches: 0 };
}

/** The length of the record at `off` when the batch frames it (header fits, length within the batch), else why not. */
function frameLength(batch: Buffer, dv: DataView, off: number): number | DecodeError {
  if (off + HEADER_SIZE > batch.length) return new DecodeError(`truncated record header (${batch.length - off} bytes left in the batch)`, off);
  const len = dv.getUint32(off + H.len, true);
  if (len < HEADER_SIZE || len > batch.length - off) return new DecodeError(`bad record length ${len}`, off);
  return len;
}

interface Cursor {
  off: number;
}

/**
 * Decodes the record at `cur.off` and moves the cursor past it. Strict (no
 * stats): a problem throws DecodeError. Lenient: a framed but undecodable
 * record is counted and skipped (returns undefined); an unframed one is
 * counted, the rest of the batch is counted as dropped bytes, and the cursor
 * moves to the end of the batch.
 */
function step(batch: Buffer, dv: DataView, cur: Cursor, stats: DecodeStats | undefined): RawEvent | undefined {
  const off = cur.off;
  const len = frameLength(batch, dv, off);
  if (typeof len !== 'number') {
    if (!stats) throw len;
    stats.malformedRecords++;
    stats.firstProblem ??= len.message;
    stats.droppedBytes += batch.length - off;
    stats.truncatedBatches++;
    cur.off = batch.length;
    return undefined;
  }
  cur.off = off + len;
  if (!stats) return decodeRecord(batch, dv, off);
  try {
    const ev = decodeRecord(batch, dv, off);
    stats.records++;
    return ev;
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err;
    stats.malformedRecords++;
    stats.firstProblem ??= err.message;
    return undefined;
  }
}

/**
 * Calls `fn` for each record of a batch, in order; returns how many it decoded.
 * Without `stats` a malformed record throws DecodeError (a batch from the
 * probe is trusted); with `stats` it is counted there and skipped, so one bad
 * record does not abort a whole replay (see DecodeStats).
 */
export function forEachRecord(batch: Buffer, fn: (ev: RawEvent) => void, stats?: DecodeStats): number {
  const dv = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
  const cur: Cursor = { off: 0 };
  let n = 0;
  while (cur.off < batch.length) {
    const ev = step(batch, dv, cur, stats);
    if (ev === undefined) continue;
    n++;
    fn(ev);
  }
  return n;
}

/**
 * The same walk as forEachRecord, as a generator for pull-based consumers
 * (a replay that applies state as each event is pulled).
 */
export function* records(batch: Buffer, stats?: DecodeStats): Generator<RawEvent, void, undefined> {
  const dv = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
  const cur: Cursor = { off: 0 };
  while (cur.off < batch.length) {
    const ev = step(batch, dv, cur, stats);
    if (ev !== undefined) yield ev;
  }
}

/** Every record of a batch; with `stats`, malformed records are counted and skipped (see forEachRecord). */
export function decodeBatch(batch: Buffer, stats?: DecodeStats): RawEvent[] {
  const out: RawEvent[] = [];
  forEachRecord(batch, (ev) => out.push(ev), stats);
  return out;
}

/** Counts records and checks their framing without decoding them (cheap). */
export function countRecords(batch: Buffer): number {
  let off = 0;
  let n = 0;
  while (off + 4 <= batch.length) {
    const len = batch.readUInt32LE(off);
    if (len < HEADER_SIZE) throw new DecodeError(`bad record length ${len}`, off);
    off += len;
    n++;
  }
  if (off !== batch.length) throw new DecodeError('batch ends inside a record', off);
  return n;
}
