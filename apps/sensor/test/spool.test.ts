import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Spool, decodeSpoolLine, encodeSpoolLine } from '@peregrine/sensor';
import type { OutputLogger } from '@peregrine/sensor';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'sensor-spool-'));
}

function recordingLogger(): OutputLogger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (m) => lines.push(`info ${m}`), warn: (m) => lines.push(`warn ${m}`), error: (m) => lines.push(`error ${m}`) };
}

const alertJson = (i: number, pad = 0) => JSON.stringify({ uuid: `u-${i}`, rule: 'r', pad: 'x'.repeat(pad) });
const entries = (from: number, to: number, pad = 0) => Array.from({ length: to - from }, (_, k) => ({ json: alertJson(from + k, pad), spooledAt: 1_700_000_000_000 + from + k }));
const idOf = (json: string) => (JSON.parse(json) as { uuid: string }).uuid;

/** Reads and commits everything, in order. */
async function drain(spool: Spool, batch = 7): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const b = await spool.read(batch);
    if (b.records.length === 0 && spool.isEmpty) return out;
    out.push(...b.records.map((r) => idOf(r.json)));
    await spool.commit(b.end);
  }
}

const ids = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => `u-${from + k}`);

describe('spool', () => {
  test('lines carry a checksum; a changed byte is detected', () => {
    const line = encodeSpoolLine('{"a":1}', 123).slice(0, -1);
    assert.deepEqual(decodeSpoolLine(line), { json: '{"a":1}', spooledAt: 123 });
    assert.equal(decodeSpoolLine(line.replace('"a"', '"b"')), undefined);
    assert.equal(decodeSpoolLine(line.slice(0, -3)), undefined);
    assert.equal(decodeSpoolLine(''), undefined);
  });

  test('records come back in order, once, across segments; committed ones are gone', async () => {
    const dir = tempDir();
    const spool = await Spool.open({ dir, maxBytes: 1024 * 1024, segmentBytes: 2048, logger: recordingLogger() });
    await spool.append(entries(0, 100));
    await spool.append(entries(100, 150));
    assert.equal(spool.records, 150);
    assert.equal(spool.oldestSpooledAt, 1_700_000_000_000);
    assert.ok(readdirSync(dir).filter((n) => n.endsWith('.seg')).length > 2, 'several segments');
    const first = await spool.read(10);
    assert.deepEqual(first.records.map((r) => idOf(r.json)), ids(0, 10));
    // Reading again without commit gives the same records (nothing is removed before the hub acknowledged).
    assert.deepEqual((await spool.read(10)).records.map((r) => idOf(r.json)), ids(0, 10));
    await spool.commit(first.records[4].end);
    assert.equal(spool.records, 145);
    assert.equal(spool.oldestSpooledAt, 1_700_000_000_005);
    assert.deepEqual(await drain(spool), ids(5, 150));
    assert.equal(spool.records, 0);
    assert.equal(spool.bytes, 0);
    assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith('.seg')), [], 'sent segments are deleted');
    await spool.append(entries(150, 152));
    assert.deepEqual(await drain(spool), ids(150, 152));
    await spool.close();
  });

  test('reopened over the same folder, it resumes at the committed record', async () => {
    const dir = tempDir();
    let spool = await Spool.open({ dir, maxBytes: 1024 * 1024, segmentBytes: 4096 });
    await spool.append(entries(0, 200));
    const b = await spool.read(30);
    await spool.commit(b.end);
    await spool.read(30); // read but not committed: must come again
    await spool.close();

    spool = await Spool.open({ dir, maxBytes: 1024 * 1024, segmentBytes: 4096 });
    assert.equal(spool.records, 170);
    await spool.append(entries(200, 210));
    assert.deepEqual(await drain(spool, 13), ids(30, 210));
    await spool.close();
  });

  test('past maxBytes the oldest are dropped, counted and logged; the newest stay in order', async () => {
    const dir = tempDir();
    const logger = recordingLogger();
    const spool = await Spool.open({ dir, maxBytes: 16 * 1024, segmentBytes: 2048, logger });
    const total = 400; // ~100 bytes each: about 40 KB into a 16 KiB spool
    for (let i = 0; i < total; i += 20) await spool.append(entries(i, i + 20, 40));
    const { dropped, appended } = spool.counters();
    assert.equal(appended, total);
    assert.ok(dropped > 0, 'some were dropped');
    assert.ok(spool.diskBytes <= 16 * 1024, `bounded: ${spool.diskBytes}`);
    assert.equal(spool.records + dropped, total);
    assert.ok(logger.lines.some((l) => l.startsWith('warn spool full') && l.includes('dropped')), logger.lines.join('\n'));
    assert.deepEqual(await drain(spool), ids(dropped, total), 'the newest, in order');
    await spool.close();
  });

  test('dropping while a batch is out: its late commit does not move the cursor back', async () => {
    const dir = tempDir();
    const spool = await Spool.open({ dir, maxBytes: 8192, segmentBytes: 1024 });
    await spool.append(entries(0, 20, 20));
    const out = await spool.read(5);
    for (let i = 20; i < 200; i += 10) await spool.append(entries(i, i + 10, 20));
    const dropped = spool.counters().dropped;
    assert.ok(dropped > 5);
    await spool.commit(out.end);
    assert.deepEqual(await drain(spool), ids(dropped, 200));
    await spool.close();
  });

  test('a torn last line (crash mid-write) is cut off and counted; the rest is read and new records follow', async () => {
    const dir = tempDir();
    const logger = recordingLogger();
    let spool = await Spool.open({ dir, maxBytes: 1024 * 1024, logger });
    await spool.append(entries(0, 10));
    await spool.close();
    const seg = readdirSync(dir).find((n) => n.endsWith('.seg'))!;
    appendFileSync(join(dir, seg), encodeSpoolLine(alertJson(10), 1).slice(0, 25)); // half a record, no newline

    spool = await Spool.open({ dir, maxBytes: 1024 * 1024, logger });
    assert.equal(spool.counters().corrupt, 1);
    assert.ok(logger.lines.some((l) => l.includes('torn record')), logger.lines.join('\n'));
    await spool.append(entries(11, 13));
    assert.deepEqual(await drain(spool), [...ids(0, 10), 'u-11', 'u-12']);
    await spool.close();
  });

  test('a damaged record in the middle is skipped with a count, not sent, not a crash', async () => {
    const dir = tempDir();
    let spool = await Spool.open({ dir, maxBytes: 1024 * 1024 });
    await spool.append(entries(0, 5));
    await spool.close();
    const path = join(dir, readdirSync(dir).find((n) => n.endsWith('.seg'))!);
    writeFileSync(path, readFileSync(path, 'utf8').replace('"u-2"', '"u-X"'));
    spool = await Spool.open({ dir, maxBytes: 1024 * 1024 });
    assert.deepEqual(await drain(spool), ['u-0', 'u-1', 'u-3', 'u-4']);
    assert.equal(spool.counters().corrupt, 1);
    await spool.close();
  });

  test('a damaged cursor file means resending (duplicates), never losing', async () => {
    const dir = tempDir();
    const logger = recordingLogger();
    let spool = await Spool.open({ dir, maxBytes: 1024 * 1024 });
    await spool.append(entries(0, 6));
    const b = await spool.read(3);
    await spool.commit(b.end);
    await spool.close();
    writeFileSync(join(dir, 'cursor.json'), '{"segm');
    spool = await Spool.open({ dir, maxBytes: 1024 * 1024, logger });
    assert.deepEqual(await drain(spool), ids(0, 6));
    assert.ok(logger.lines.some((l) => l.includes('cursor.json is damaged')));
    await spool.close();
  });

  test('one spool folder, one user: a second open is refused with the reason', async () => {
    const dir = tempDir();
    const spool = await Spool.open({ dir });
    await assert.rejects(Spool.open({ dir }), /already open in this process/);
    await spool.close();
    const again = await Spool.open({ dir });
    await again.close();
  });

  test('a lock left by a process that is gone is taken over; one held by a live process is refused', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'LOCK'), '999999999\n');
    const spool = await Spool.open({ dir, logger: recordingLogger() });
    await spool.close();
    writeFileSync(join(dir, 'LOCK'), `${process.ppid}\n`);
    await assert.rejects(Spool.open({ dir }), new RegExp(`in use by process ${process.ppid}`));
  });

  test('bad sizes are refused with what is allowed', async () => {
    await assert.rejects(Spool.open({ dir: tempDir(), maxBytes: 10 }), /maxBytes must be a whole number of bytes >= 8192/);
    await assert.rejects(Spool.open({ dir: tempDir(), maxBytes: 65536, segmentBytes: 60000 }), /segmentBytes must be between 1024 and maxBytes\/2/);
  });
});
