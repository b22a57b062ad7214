import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createSink } from '../src/index.ts';
import { alertWith, ctx, deps, falcoAlert } from './support/fixtures.ts';

describe('file sink', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'peregrine-file-sink-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('appends one Falco JSON alert per line, creating parent directories', async () => {
    const path = join(dir, 'nested', 'a', 'alerts.jsonl');
    const sink = createSink('file', { path }, deps);
    assert.deepEqual(await sink.deliver([falcoAlert, alertWith({ uuid: 'second' })], ctx()), { kind: 'delivered' });
    assert.deepEqual(await sink.deliver([alertWith({ uuid: 'third' })], ctx()), { kind: 'delivered' });
    await sink.close();
    const lines = (await readFile(path, 'utf8')).split('\n');
    assert.equal(lines.pop(), '');
    assert.deepEqual(lines.map((l) => (JSON.parse(l) as { uuid: string }).uuid), [falcoAlert.uuid, 'second', 'third']);
    assert.deepEqual(JSON.parse(lines[0]), { ...falcoAlert });
  });

  it('rotates by size: never past maxSizeBytes unless one line is bigger, keeps maxBackups files, loses and splits no line', async () => {
    const path = join(dir, 'rot', 'alerts.jsonl');
    const lineBytes = Buffer.byteLength(`${JSON.stringify({ ...falcoAlert })}\n`);
    const maxSizeBytes = Math.floor(lineBytes * 3.5); // three lines per file
    const sink = createSink('file', { path, maxSizeBytes, maxBackups: 2, fsync: false }, deps);
    const uuids: string[] = [];
    for (let batch = 0; batch < 4; batch++) {
      const alerts = [0, 1, 2].map((i) => alertWith({ uuid: `${String(batch)}-${String(i)}`.padEnd(falcoAlert.uuid.length, 'x') }));
      uuids.push(...alerts.map((a) => a.uuid));
      assert.deepEqual(await sink.deliver(alerts, ctx()), { kind: 'delivered' });
    }
    await sink.close();
    assert.deepEqual((await readdir(join(dir, 'rot'))).sort(), ['alerts.jsonl', 'alerts.jsonl.1', 'alerts.jsonl.2']);
    const read = async (p: string) => (await readFile(p, 'utf8')).split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { uuid: string }).uuid);
    const kept = [...(await read(`${path}.2`)), ...(await read(`${path}.1`)), ...(await read(path))];
    // 12 lines, 3 per file, 3 files kept: the oldest file was dropped, the rest in order.
    assert.deepEqual(kept, uuids.slice(3));
    for (const p of [path, `${path}.1`, `${path}.2`]) assert.ok((await stat(p)).size <= maxSizeBytes, p);
  });

  it('a line bigger than maxSizeBytes goes whole into a fresh file', async () => {
    const path = join(dir, 'big', 'alerts.jsonl');
    const sink = createSink('file', { path, maxSizeBytes: 1024, maxBackups: 1, fsync: false }, deps);
    await sink.deliver([alertWith({ uuid: 'small', output: 'x', output_fields: {} })], ctx());
    await sink.deliver([alertWith({ uuid: 'huge', output: 'y'.repeat(4000) })], ctx());
    await sink.close();
    const current = (await readFile(path, 'utf8')).split('\n').filter(Boolean);
    assert.equal(current.length, 1);
    assert.equal((JSON.parse(current[0]) as { uuid: string }).uuid, 'huge');
    assert.match(await readFile(`${path}.1`, 'utf8'), /"uuid":"small"/);
  });

  it('a path that is a directory fails permanently with the path in the reason', async () => {
    const path = join(dir, 'is-a-dir');
    await mkdir(path);
    const result = await createSink('file', { path }, deps).deliver([falcoAlert], ctx());
    assert.equal(result.kind, 'permanent');
    assert.match(result.kind === 'permanent' ? result.reason : '', /is-a-dir.*EISDIR/);
  });

  it('text format writes Falco text lines', async () => {
    const path = join(dir, 'text.log');
    const sink = createSink('file', { path, format: 'text' }, deps);
    await sink.deliver([falcoAlert], ctx());
    await sink.close();
    assert.equal(await readFile(path, 'utf8'), `${falcoAlert.output}\n`);
  });
});
