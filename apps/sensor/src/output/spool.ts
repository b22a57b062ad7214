import { mkdir, open, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { stderrLogger } from './types.ts';
import type { OutputLogger } from './types.ts';

/**
 * The on-disk spool of the hub output: alerts waiting for the hub, oldest
 * first, bounded in bytes.
 *
 * Layout of the folder:
 * - `00000000000000000001.seg`, … segment files, appended in order. One
 *   record per line: `<crc32 hex> <spooled-at ms> <alert JSON>\n`; the
 *   checksum covers everything after the first space, so a torn or damaged
 *   line is recognised and skipped (counted as `corrupt`), never sent.
 * - `cursor.json` `{"segment": n, "offset": bytes}`: where the oldest unsent
 *   record starts, replaced atomically (write + fdatasync + rename) after
 *   the hub acknowledged what lies before it. Segments before it are deleted.
 * - `LOCK`: the pid of the process using the folder (one sensor per spool).
 *
 * Appends are written and fdatasync'ed before `append` resolves. A crash
 * after the hub acknowledged a batch and before the cursor moved sends that
 * batch again on restart (at-least-once, a window of one fdatasync+rename).
 * Past `maxBytes` the oldest whole segment is deleted and its unsent records
 * are counted as `dropped`.
 */

export const DEFAULT_SPOOL_MAX_BYTES = 256 * 1024 * 1024;

export interface SpoolOptions {
  /** The spool folder (created if missing, mode 0700). */
  readonly dir: string;
  /** Most bytes on disk; past it the oldest alerts are dropped. @defaultValue 256 MiB */
  readonly maxBytes?: number;
  /** Size at which a new segment file is started. @defaultValue maxBytes/8, between 4 KiB and 16 MiB */
  readonly segmentBytes?: number;
  readonly logger?: OutputLogger;
}

/** A place in the spool: segment number, byte offset in it, and line number (for counting). */
export interface SpoolPosition {
  readonly segment: number;
  readonly offset: number;
  /** Lines before `offset` in this segment, counted from where this process started reading it. */
  readonly line: number;
}

export interface SpoolRecord {
  /** The alert as JSON text, exactly as it was appended. */
  readonly json: string;
  /** Date.now() when it was appended. */
  readonly spooledAt: number;
  /** Commit this to remove the record and every one before it. */
  readonly end: SpoolPosition;
}

export interface SpoolBatch {
  readonly records: readonly SpoolRecord[];
  /** After the last record and any corrupt lines read past; commit it when all records are done. */
  readonly end: SpoolPosition;
}

/** What `append` takes: the alert JSON and when it was handed over. */
export interface SpoolEntry {
  readonly json: string;
  readonly spooledAt: number;
}

interface Segment {
  readonly seq: number;
  /** Bytes in the file (written or about to be, within one append). */
  bytes: number;
  /** Complete lines in the file, counted from the position this process started from. */
  lines: number;
  /** spooledAt of the first record in the file (head: of the record at the cursor), if known. */
  firstSpooledAt: number | undefined;
}

const SEGMENT_NAME = /^(\d{20})\.seg$/;
const NEWLINE = 0x0a;
const READ_CHUNK_BYTES = 4 * 1024 * 1024;
const openDirs = new Set<string>();

function segmentName(seq: number): string {
  return `${String(seq).padStart(20, '0')}.seg`;
}

/** One spool line for an alert. */
export function encodeSpoolLine(json: string, spooledAt: number): string {
  const body = `${spooledAt} ${json}`;
  return `${crc32(body).toString(16).padStart(8, '0')} ${body}\n`;
}

/** The record in one line (without its newline), or undefined when the line is damaged. */
export function decodeSpoolLine(line: string): SpoolEntry | undefined {
  if (line.length < 12 || line[8] !== ' ') return undefined;
  const body = line.slice(9);
  if (crc32(body).toString(16).padStart(8, '0') !== line.slice(0, 8)) return undefined;
  const space = body.indexOf(' ');
  const spooledAt = Number(body.slice(0, space));
  if (space <= 0 || !Number.isSafeInteger(spooledAt)) return undefined;
  return { json: body.slice(space + 1), spooledAt };
}

function spooledAtOf(line: string): number | undefined {
  const end = line.indexOf(' ', 9);
  const n = Number(line.slice(9, end));
  return end > 9 && Number.isSafeInteger(n) ? n : undefined;
}

export class Spool {
  private segments: Segment[] = [];
  private cursor: SpoolPosition;
  private nextSeq: number;
  private writer: { seq: number; handle: FileHandle } | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;
  private appendedTotal = 0;
  private droppedTotal = 0;
  private corruptTotal = 0;
  /**
   * Lines an append in progress has counted in its segments but not yet
   * written and synced, by segment: not on disk yet, so not in `records`
   * (the caller still counts them as being written).
   */
  private readonly unsyncedLines = new Map<number, number>();
  readonly maxBytes: number;
  readonly segmentBytes: number;

  private constructor(
    readonly dir: string,
    private readonly logger: OutputLogger,
    maxBytes: number,
    segmentBytes: number,
    cursor: SpoolPosition,
  ) {
    this.maxBytes = maxBytes;
    this.segmentBytes = segmentBytes;
    this.cursor = cursor;
    this.nextSeq = cursor.segment;
  }

  /**
   * Opens the folder, resuming where a previous process stopped: unsent
   * records stay, a torn last line (a crash mid-write) is cut off and
   * counted as corrupt.
   */
  static async open(options: SpoolOptions): Promise<Spool> {
    const maxBytes = options.maxBytes ?? DEFAULT_SPOOL_MAX_BYTES;
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 8192) throw new Error(`spool: maxBytes must be a whole number of bytes >= 8192, got ${maxBytes}`);
    const segmentBytes = options.segmentBytes ?? Math.min(16 * 1024 * 1024, Math.max(4096, Math.floor(maxBytes / 8)));
    if (!Number.isSafeInteger(segmentBytes) || segmentBytes < 1024 || segmentBytes > maxBytes / 2) {
      throw new Error(`spool: segmentBytes must be between 1024 and maxBytes/2 (${Math.floor(maxBytes / 2)}), got ${segmentBytes}`);
    }
    const logger = options.logger ?? stderrLogger;
    const dir = options.dir;
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw new Error(`spool: cannot create the folder ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    await takeLock(dir, logger);
    try {
      const spool = new Spool(dir, logger, maxBytes, segmentBytes, await readCursor(dir, logger));
      await spool.load();
      return spool;
    } catch (e) {
      await releaseLock(dir);
      throw e;
    }
  }

  /** Unsent records on disk (an append in progress counts once it is synced). */
  get records(): number {
    let n = 0;
    for (const s of this.segments) n += s.lines - (this.unsyncedLines.get(s.seq) ?? 0);
    return this.segments.length === 0 ? 0 : n - this.cursor.line;
  }

  /** Unsent bytes on disk (what lies after the cursor). */
  get bytes(): number {
    let n = 0;
    for (const s of this.segments) n += s.bytes;
    return this.segments.length === 0 ? 0 : n - this.cursor.offset;
  }

  /** Bytes the segment files take on disk (what the bound applies to). */
  get diskBytes(): number {
    let n = 0;
    for (const s of this.segments) n += s.bytes;
    return n;
  }

  get isEmpty(): boolean {
    return this.records === 0 && this.bytes === 0;
  }

  /** When the oldest unsent record was appended (Date.now() ms), if any. */
  get oldestSpooledAt(): number | undefined {
    return this.isEmpty ? undefined : this.segments[0]?.firstSpooledAt;
  }

  /** Records appended, dropped past the bound, and skipped as damaged since open. */
  counters(): { appended: number; dropped: number; corrupt: number } {
    return { appended: this.appendedTotal, dropped: this.droppedTotal, corrupt: this.corruptTotal };
  }

  /**
   * Appends records in order and fdatasyncs them. Past `maxBytes` the oldest
   * segments go first (returns how many unsent records that dropped).
   */
  append(entries: readonly SpoolEntry[]): Promise<number> {
    return this.serial(() => this.appendNow(entries));
  }

  /** Up to `maxRecords` records (and about `maxBytes` bytes) from the oldest, without removing them. */
  read(maxRecords: number, maxBytes = READ_CHUNK_BYTES): Promise<SpoolBatch> {
    return this.serial(() => this.readNow(maxRecords, maxBytes));
  }

  /** Removes everything before `position` (records the hub acknowledged or refused). */
  commit(position: SpoolPosition): Promise<void> {
    return this.serial(() => this.commitNow(position));
  }

  async close(): Promise<void> {
    await this.serial(async () => {
      if (this.closed) return;
      this.closed = true;
      if (this.writer) {
        await this.writer.handle.datasync().catch(() => undefined);
        await this.writer.handle.close();
        this.writer = undefined;
      }
    });
    await releaseLock(this.dir);
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.chain.then(() => {
      if (this.closed) throw new Error(`spool ${this.dir} is closed`);
      return work();
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async load(): Promise<void> {
    const names = (await readdir(this.dir)).filter((n) => SEGMENT_NAME.test(n)).sort();
    const seqs = names.map((n) => Number(SEGMENT_NAME.exec(n)![1]));
    for (const seq of seqs) {
      if (seq < this.cursor.segment) await unlink(join(this.dir, segmentName(seq))); // sent before a crash
    }
    const live = seqs.filter((s) => s >= this.cursor.segment);
    if (live.length > 0 && live[0] !== this.cursor.segment) this.cursor = { segment: live[0], offset: 0, line: 0 };
    for (let i = 0; i < live.length; i++) {
      const seq = live[i];
      const path = join(this.dir, segmentName(seq));
      const data = await readFile(path);
      let from = seq === this.cursor.segment ? this.cursor.offset : 0;
      if (from > data.length) {
        this.logger.warn(`spool: the cursor points past the end of ${path}; reading that segment from its start (some alerts may be sent twice)`);
        from = 0;
        this.cursor = { segment: seq, offset: 0, line: 0 };
      }
      let lines = 0;
      let lastNewline = from - 1;
      for (let at = data.indexOf(NEWLINE, from); at !== -1; at = data.indexOf(NEWLINE, at + 1)) {
        lines++;
        lastNewline = at;
      }
      let bytes = data.length;
      const firstEnd = data.indexOf(NEWLINE, from);
      const firstSpooledAt = firstEnd === -1 ? undefined : spooledAtOf(data.subarray(from, firstEnd).toString('utf8'));
      const last = i === live.length - 1;
      if (last && lastNewline + 1 < data.length) {
        // A crash mid-append left a partial line: cut it so new records start on a line of their own.
        bytes = lastNewline + 1;
        this.corruptTotal++;
        this.logger.warn(`spool: ${path} ended with a torn record (${data.length - bytes} bytes, a crash mid-write); skipped`);
        const handle = await open(path, 'r+');
        try {
          await handle.truncate(bytes);
          await handle.datasync();
        } finally {
          await handle.close();
        }
      }
      this.segments.push({ seq, bytes, lines, firstSpooledAt });
    }
    this.nextSeq = live.length > 0 ? live[live.length - 1] + 1 : Math.max(this.cursor.segment, 1);
    if (live.length === 0) this.cursor = { segment: this.nextSeq, offset: 0, line: 0 };
    if (this.records > 0) this.logger.info(`spool: ${this.records} alert(s) from an earlier run waiting in ${this.dir}`);
  }

  private async appendNow(entries: readonly SpoolEntry[]): Promise<number> {
    let dropped = 0;
    let chunk: string[] = [];
    let writerSeg: Segment | undefined = this.currentSegment();
    const before = writerSeg ? { seq: writerSeg.seq, bytes: writerSeg.bytes, lines: writerSeg.lines } : undefined;
    const nextSeqBefore = this.nextSeq;
    const writeChunk = async () => {
      if (chunk.length === 0 || writerSeg === undefined) return;
      const handle = await this.writerFor(writerSeg.seq);
      await handle.write(chunk.join(''));
      chunk = [];
    };
    try {
      for (const entry of entries) {
        const line = encodeSpoolLine(entry.json, entry.spooledAt);
        const size = Buffer.byteLength(line);
        if (size > this.maxBytes / 2) {
          dropped++;
          this.logger.error(`spool: an alert of ${size} bytes is larger than half the spool (${this.maxBytes} bytes); dropped`);
          continue;
        }
        if (writerSeg === undefined || (writerSeg.bytes + size > this.segmentBytes && writerSeg.bytes > 0)) {
          await writeChunk();
          writerSeg = await this.startSegment();
        }
        while (this.diskBytes + size > this.maxBytes) {
          if (this.segments.length === 1) {
            // Only the segment being written is left: start a new one so the old can go.
            await writeChunk();
            writerSeg = await this.startSegment();
          }
          dropped += this.dropOldest();
        }
        chunk.push(line);
        writerSeg.bytes += size;
        writerSeg.lines++;
        this.unsyncedLines.set(writerSeg.seq, (this.unsyncedLines.get(writerSeg.seq) ?? 0) + 1);
        writerSeg.firstSpooledAt ??= entry.spooledAt;
      }
      await writeChunk();
      if (this.writer) await this.writer.handle.datasync();
    } catch (e) {
      // Leave the files as they were before this append (a partial write would read as corrupt lines).
      await this.undoPartialAppend(before, nextSeqBefore);
      this.noteDropped(dropped);
      throw new Error(`spool: cannot write ${entries.length} alert(s) to ${this.dir}: ${(e as Error).message}`);
    } finally {
      this.unsyncedLines.clear();
    }
    this.appendedTotal += entries.length;
    if (dropped > 0) {
      await this.writeCursor();
      this.noteDropped(dropped);
    }
    return dropped;
  }

  private noteDropped(dropped: number): void {
    if (dropped === 0) return;
    this.droppedTotal += dropped;
    this.logger.warn(`spool full (${this.maxBytes} bytes in ${this.dir}): dropped the ${dropped} oldest alert(s) (${this.droppedTotal} since start)`);
  }

  private currentSegment(): Segment | undefined {
    const last = this.segments[this.segments.length - 1];
    return last !== undefined && last.bytes < this.segmentBytes ? last : undefined;
  }

  private async writerFor(seq: number): Promise<FileHandle> {
    if (this.writer?.seq === seq) return this.writer.handle;
    if (this.writer) {
      await this.writer.handle.datasync();
      await this.writer.handle.close();
      this.writer = undefined;
    }
    const handle = await open(join(this.dir, segmentName(seq)), 'a', 0o600);
    this.writer = { seq, handle };
    return handle;
  }

  private async startSegment(): Promise<Segment> {
    const seq = this.nextSeq++;
    await this.writerFor(seq);
    await syncDir(this.dir);
    const segment: Segment = { seq, bytes: 0, lines: 0, firstSpooledAt: undefined };
    this.segments.push(segment);
    if (this.segments.length === 1) this.cursor = { segment: seq, offset: 0, line: 0 };
    return segment;
  }

  /** Deletes the oldest segment (never the one being written); returns its unsent record count. */
  private dropOldest(): number {
    const oldest = this.segments.shift()!;
    const unsent = oldest.lines - (oldest.seq === this.cursor.segment ? this.cursor.line : 0);
    const next = this.segments[0];
    this.cursor = { segment: next.seq, offset: 0, line: 0 };
    // The file goes now; the cursor file is rewritten at the end of the append.
    void unlink(join(this.dir, segmentName(oldest.seq))).catch((e: Error) => this.logger.warn(`spool: cannot delete ${segmentName(oldest.seq)}: ${e.message}`));
    return unsent;
  }

  private async undoPartialAppend(before: { seq: number; bytes: number; lines: number } | undefined, nextSeqBefore: number): Promise<void> {
    if (this.writer) {
      await this.writer.handle.close().catch(() => undefined);
      this.writer = undefined;
    }
    // Segments started during the failed append go; the one appended to is cut back.
    for (const s of this.segments.filter((x) => x.seq >= nextSeqBefore)) await unlink(join(this.dir, segmentName(s.seq))).catch(() => undefined);
    this.segments = this.segments.filter((x) => x.seq < nextSeqBefore);
    const seg = before && this.segments.find((x) => x.seq === before.seq);
    if (before && seg) {
      seg.bytes = before.bytes;
      seg.lines = before.lines;
      const handle = await open(join(this.dir, segmentName(before.seq)), 'r+').catch(() => undefined);
      if (handle) {
        await handle.truncate(before.bytes).catch(() => undefined);
        await handle.close().catch(() => undefined);
      }
    }
    if (this.segments.length === 0) this.cursor = { segment: this.nextSeq, offset: 0, line: 0 };
    await this.writeCursor().catch(() => undefined);
  }

  private async readNow(maxRecords: number, maxBytes: number): Promise<SpoolBatch> {
    for (;;) {
      const head = this.segments[0];
      if (head === undefined) return { records: [], end: this.cursor };
      if (this.cursor.offset >= head.bytes) {
        if (this.segments.length === 1) return { records: [], end: this.cursor };
        await this.removeHead();
        continue;
      }
      const path = join(this.dir, segmentName(head.seq));
      const remaining = head.bytes - this.cursor.offset;
      let want = Math.min(remaining, Math.max(maxBytes, 64 * 1024));
      let data: Buffer;
      for (;;) {
        data = await readAt(path, this.cursor.offset, want);
        if (data.lastIndexOf(NEWLINE) !== -1 || want >= remaining) break;
        want = Math.min(remaining, want * 2); // one record larger than the read size
      }
      const records: SpoolRecord[] = [];
      let offset = this.cursor.offset;
      let line = this.cursor.line;
      let start = 0;
      while (records.length < maxRecords) {
        const nl = data.indexOf(NEWLINE, start);
        if (nl === -1) break;
        const text = data.subarray(start, nl).toString('utf8');
        const lineStart = offset;
        offset += nl + 1 - start;
        line++;
        start = nl + 1;
        const entry = decodeSpoolLine(text);
        if (entry === undefined) {
          this.corruptTotal++;
          this.logger.warn(`spool: a damaged record in ${path} at byte ${lineStart} was skipped`);
          continue;
        }
        records.push({ json: entry.json, spooledAt: entry.spooledAt, end: { segment: head.seq, offset, line } });
      }
      if (start === 0 && data.indexOf(NEWLINE) === -1) {
        // The rest of a closed segment is one line without its end: torn, skip it.
        this.corruptTotal++;
        this.logger.warn(`spool: ${path} ends with a torn record (${remaining} bytes); skipped`);
        return { records, end: { segment: head.seq, offset: head.bytes, line } };
      }
      return { records, end: { segment: head.seq, offset, line } };
    }
  }

  private async commitNow(position: SpoolPosition): Promise<void> {
    const head = this.segments[0];
    if (head === undefined || position.segment !== this.cursor.segment || position.offset <= this.cursor.offset) return; // already past it (dropped)
    this.cursor = { segment: position.segment, offset: position.offset, line: position.line };
    if (this.cursor.offset >= head.bytes) {
      await this.removeHead();
      return;
    }
    head.firstSpooledAt = await this.peekSpooledAt(head.seq, this.cursor.offset);
    await this.writeCursor();
  }

  /** The head segment is fully sent: the cursor moves to the next one, and the file goes. */
  private async removeHead(): Promise<void> {
    const head = this.segments.shift()!;
    if (this.writer?.seq === head.seq) {
      await this.writer.handle.close();
      this.writer = undefined;
    }
    const next = this.segments[0];
    this.cursor = { segment: next?.seq ?? this.nextSeq, offset: 0, line: 0 };
    await this.writeCursor();
    await unlink(join(this.dir, segmentName(head.seq))).catch(() => undefined);
  }

  private async peekSpooledAt(seq: number, offset: number): Promise<number | undefined> {
    const data = await readAt(join(this.dir, segmentName(seq)), offset, 64);
    return spooledAtOf(data.toString('latin1'));
  }

  private async writeCursor(): Promise<void> {
    const tmp = join(this.dir, 'cursor.json.tmp');
    const handle = await open(tmp, 'w', 0o600);
    try {
      await handle.writeFile(`${JSON.stringify({ segment: this.cursor.segment, offset: this.cursor.offset })}\n`);
      await handle.datasync();
    } finally {
      await handle.close();
    }
    await rename(tmp, join(this.dir, 'cursor.json'));
  }
}

async function readAt(path: string, offset: number, length: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(length);
    const { bytesRead } = await handle.read(buffer, 0, length, offset);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

async function readCursor(dir: string, logger: OutputLogger): Promise<SpoolPosition> {
  let text: string;
  try {
    text = await readFile(join(dir, 'cursor.json'), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { segment: 0, offset: 0, line: 0 };
    throw new Error(`spool: cannot read ${join(dir, 'cursor.json')}: ${(e as Error).message}`);
  }
  try {
    const value = JSON.parse(text) as { segment?: unknown; offset?: unknown };
    if (Number.isSafeInteger(value.segment) && Number.isSafeInteger(value.offset) && (value.offset as number) >= 0) {
      return { segment: value.segment as number, offset: value.offset as number, line: 0 };
    }
  } catch {
    // reported below
  }
  // Sending everything again is better than losing it.
  logger.warn(`spool: ${join(dir, 'cursor.json')} is damaged; resending every alert in the spool (some may arrive twice)`);
  return { segment: 0, offset: 0, line: 0 };
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function takeLock(dir: string, logger: OutputLogger): Promise<void> {
  const path = join(dir, 'LOCK');
  if (openDirs.has(path)) throw new Error(`spool: ${dir} is already open in this process; close the other output first`);
  try {
    const owner = Number((await readFile(path, 'utf8')).trim());
    if (Number.isSafeInteger(owner) && owner > 0 && owner !== process.pid && processExists(owner)) {
      throw new Error(`spool: ${dir} is in use by process ${owner} (another sensor?); give each sensor its own spool folder`);
    }
    if (Number.isSafeInteger(owner) && owner !== process.pid) logger.info(`spool: taking over ${dir} from process ${owner}, which is gone`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      if ((e as Error).message.startsWith('spool:')) throw e;
    }
  }
  await writeFile(path, `${process.pid}\n`, { mode: 0o600 });
  openDirs.add(path);
}

async function releaseLock(dir: string): Promise<void> {
  const path = join(dir, 'LOCK');
  openDirs.delete(path);
  await unlink(path).catch(() => undefined);
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
