/**
 * Issue 13, defect 3: a crafted capture killed `peregrine replay` with a
 * native abort (a length read from the file was allocated and read without a
 * check). Every length is now checked against what remains in the file and a
 * maximum, and a bad file is a CaptureFormatError naming the file, the byte
 * offset and the reason. These need no probe: the files are built by hand.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import {
  CHUNK_HEADER_SIZE,
  CaptureFormatError,
  CaptureReader,
  CaptureWriter,
  ChunkType,
  FILE_HEADER_SIZE,
  MAX_CHUNK_BYTES,
} from '../ts/capture.ts';
import { SAMPLE_METADATA, fileHeader, sampleRecords, writeSmallCapture } from './records.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const STABLE_RULES = join(ROOT, 'packages', 'rules', 'test', 'fixtures', 'falco-rules', 'falco_rules.yaml');
const CLI = join(ROOT, 'apps', 'cli', 'bin', 'peregrine.js');

let dir: string;
before(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'pg-crafted-')));
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The reported file: 155 bytes, metadata length 0xFFFFFFFF. */
function craftMetaLen(name: string): string {
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat([fileHeader(0xffffffff), Buffer.alloc(155 - FILE_HEADER_SIZE, 0x20)]));
  return path;
}

/** A valid header and metadata, then an events chunk header claiming 0xFFFFFFF0 bytes. */
function craftChunkLen(name: string): { path: string; chunkAt: number } {
  const path = join(dir, name);
  const meta = Buffer.from(JSON.stringify(SAMPLE_METADATA), 'utf8');
  const chunk = Buffer.alloc(CHUNK_HEADER_SIZE);
  chunk.writeUInt32LE(ChunkType.EVENTS, 0);
  chunk.writeUInt32LE(0xfffffff0, 4);
  chunk.writeUInt32LE(1, 8);
  writeFileSync(path, Buffer.concat([fileHeader(meta.length), meta, chunk, sampleRecords()[0]]));
  return { path, chunkAt: FILE_HEADER_SIZE + meta.length };
}

async function readAll(path: string): Promise<CaptureReader> {
  const reader = await CaptureReader.open(path);
  try {
    for await (const _chunk of reader.chunks()) {
      /* read every chunk */
    }
  } finally {
    await reader.close();
  }
  return reader;
}

function isFormatError(path: string, offset: number, reason: RegExp): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof CaptureFormatError, `expected a CaptureFormatError, got ${String(e)}`);
    assert.equal(e.path, path);
    assert.equal(e.offset, offset);
    assert.match(e.reason, reason);
    assert.equal(e.message, `${path}: byte ${offset}: ${e.reason}`);
    return true;
  };
}

describe('crafted capture files', () => {
  test('metadata length 0xFFFFFFFF in a 155-byte file is a CaptureFormatError at byte 12', async () => {
    const path = craftMetaLen('metalen.pgcap');
    assert.equal(readFileSync(path).length, 155);
    await assert.rejects(CaptureReader.open(path), isFormatError(path, 12, /metadata length 4294967295 exceeds the maximum/));
  });

  test('a metadata length within the maximum but past the end of the file is refused, not read', async () => {
    const path = join(dir, 'metashort.pgcap');
    writeFileSync(path, Buffer.concat([fileHeader(1000), Buffer.from('{"hostname":')]));
    await assert.rejects(CaptureReader.open(path), isFormatError(path, 12, /metadata length 1000 runs past the end of the file \(12 bytes follow the header\)/));
  });

  test('chunk length 0xFFFFFFF0 is a CaptureFormatError at the chunk length field', async () => {
    const { path, chunkAt } = craftChunkLen('chunklen.pgcap');
    await assert.rejects(readAll(path), isFormatError(path, chunkAt + 4, /chunk length 4294967280 exceeds the maximum of 268435456 bytes/));
  });

  test('metadata that is valid JSON of the wrong shape is refused with the field', async () => {
    const path = join(dir, 'shape.pgcap');
    const meta = Buffer.from(JSON.stringify({ ...SAMPLE_METADATA, users: ['root'] }));
    writeFileSync(path, Buffer.concat([fileHeader(meta.length), meta]));
    await assert.rejects(CaptureReader.open(path), isFormatError(path, FILE_HEADER_SIZE, /metadata field "users" is not an object/));
  });

  test('a record whose length breaks the chunk framing is reported at its byte in the file', async () => {
    const path = join(dir, 'framing.pgcap');
    await writeSmallCapture(path, 1);
    const b = readFileSync(path);
    const chunkAt = FILE_HEADER_SIZE + b.readUInt32LE(12);
    const firstRecordLen = b.readUInt32LE(chunkAt + CHUNK_HEADER_SIZE);
    const second = chunkAt + CHUNK_HEADER_SIZE + firstRecordLen;
    b.writeUInt32LE(7, second); // shorter than a record header
    writeFileSync(path, b);
    await assert.rejects(readAll(path), isFormatError(path, second, new RegExp(`^events chunk at byte ${chunkAt}: bad record length 7$`)));
  });

  test('a chunk cut short is still a truncation (replay up to it), not an error', async () => {
    const path = join(dir, 'cut.pgcap');
    await writeSmallCapture(path, 2);
    const b = readFileSync(path);
    const chunkAt = FILE_HEADER_SIZE + b.readUInt32LE(12);
    const second = chunkAt + CHUNK_HEADER_SIZE + b.readUInt32LE(chunkAt + 4);
    writeFileSync(path, b.subarray(0, second + CHUNK_HEADER_SIZE + 10));
    const reader = await CaptureReader.open(path);
    let chunks = 0;
    for await (const _c of reader.chunks()) chunks++;
    await reader.close();
    assert.equal(chunks, 1);
    assert.equal(reader.complete, false);
  });

  test('the writer refuses a batch a reader would refuse', () => {
    const w = CaptureWriter.create(join(dir, 'big.pgcap'), SAMPLE_METADATA, 0n);
    assert.throws(() => w.writeBatch(Buffer.alloc(MAX_CHUNK_BYTES + 1), 1), /exceeds the capture chunk maximum/);
    void w.close({});
  });

  test('peregrine replay exits 1 with the reason on stderr for both crafted files, no abort', () => {
    const files = [
      { path: craftMetaLen('cli-metalen.pgcap'), why: /byte 12: metadata length 4294967295 exceeds the maximum/ },
      { path: craftChunkLen('cli-chunklen.pgcap').path, why: /byte \d+: chunk length 4294967280 exceeds the maximum/ },
    ];
    for (const { path, why } of files) {
      const r = spawnSync(process.execPath, [CLI, 'replay', path, '--rules', STABLE_RULES], { encoding: 'utf8', cwd: ROOT });
      assert.equal(r.signal, null, `killed by ${r.signal}: ${r.stderr}`);
      assert.equal(r.status, 1, r.stderr);
      assert.doesNotMatch(r.stderr, /Assertion failed|Native stack trace/);
      assert.match(r.stderr, new RegExp(`^peregrine replay: ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `, 'm'));
      assert.match(r.stderr, why);
      assert.equal(r.stdout, '');
    }
  });
});
