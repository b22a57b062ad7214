/**
 * Capture files (format version 1, specified in docs/native.md): a fixed
 * header, a JSON metadata block, then chunks. An events chunk is one batch of
 * raw records exactly as the probe delivered them (layout: pg_event.h), so a
 * capture replays through the same decoder on any machine.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { EVENT_LAYOUT_VERSION, MIN_EVENT_LAYOUT_VERSION } from './layout.ts';
import { DecodeError, countRecords } from './decode.ts';
import type { ProcessSnapshot } from './proc-snapshot.ts';

export const CAPTURE_MAGIC = 'PGCAPTUR';
export const CAPTURE_FORMAT_VERSION = 1;
export const FILE_HEADER_SIZE = 32;
export const CHUNK_HEADER_SIZE = 16;

export const ChunkType = { EVENTS: 1, STATS: 2, END: 3 } as const;

/**
 * Largest metadata block and chunk payload a reader accepts. Captures come
 * from other machines, so a length read from the file is checked against this
 * and against the bytes left in the file before anything is allocated. The
 * probe's batches are 1 MiB by default and the writer refuses batches above
 * the limit, so only a damaged or hostile file reaches it.
 */
export const MAX_METADATA_BYTES = 256 * 1024 * 1024;
export const MAX_CHUNK_BYTES = 256 * 1024 * 1024;

export interface CaptureMetadata {
  readonly hostname: string;
  readonly kernel: string;
  readonly arch: string;
  /** RFC 3339 start time. */
  readonly startedAt: string;
  readonly syscalls: readonly string[];
  /** uid -> user name and gid -> group name on the captured machine (for user.name, evt.arg.uid). */
  readonly users: Record<string, string>;
  readonly groups: Record<string, string>;
  readonly tool: string;
  /** Processes alive at capture start (from /proc), so replay knows pre-existing parents. */
  readonly processes?: readonly ProcessSnapshot[];
}

export interface CaptureHeader {
  readonly formatVersion: number;
  readonly layoutVersion: number;
  readonly bootEpochNs: bigint;
  readonly metadata: CaptureMetadata;
}

/** A capture file that cannot be read: which file, the byte offset of the bad field, and why. */
export class CaptureFormatError extends Error {
  constructor(
    readonly path: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`${path}: byte ${offset}: ${reason}`);
    this.name = 'CaptureFormatError';
  }
}

function chunkHeader(type: number, length: number, count: number): Buffer {
  const h = Buffer.alloc(CHUNK_HEADER_SIZE);
  h.writeUInt32LE(type, 0);
  h.writeUInt32LE(length, 4);
  h.writeUInt32LE(count, 8);
  return h;
}

/** Streams a capture to disk; batches are appended as they arrive. */
export class CaptureWriter {
  readonly #out: WriteStream;
  #records = 0;
  #bytes = 0;
  #closed = false;

  private constructor(out: WriteStream) {
    this.#out = out;
  }

  static create(path: string, metadata: CaptureMetadata, bootEpochNs: bigint): CaptureWriter {
    const out = createWriteStream(path, { flags: 'w' });
    const meta = Buffer.from(JSON.stringify(metadata), 'utf8');
    if (meta.length > MAX_METADATA_BYTES) {
      throw new RangeError(`capture metadata of ${meta.length} bytes exceeds the maximum of ${MAX_METADATA_BYTES} bytes`);
    }
    const h = Buffer.alloc(FILE_HEADER_SIZE);
    h.write(CAPTURE_MAGIC, 0, 'latin1');
    h.writeUInt16LE(CAPTURE_FORMAT_VERSION, 8);
    h.writeUInt16LE(EVENT_LAYOUT_VERSION, 10);
    h.writeUInt32LE(meta.length, 12);
    h.writeBigUInt64LE(bootEpochNs, 16);
    out.write(h);
    out.write(meta);
    return new CaptureWriter(out);
  }

  get records(): number {
    return this.#records;
  }

  get bytes(): number {
    return this.#bytes;
  }

  writeBatch(batch: Buffer, count: number): void {
    if (this.#closed) throw new Error('capture is closed');
    // A reader refuses larger chunks (MAX_CHUNK_BYTES): never write a file we cannot read back.
    if (batch.length > MAX_CHUNK_BYTES) {
      throw new RangeError(`batch of ${batch.length} bytes exceeds the capture chunk maximum of ${MAX_CHUNK_BYTES} bytes: use a smaller batchBytes`);
    }
    this.#out.write(chunkHeader(ChunkType.EVENTS, batch.length, count));
    this.#out.write(batch);
    this.#records += count;
    this.#bytes += batch.length;
  }

  /** Writes the final stats and the end marker, then flushes to disk. */
  async close(stats: unknown): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const s = Buffer.from(JSON.stringify(stats), 'utf8');
    this.#out.write(chunkHeader(ChunkType.STATS, s.length, 0));
    this.#out.write(s);
    this.#out.write(chunkHeader(ChunkType.END, 0, 0));
    await new Promise<void>((resolve, reject) => {
      this.#out.once('error', reject);
      this.#out.end(() => resolve());
    });
  }
}

export interface CaptureChunk {
  readonly type: number;
  readonly payload: Buffer;
  readonly count: number;
  /** Byte offset of the chunk's header in the file (for error messages). */
  readonly offset: number;
}

/** Reads exactly `len` bytes at `pos`; fewer only when the file ends first. `len` must be checked by the caller. */
async function readExactly(fh: FileHandle, pos: number, len: number): Promise<Buffer> {
  const buf = Buffer.alloc(len);
  let got = 0;
  while (got < len) {
    const { bytesRead } = await fh.read(buf, got, len - got, pos + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got === len ? buf : buf.subarray(0, got);
}

function isStringRecord(v: unknown): v is Record<string, string> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');
}

const PROCESS_NUMBERS = ['pid', 'ppid', 'uid', 'gid', 'tty', 'pgid', 'sid'] as const;
const PROCESS_OPTIONAL_STRINGS = ['exepath', 'cwd', 'cgroup'] as const;

/** Why a process snapshot entry does not have the shape replay relies on, or undefined. */
function processProblem(p: unknown): string | undefined {
  if (typeof p !== 'object' || p === null || Array.isArray(p)) return 'is not an object';
  const o = p as Record<string, unknown>;
  for (const k of PROCESS_NUMBERS) if (typeof o[k] !== 'number') return `field "${k}" is not a number`;
  if (typeof o.comm !== 'string') return 'field "comm" is not a string';
  if (!Array.isArray(o.argv) || !o.argv.every((a) => typeof a === 'string')) return 'field "argv" is not a list of strings';
  for (const k of PROCESS_OPTIONAL_STRINGS) if (o[k] !== undefined && typeof o[k] !== 'string') return `field "${k}" is not a string`;
  if (o.loginuid !== undefined && typeof o.loginuid !== 'number') return 'field "loginuid" is not a number';
  return undefined;
}

/**
 * Checks the parsed metadata has the shape replay reads (a damaged file can
 * hold valid JSON of another shape); returns the first problem, or undefined.
 */
function metadataProblem(m: unknown): string | undefined {
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return 'metadata is not a JSON object';
  const o = m as Record<string, unknown>;
  for (const k of ['hostname', 'kernel', 'arch', 'startedAt', 'tool'] as const) {
    if (typeof o[k] !== 'string') return `metadata field "${k}" is not a string`;
  }
  if (!Array.isArray(o.syscalls) || !o.syscalls.every((x) => typeof x === 'string')) return 'metadata field "syscalls" is not a list of strings';
  if (!isStringRecord(o.users)) return 'metadata field "users" is not an object of id -> name strings';
  if (!isStringRecord(o.groups)) return 'metadata field "groups" is not an object of id -> name strings';
  if (o.processes !== undefined) {
    if (!Array.isArray(o.processes)) return 'metadata field "processes" is not a list';
    for (let i = 0; i < o.processes.length; i++) {
      const why = processProblem(o.processes[i]);
      if (why) return `metadata processes[${i}] ${why}`;
    }
  }
  return undefined;
}

export interface CaptureReadOptions {
  /**
   * 'check' (default): an events chunk whose records are not framed back to
   * back, or whose record count disagrees with its header, is a
   * CaptureFormatError. 'decoder': events chunks are yielded as stored (the
   * chunk framing is still checked) and the caller walks them with
   * forEachRecord/records and a DecodeStats, which counts and skips malformed
   * records, so one damaged record does not abort a whole replay.
   */
  readonly records?: 'check' | 'decoder';
}

/** Reads a capture file chunk by chunk without loading it whole. */
export class CaptureReader {
  /** True once the end marker was read (false for a capture cut short, e.g. by a crash). */
  complete = false;
  stats: unknown;

  private constructor(
    readonly path: string,
    readonly header: CaptureHeader,
    readonly fh: FileHandle,
    private pos: number,
    /** File size when opened: every length read from the file is checked against what remains. */
    private readonly size: number,
    private readonly checkRecords: boolean,
  ) {}

  /**
   * Opens a capture and reads its header and metadata. A file that is not a
   * capture, of another version, or whose header or metadata is damaged is a
   * CaptureFormatError naming the file, the byte offset and the reason.
   */
  static async open(path: string, options: CaptureReadOptions = {}): Promise<CaptureReader> {
    const fh = await open(path, 'r');
    try {
      const size = (await fh.stat()).size;
      const h = await readExactly(fh, 0, Math.min(FILE_HEADER_SIZE, size));
      if (h.length < FILE_HEADER_SIZE || h.toString('latin1', 0, 8) !== CAPTURE_MAGIC) {
        const why = h.length < FILE_HEADER_SIZE && h.toString('latin1', 0, 8) === CAPTURE_MAGIC ? `file is ${h.length} bytes, shorter than the ${FILE_HEADER_SIZE}-byte header` : `magic "${CAPTURE_MAGIC}" missing`;
        throw new CaptureFormatError(path, 0, `not a Peregrine capture (${why})`);
      }
      const formatVersion = h.readUInt16LE(8);
      const layoutVersion = h.readUInt16LE(10);
      if (formatVersion !== CAPTURE_FORMAT_VERSION) {
        throw new CaptureFormatError(path, 8, `capture format v${formatVersion} is not supported (this build reads v${CAPTURE_FORMAT_VERSION})`);
      }
      // Each layout version only adds to the one before, so older captures decode as they are.
      if (layoutVersion < MIN_EVENT_LAYOUT_VERSION || layoutVersion > EVENT_LAYOUT_VERSION) {
        throw new CaptureFormatError(path, 10, `event layout v${layoutVersion} is not supported (this build decodes v${MIN_EVENT_LAYOUT_VERSION} to v${EVENT_LAYOUT_VERSION})`);
      }
      const metaLen = h.readUInt32LE(12);
      if (metaLen > MAX_METADATA_BYTES) {
        throw new CaptureFormatError(path, 12, `metadata length ${metaLen} exceeds the maximum of ${MAX_METADATA_BYTES} bytes (the file is damaged)`);
      }
      const afterHeader = size - FILE_HEADER_SIZE;
      if (metaLen > afterHeader) {
        throw new CaptureFormatError(path, 12, `metadata length ${metaLen} runs past the end of the file (${afterHeader} bytes follow the header): the file is truncated or damaged`);
      }
      const meta = await readExactly(fh, FILE_HEADER_SIZE, metaLen);
      if (meta.length !== metaLen) throw new CaptureFormatError(path, FILE_HEADER_SIZE + meta.length, 'metadata block is truncated');
      let parsed: unknown;
      try {
        parsed = JSON.parse(meta.toString('utf8'));
      } catch (err) {
        throw new CaptureFormatError(path, FILE_HEADER_SIZE, `metadata is not valid JSON: ${(err as Error).message}`);
      }
      const problem = metadataProblem(parsed);
      if (problem) throw new CaptureFormatError(path, FILE_HEADER_SIZE, problem);
      const metadata = parsed as CaptureMetadata;
      const header = { formatVersion, layoutVersion, bootEpochNs: h.readBigUInt64LE(16), metadata };
      return new CaptureReader(path, header, fh, FILE_HEADER_SIZE + metaLen, size, options.records !== 'decoder');
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /**
   * Yields chunks in file order; event chunks are checked for record framing.
   * A file cut short (inside a chunk header or payload) ends the walk with
   * `complete` false; a chunk that is damaged is a CaptureFormatError.
   */
  async *chunks(): AsyncGenerator<CaptureChunk> {
    for (;;) {
      const at = this.pos;
      if (this.size - at < CHUNK_HEADER_SIZE) return; // cut short at a chunk boundary or inside a chunk header
      const h = await readExactly(this.fh, at, CHUNK_HEADER_SIZE);
      if (h.length < CHUNK_HEADER_SIZE) return; // the file shrank since it was opened
      const type = h.readUInt32LE(0);
      const len = h.readUInt32LE(4);
      const count = h.readUInt32LE(8);
      if (type !== ChunkType.EVENTS && type !== ChunkType.STATS && type !== ChunkType.END) {
        throw new CaptureFormatError(this.path, at, `unknown chunk type ${type} (the file is damaged or from a newer format)`);
      }
      if (type === ChunkType.END) {
        if (len !== 0) throw new CaptureFormatError(this.path, at + 4, `end marker has length ${len}, expected 0`);
        this.pos = at + CHUNK_HEADER_SIZE;
        this.complete = true;
        return;
      }
      if (len > MAX_CHUNK_BYTES) {
        throw new CaptureFormatError(this.path, at + 4, `chunk length ${len} exceeds the maximum of ${MAX_CHUNK_BYTES} bytes (the file is damaged)`);
      }
      const start = at + CHUNK_HEADER_SIZE;
      if (len > this.size - start) return; // cut short inside a chunk: drop the partial batch
      const payload = len === 0 ? Buffer.alloc(0) : await readExactly(this.fh, start, len);
      if (payload.length < len) return; // the file shrank since it was opened
      this.pos = start + len;
      if (type === ChunkType.EVENTS && !this.checkRecords) {
        yield { type, payload, count, offset: at };
      } else if (type === ChunkType.EVENTS) {
        let n: number;
        try {
          n = countRecords(payload);
        } catch (err) {
          if (!(err instanceof DecodeError)) throw err;
          throw new CaptureFormatError(this.path, start + err.offset, `events chunk at byte ${at}: ${err.reason}`);
        }
        if (n !== count) throw new CaptureFormatError(this.path, at + 8, `events chunk at byte ${at} holds ${n} records, header says ${count}`);
        yield { type, payload, count, offset: at };
      } else {
        try {
          this.stats = JSON.parse(payload.toString('utf8'));
        } catch {
          throw new CaptureFormatError(this.path, start, `stats chunk at byte ${at} is not valid JSON`);
        }
      }
    }
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}
