import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import type { Alert } from '@peregrine/alert';
import { FileOutput, StdoutOutput } from '@peregrine/sensor';

function alert(i: number, extra: Partial<Alert> = {}): Alert {
  return {
    uuid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    hostname: 'node-1',
    output: `A shell was spawned (user=root shell=bash n=${i})`,
    output_fields: { 'user.name': 'root', 'proc.name': 'bash', 'evt.time': 1_718_000_000_123_456_789 },
    priority: 'Warning',
    rule: 'Terminal shell in container',
    source: 'syscall',
    tags: ['container', 'shell'],
    time: '2024-06-10T06:13:20.123456789Z',
    ...extra,
  };
}

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (c: Buffer) => (text += c.toString('utf8')));
  return { stream, text: () => text };
}

describe('stdout output', () => {
  test('text: Falco\'s line, HH:MM:SS.nnnnnnnnn: Priority output', async () => {
    const { stream, text } = capture();
    const out = new StdoutOutput({ format: 'text', stream });
    out.emit(alert(1));
    // An output that already carries Falco's prefix is not prefixed twice.
    out.emit(alert(2, { output: '06:13:20.123456789: Warning A shell was spawned (n=2)' }));
    await out.flush();
    assert.equal(text(), '06:13:20.123456789: Warning A shell was spawned (user=root shell=bash n=1)\n06:13:20.123456789: Warning A shell was spawned (n=2)\n');
    assert.equal(out.stats().written, 2);
    await out.close();
  });

  test('text with time_format_iso_8601', async () => {
    const { stream, text } = capture();
    const out = new StdoutOutput({ format: 'text', timeFormatIso8601: true, stream });
    out.emit(alert(1));
    await out.close();
    assert.match(text(), /^2024-06-10T06:13:20\.123456789Z: Warning A shell was spawned/);
  });

  test('json: one Falco JSON object per line, keys sorted, evt.time with every digit', async () => {
    const { stream, text } = capture();
    const out = new StdoutOutput({ format: 'json', stream });
    for (let i = 0; i < 3; i++) out.emit(alert(i));
    await out.flush();
    const lines = text().trimEnd().split('\n');
    assert.equal(lines.length, 3);
    assert.ok(lines[0].includes('"evt.time":1718000000123456789'), lines[0]);
    assert.ok(lines[0].startsWith('{"hostname":"node-1","output":'), lines[0]);
    assert.deepEqual(lines.map((l) => (JSON.parse(l) as Alert).uuid), [0, 1, 2].map((i) => alert(i).uuid));
    await out.close();
    out.emit(alert(9));
    assert.equal(out.stats().lostAfterClose, 1);
  });

  test('an unknown format is refused with the choices', () => {
    assert.throws(() => new StdoutOutput({ format: 'yaml' as 'json' }), /format must be "text" or "json"/);
  });
});

describe('file output', () => {
  test('JSONL appended (existing lines kept), exact evt.time, reopen after rotation', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sensor-file-out-'));
    const path = join(dir, 'alerts.jsonl');
    let out = await FileOutput.open({ path });
    out.emit(alert(1));
    await out.close();
    out = await FileOutput.open({ path, fsyncIntervalMs: 0 });
    out.emit(alert(2));
    out.emit(alert(3));
    await out.flush();
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
    assert.deepEqual(lines.map((l) => (JSON.parse(l) as Alert).uuid), [1, 2, 3].map((i) => alert(i).uuid));
    assert.ok(lines.every((l) => l.includes('"evt.time":1718000000123456789')));
    assert.equal(out.stats().written, 2);

    renameSync(path, `${path}.1`);
    out.emit(alert(4));
    await out.reopen();
    out.emit(alert(5));
    await out.close();
    const all = [...readFileSync(`${path}.1`, 'utf8').trimEnd().split('\n'), ...readFileSync(path, 'utf8').trimEnd().split('\n')];
    assert.deepEqual(all.map((l) => (JSON.parse(l) as Alert).uuid), [1, 2, 3, 4, 5].map((i) => alert(i).uuid), 'every alert once, in order');
  });

  test('text format in a file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sensor-file-out-'));
    const path = join(dir, 'alerts.log');
    const out = await FileOutput.open({ path, format: 'text' });
    out.emit(alert(1));
    await out.close();
    assert.equal(readFileSync(path, 'utf8'), '06:13:20.123456789: Warning A shell was spawned (user=root shell=bash n=1)\n');
  });

  test('a path that cannot be opened is a clear error', async () => {
    await assert.rejects(FileOutput.open({ path: '/nonexistent-dir/x/alerts.jsonl' }), /cannot open \/nonexistent-dir\/x\/alerts.jsonl for appending: ENOENT \(create its folder first\)/);
    await assert.rejects(FileOutput.open({ path: '/tmp/x.jsonl', fsyncIntervalMs: -1 }), /fsyncIntervalMs must be a whole number/);
  });
});
