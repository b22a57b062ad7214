/**
 * Capture files (format version 1, specified in docs/native.md): a fixed
 * header, a JSON metadata block, then chunks. An events chunk is one batch of
 * raw records exactly as the probe delivered them (layout: pg_event.h), so a
 * capture replays through the same decoder on any machine.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { EVENT_LAYOUT_VERSION } from './layout.ts';
import { countRecords } from './decode.ts';
import type { ProcessSnapshot } from './proc-snapshot.ts';

export const CAPTURE_MAGIC = 'PGCAPTUR';
export const CAPTURE_FORMAT_VERSION = 1;
export const FILE_HEADER_SIZE = 32;
export const CHUNK_HEADER_SIZE = 16;

export const ChunkType = { EVENTS: 1, STATS: 2, END: 3 } as const;

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

export class CaptureFormatError extends Error {
  constructor(readonly path: string, message: string) {
    super(`${path}: ${message}`);
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
}

async function readExactly(fh: FileHandle, pos: number, len: number): Promise<Buffer | undefined> {
  const buf = Buffer.alloc(len);
  let got = 0;
  while (got < len) {
    const { bytesRead } = await fh.read(buf, got, len - got, pos + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got === len ? buf : got === 0 ? undefined : buf.subarray(0, got);
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
  ) {}

  static async open(path: string): Promise<CaptureReader> {
    const fh = await open(path, 'r');
    try {
      const h = await readExactly(fh, 0, FILE_HEADER_SIZE);
      if (!h || h.length < FILE_HEADER_SIZE || h.toString('latin1', 0, 8) !== CAPTURE_MAGIC) {
        throw new CaptureFormatError(path, `not a Peregrine capture (magic "${CAPTURE_MAGIC}" missing)`);
      }
      const formatVersion = h.readUInt16LE(8);
      const layoutVersion = h.readUInt16LE(10);
      if (formatVersion !== CAPTURE_FORMAT_VERSION) {
        throw new CaptureFormatError(path, `capture format v${formatVersion} is not supported (this build reads v${CAPTURE_FORMAT_VERSION})`);
      }
      if (layoutVersion !== EVENT_LAYOUT_VERSION) {
        throw new CaptureFormatError(path, `event layout v${layoutVersion} is not supported (this build decodes v${EVENT_LAYOUT_VERSION})`);
      }
      const metaLen = h.readUInt32LE(12);
      const meta = await readExactly(fh, FILE_HEADER_SIZE, metaLen);
      if (!meta || meta.length !== metaLen) throw new CaptureFormatError(path, 'metadata block is truncated');
      let metadata: CaptureMetadata;
      try {
        metadata = JSON.parse(meta.toString('utf8')) as CaptureMetadata;
      } catch (err) {
        throw new CaptureFormatError(path, `metadata is not valid JSON: ${(err as Error).message}`);
      }
      const header = { formatVersion, layoutVersion, bootEpochNs: h.readBigUInt64LE(16), metadata };
      return new CaptureReader(path, header, fh, FILE_HEADER_SIZE + metaLen);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /** Yields chunks in file order; event chunks are checked for record framing. */
  async *chunks(): AsyncGenerator<CaptureChunk> {
    for (;;) {
      const h = await readExactly(this.fh, this.pos, CHUNK_HEADER_SIZE);
      if (!h) return; // cut short at a chunk boundary
      if (h.length < CHUNK_HEADER_SIZE) return; // cut short inside a chunk header
      const type = h.readUInt32LE(0);
      const len = h.readUInt32LE(4);
      const count = h.readUInt32LE(8);
      const at = this.pos;
      this.pos += CHUNK_HEADER_SIZE;
      if (type === ChunkType.END) {
        this.complete = true;
        return;
      }
      const payload = len === 0 ? Buffer.alloc(0) : await readExactly(this.fh, this.pos, len);
      if (!payload || payload.length < len) return; // cut short inside a chunk: drop the partial batch
      this.pos += len;
      if (type === ChunkType.EVENTS) {
        const n = countRecords(payload);
        if (n !== count) throw new CaptureFormatError(this.path, `chunk at byte ${at} holds ${n} records, header says ${count}`);
        yield { type, payload, count };
      } else if (type === ChunkType.STATS) {
        try {
          this.stats = JSON.parse(payload.toString('utf8'));
        } catch {
          throw new CaptureFormatError(this.path, `stats chunk at byte ${at} is not valid JSON`);
        }
      } else {
        throw new CaptureFormatError(this.path, `unknown chunk type ${type} at byte ${at}`);
      }
    }
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}
