/**
 * The body of capture-fuzz.test.ts, run in a child process so that a native
 * abort (the defect this guards against) fails one test instead of killing
 * the test runner. Usage: capture-fuzz-child.ts SEED CASE-SET REPORT-DIR.
 * Before reading each input it writes `case N: what` to REPORT-DIR/progress
 * (synchronously, so a crash names its input); at the end REPORT-DIR/summary
 * holds the outcome counts. Any failure other than the acceptable ones is
 * written to REPORT-DIR/unexpected and exits 1.
 */
import { ftruncateSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isDeepStrictEqual } from 'node:util';
import { join } from 'node:path';
import { prng } from '@peregrine/testkit/seeded-random';
import { CHUNK_HEADER_SIZE, CaptureFormatError, CaptureReader, ChunkType, FILE_HEADER_SIZE } from '../ts/capture.ts';
import { DecodeError, forEachRecord, newDecodeStats, type DecodeStats, type RawEvent } from '../ts/decode.ts';
import { HEADER_SIZE } from '../ts/layout.ts';
import { fileHeader, sampleRecords, writeSmallCapture } from './records.ts';

export type CaseSet = 'random' | 'truncate' | 'mutate' | 'batches';

const [seedArg, setArg, reportDir] = process.argv.slice(2);
const progress = openSync(join(reportDir, 'progress'), 'w');
const seed = Number(seedArg);
const set = setArg as CaseSet;
const rand = prng(seed);
const int = (n: number): number => Math.floor(rand() * n);
const INTERESTING_U32 = [0, 1, 3, HEADER_SIZE - 1, HEADER_SIZE, 0x7fffffff, 0x80000000, 0xfffffff0, 0xffffffff, 0x10000000, 0x10000001];

const dir = mkdtempSync(join(tmpdir(), 'pg-fuzz-'));
let caseNo = 0;
let caseWhat = '';
const outcome: Record<string, number> = {};
const count = (k: string): void => {
  outcome[k] = (outcome[k] ?? 0) + 1;
};

function begin(what: string): void {
  caseNo++;
  caseWhat = what;
  // Synchronous, so the line is on disk before a native abort could happen.
  const line = Buffer.from(`case ${caseNo}: ${what}\n`);
  ftruncateSync(progress, 0);
  writeSync(progress, line, 0, line.length, 0);
}

function unexpected(err: unknown, where: string): never {
  const e = err as Error;
  writeFileSync(join(reportDir, 'unexpected'), JSON.stringify({ seed, set, case: caseNo, what: caseWhat, where, name: e?.name, message: e?.message, stack: e?.stack }));
  rmSync(dir, { recursive: true, force: true });
  process.exit(1);
}

interface ReadResult {
  events: RawEvent[];
  complete: boolean;
  error?: CaptureFormatError | DecodeError;
}

/** Reads a capture strictly: the reader checks record framing, the decoder throws on a bad record. */
async function readStrict(path: string): Promise<ReadResult> {
  const events: RawEvent[] = [];
  let reader: CaptureReader | undefined;
  try {
    reader = await CaptureReader.open(path);
    for await (const c of reader.chunks()) if (c.type === ChunkType.EVENTS) forEachRecord(c.payload, (e) => events.push(e));
    return { events, complete: reader.complete };
  } catch (err) {
    if (err instanceof CaptureFormatError || err instanceof DecodeError) return { events, complete: false, error: err };
    return unexpected(err, 'strict read');
  } finally {
    await reader?.close();
  }
}

/** Reads a capture leniently: only the chunk framing is the reader's, the decoder counts malformed records. */
async function readLenient(path: string): Promise<ReadResult & { stats: DecodeStats; payloadBytes: number; batches: number }> {
  const events: RawEvent[] = [];
  const stats = newDecodeStats();
  let payloadBytes = 0;
  let batches = 0;
  let reader: CaptureReader | undefined;
  try {
    reader = await CaptureReader.open(path, { records: 'decoder' });
    for await (const c of reader.chunks()) {
      if (c.type !== ChunkType.EVENTS) continue;
      batches++;
      payloadBytes += c.payload.length;
      forEachRecord(c.payload, (e) => events.push(e), stats);
    }
    return { events, complete: reader.complete, stats, payloadBytes, batches };
  } catch (err) {
    // A DecodeError must not escape a lenient walk: only the file framing may fail.
    if (err instanceof CaptureFormatError) return { events, complete: false, error: err, stats, payloadBytes, batches };
    return unexpected(err, 'lenient read');
  } finally {
    await reader?.close();
  }
}

function check(cond: boolean, what: string): void {
  if (!cond) unexpected(new Error(`invariant broken: ${what}`), 'invariant');
}

/** Both reads of one file, and what must hold between them. */
async function readBoth(path: string): Promise<ReadResult> {
  const strict = await readStrict(path);
  const lenient = await readLenient(path);
  count(strict.error ? strict.error.name : strict.complete ? 'read whole' : 'read cut short');
  const s = lenient.stats;
  check(s.records === lenient.events.length, 'stats.records counts the events delivered');
  check(s.droppedBytes <= lenient.payloadBytes, 'dropped bytes within the payload');
  check(s.truncatedBatches <= lenient.batches, 'truncated batches within the batches');
  check(s.truncatedBatches <= s.malformedRecords, 'each truncated batch counts its record');
  check((s.malformedRecords === 0) === (s.firstProblem === undefined), 'firstProblem set with the first malformed record');
  if (!strict.error) {
    check(s.malformedRecords === 0 && s.droppedBytes === 0, 'a capture read strictly without error has no malformed records');
    check(isDeepStrictEqual(lenient.events, strict.events), 'lenient and strict reads agree on a good file');
  }
  if (s.malformedRecords > 0) count('lenient skipped records');
  return strict;
}

function randomBytes(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = int(256);
  return b;
}

/** One to four random edits: bit flips, random bytes, interesting u32 values (lengths), spliced bytes. */
function mutate(src: Buffer): { bytes: Buffer; what: string } {
  let b = Buffer.from(src);
  const edits: string[] = [];
  for (let n = 1 + int(4); n > 0; n--) {
    const at = int(b.length);
    switch (int(5)) {
      case 0: {
        const bit = int(8);
        b[at] ^= 1 << bit;
        edits.push(`flip bit ${bit} at ${at}`);
        break;
      }
      case 1: {
        const v = int(256);
        b[at] = v;
        edits.push(`byte ${v} at ${at}`);
        break;
      }
      case 2: {
        if (b.length < 4) break;
        const pos = Math.min(at, b.length - 4);
        const v = INTERESTING_U32[int(INTERESTING_U32.length)];
        b.writeUInt32LE(v, pos);
        edits.push(`u32 ${v} at ${pos}`);
        break;
      }
      case 3: {
        const len = 1 + int(32);
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + len))]);
        edits.push(`delete ${len} at ${at}`);
        break;
      }
      default: {
        const ins = randomBytes(1 + int(32));
        b = Buffer.concat([b.subarray(0, at), ins, b.subarray(at)]);
        edits.push(`insert ${ins.length} at ${at}`);
      }
    }
  }
  return { bytes: b, what: edits.join(', ') };
}

function walkBatch(batch: Buffer): void {
  try {
    forEachRecord(batch, () => {});
    count('batch decoded');
  } catch (err) {
    if (!(err instanceof DecodeError)) unexpected(err, 'strict batch walk');
    count('DecodeError');
  }
  const stats = newDecodeStats();
  let n = 0;
  try {
    n = forEachRecord(batch, () => {}, stats);
  } catch (err) {
    unexpected(err, 'lenient batch walk');
  }
  check(n === stats.records, 'lenient walk returns the records it counted');
  check(stats.droppedBytes <= batch.length, 'dropped bytes within the batch');
  if (stats.malformedRecords > 0) count('lenient skipped records');
}

async function main(): Promise<void> {
  const valid = join(dir, 'valid.pgcap');
  // Truncation reads the file once per byte: keep that capture smaller (two chunks of three records).
  await writeSmallCapture(valid, 2, set === 'truncate' ? sampleRecords().slice(1, 4) : sampleRecords());
  const good = readFileSync(valid);
  const metaEnd = FILE_HEADER_SIZE + good.readUInt32LE(12);
  const file = join(dir, 'case.pgcap');
  const baseline = await readStrict(valid);
  if (baseline.error || !baseline.complete) unexpected(baseline.error ?? new Error('valid capture incomplete'), 'baseline');

  if (set === 'random') {
    for (let i = 0; i < 300; i++) {
      // Plain noise rarely passes the magic: also put noise after a valid header, and after valid metadata.
      const prefix = i % 3 === 0 ? Buffer.alloc(0) : i % 3 === 1 ? fileHeader(int(2) ? int(600) : INTERESTING_U32[int(INTERESTING_U32.length)]) : good.subarray(0, metaEnd);
      const bytes = Buffer.concat([prefix, randomBytes(int(700))]);
      begin(`random ${bytes.length} bytes after a ${prefix.length}-byte prefix`);
      writeFileSync(file, bytes);
      await readBoth(file);
    }
  } else if (set === 'truncate') {
    const chunkEnds: Array<{ end: number; records: number }> = [];
    let records = 0;
    for (let pos = metaEnd; pos + CHUNK_HEADER_SIZE <= good.length; ) {
      const type = good.readUInt32LE(pos);
      if (type === ChunkType.EVENTS) records += good.readUInt32LE(pos + 8);
      pos += CHUNK_HEADER_SIZE + good.readUInt32LE(pos + 4);
      chunkEnds.push({ end: pos, records });
    }
    for (let cut = 0; cut <= good.length; cut++) {
      begin(`the valid capture cut at ${cut} of ${good.length}`);
      writeFileSync(file, good.subarray(0, cut));
      const r = await readBoth(file);
      // Exact expectations: header or metadata cut is an error; later, every whole chunk replays.
      if (cut < metaEnd) {
        check(r.error instanceof CaptureFormatError, `cut at ${cut} (inside header or metadata) is a CaptureFormatError`);
      } else {
        check(r.error === undefined, `cut at ${cut} (after the metadata) reads without error`);
        check(r.complete === (cut === good.length), `cut at ${cut}: complete only when whole`);
        const whole = chunkEnds.filter((c) => c.end <= cut).at(-1)?.records ?? 0;
        check(r.events.length === whole, `cut at ${cut}: ${whole} records of whole chunks, got ${r.events.length}`);
      }
    }
  } else if (set === 'mutate') {
    for (let i = 0; i < 800; i++) {
      const m = mutate(good);
      // Half the edits land in the chunks, where the records are.
      if (i % 2 === 0) {
        const inChunks = mutate(good.subarray(metaEnd));
        m.bytes = Buffer.concat([good.subarray(0, metaEnd), inChunks.bytes]);
        m.what = `after the metadata (${metaEnd}): ${inChunks.what}`;
      }
      begin(m.what);
      writeFileSync(file, m.bytes);
      await readBoth(file);
    }
  } else if (set === 'batches') {
    const batch = Buffer.concat(sampleRecords());
    for (let i = 0; i < 3000; i++) {
      const m = i % 10 === 0 ? { bytes: randomBytes(int(600)), what: 'random batch' } : mutate(batch);
      begin(`batch: ${m.what}`);
      walkBatch(m.bytes);
    }
  } else {
    throw new Error(`unknown case set "${set}"`);
  }
  writeFileSync(join(reportDir, 'summary'), JSON.stringify({ seed, set, cases: caseNo, outcome }));
  rmSync(dir, { recursive: true, force: true });
}

main().catch((err: unknown) => unexpected(err, 'main'));
