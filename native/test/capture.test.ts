/**
 * Capture files: a real capture round-trips through the reader and decoder;
 * damaged files are refused (wrong magic, unknown version) or replayed up to
 * their last whole chunk (cut short).
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CaptureFormatError, CaptureReader, ChunkType, FILE_HEADER_SIZE } from '../ts/capture.ts';
import { runCapture, type CaptureSummary } from '../ts/capture-session.ts';
import { forEachRecord, type RawEvent } from '../ts/decode.ts';
import { requireBuilt, runHelper, type HelperRun } from './support.ts';
import { EVENT_LAYOUT_VERSION } from '../ts/layout.ts';

let dir: string;
let file: string;
let summary: CaptureSummary;
let helper: HelperRun;

before(async () => {
  requireBuilt();
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'pg-capture-')));
  file = join(dir, 'run.pgcap');
  let done: Promise<HelperRun> | undefined;
  const abort = new AbortController();
  summary = await runCapture({
    out: file,
    signal: abort.signal,
    seconds: 10,
    onStarted: () => {
      done = runHelper(['mkdir', 'captured-dir', '0755', 'openat', 'cwd', 'nope/x', '0', '0'], dir);
      // Stop once the helper is done (plus a flush interval): the capture must hold its calls.
      void done.then(() => setTimeout(() => abort.abort(), 100));
    },
  });
  assert.ok(done);
  helper = await done;
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function readAll(path: string): Promise<{ reader: CaptureReader; events: RawEvent[] }> {
  const reader = await CaptureReader.open(path);
  const events: RawEvent[] = [];
  try {
    for await (const c of reader.chunks()) {
      if (c.type === ChunkType.EVENTS) forEachRecord(c.payload, (e) => events.push(e));
    }
  } finally {
    await reader.close();
  }
  return { reader, events };
}

describe('capture files', () => {
  test('a real capture round-trips: metadata, every record, final stats, end marker', async () => {
    const { reader, events } = await readAll(file);
    const m = reader.header.metadata;
    assert.equal(reader.header.formatVersion, 1);
    assert.equal(reader.header.layoutVersion, EVENT_LAYOUT_VERSION);
    assert.equal(m.users['0'], 'root');
    assert.ok(m.syscalls.includes('openat'));
    assert.ok(reader.header.bootEpochNs > 1_600_000_000_000_000_000n, 'boot time is a plausible epoch');
    assert.equal(reader.complete, true);
    assert.equal(events.length, summary.records);
    const stats = reader.stats as { kernel: { events: number; dropsBuffer: number } };
    assert.equal(stats.kernel.events, summary.stats.kernel.events);

    const mine = events.filter((e) => e.pid === helper.pid);
    const mkdir = mine.find((e) => e.type === 'mkdir');
    assert.equal(mkdir?.path0, 'captured-dir');
    assert.equal(mkdir?.base0, dir);
    assert.equal(mkdir?.res, 0);
    const failed = mine.find((e) => e.type === 'openat' && e.path0 === 'nope/x');
    assert.equal(failed?.res, -2);
    // Wall-clock time of a record = boot epoch + record ts: within the capture's run.
    const wall = Number((reader.header.bootEpochNs + BigInt(Math.round(mkdir!.tsNs))) / 1_000_000n);
    assert.ok(Math.abs(wall - Date.now()) < 60_000, 'record time maps to now');
  });

  test('a capture cut short replays every whole chunk and says it is incomplete', async () => {
    const bytes = readFileSync(file);
    const cut = join(dir, 'cut.pgcap');
    // Keep the header and the first chunk plus half of the next one.
    const metaLen = bytes.readUInt32LE(12);
    let pos = FILE_HEADER_SIZE + metaLen;
    const firstLen = bytes.readUInt32LE(pos + 4);
    const firstCount = bytes.readUInt32LE(pos + 8);
    pos += 16 + firstLen;
    writeFileSync(cut, bytes.subarray(0, pos + 20));
    const { reader, events } = await readAll(cut);
    assert.equal(reader.complete, false);
    assert.equal(events.length, firstCount);
  });

  test('wrong magic and unknown versions are refused with the file name and reason', async () => {
    const bad = join(dir, 'bad.pgcap');
    writeFileSync(bad, 'not a capture at all, just text');
    await assert.rejects(CaptureReader.open(bad), (e: unknown) => e instanceof CaptureFormatError && /bad\.pgcap: byte 0: not a Peregrine capture/.test(e.message));
    const future = join(dir, 'future.pgcap');
    copyFileSync(file, future);
    const b = readFileSync(future);
    b.writeUInt16LE(99, 8);
    writeFileSync(future, b);
    await assert.rejects(CaptureReader.open(future), /future\.pgcap: byte 8: capture format v99 is not supported/);
    // Event layout: v1 captures still decode (v2 only adds); a newer layout is refused.
    const layout = (v: number): string => {
      const p = join(dir, `layout-${v}.pgcap`);
      const c = readFileSync(file);
      c.writeUInt16LE(v, 10);
      writeFileSync(p, c);
      return p;
    };
    const v1 = await readAll(layout(1));
    assert.equal(v1.reader.header.layoutVersion, 1);
    assert.ok(v1.events.length > 0);
    await assert.rejects(CaptureReader.open(layout(EVENT_LAYOUT_VERSION + 1)), /byte 10: event layout v3 is not supported \(this build decodes v1 to v2\)/);
  });

  test('a chunk whose record count disagrees with its header is reported, not guessed', async () => {
    const b = readFileSync(file);
    const pos = FILE_HEADER_SIZE + b.readUInt32LE(12);
    b.writeUInt32LE(b.readUInt32LE(pos + 8) + 1, pos + 8);
    const wrong = join(dir, 'wrong.pgcap');
    writeFileSync(wrong, b);
    await assert.rejects(readAll(wrong), /holds \d+ records, header says \d+/);
  });
});
