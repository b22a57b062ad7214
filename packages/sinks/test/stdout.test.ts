import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { StdoutSink, formatFalcoJson, formatFalcoText, hasFalcoPrefix, stdoutSettingsSchema } from '../src/index.ts';
import { alertWith, ctx, falcoAlert } from './support/fixtures.ts';

function capture(settings: Record<string, unknown>) {
  const stream = new PassThrough();
  let out = '';
  stream.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const sink = new StdoutSink(stdoutSettingsSchema.parse(settings), stream);
  return { sink, output: () => out };
}

describe('stdout sink', () => {
  it('text: Falco\'s "HH:MM:SS.nnnnnnnnn: Priority output" line, one per alert', async () => {
    const { sink, output } = capture({});
    const later = alertWith({ time: '2024-06-10T23:59:59.000000042Z', priority: 'Critical', output: 'Shell spawned in a container (user=root)' });
    assert.deepEqual(await sink.deliver([falcoAlert, later], ctx()), { kind: 'delivered' });
    const lines = output().split('\n');
    assert.equal(lines.length, 3);
    assert.equal(lines[2], '');
    assert.match(lines[0], /^\d{2}:\d{2}:\d{2}\.\d{9}: Warning Sensitive file opened for reading /);
    assert.equal(lines[0], falcoAlert.output, 'an output already carrying Falco\'s prefix prints unchanged');
    assert.equal(lines[1], '23:59:59.000000042: Critical Shell spawned in a container (user=root)');
  });

  it('text with timeFormatIso8601 uses the ISO time', () => {
    const line = formatFalcoText(falcoAlert, { timeFormatIso8601: true });
    assert.ok(line.startsWith('2024-06-10T06:13:20.123456789Z: Warning Sensitive file opened'), line);
    assert.ok(hasFalcoPrefix(falcoAlert.output));
    const isoPrefixed = alertWith({ output: '2024-06-10T06:13:20.123456789Z: Warning Sensitive file opened' });
    assert.ok(hasFalcoPrefix(isoPrefixed.output));
    assert.equal(formatFalcoText(isoPrefixed), '06:13:20.123456789: Warning Sensitive file opened');
    assert.equal(hasFalcoPrefix('Sensitive file opened'), false);
  });

  it('json keeps an output field named __proto__ as data (it must not become the prototype)', () => {
    const fields = JSON.parse('{"__proto__": {"polluted": 1}, "proc.name": "cat"}') as Record<string, string>;
    const line = formatFalcoJson(alertWith({ output_fields: fields }));
    const parsed = JSON.parse(line) as { output_fields: Record<string, unknown> };
    assert.deepEqual(Object.keys(parsed.output_fields), ['__proto__', 'proc.name']);
    assert.match(line, /"output_fields":\{"__proto__":\{"polluted":1\},"proc\.name":"cat"\}/);
  });

  it('text converts a non-UTC offset to UTC', () => {
    assert.equal(formatFalcoText(alertWith({ time: '2024-06-10T08:13:20.5+02:00', output: 'x' })), '06:13:20.500000000: Warning x');
  });

  it('json: one Falco JSON object per line, keys sorted as Falco prints them', async () => {
    const { sink, output } = capture({ format: 'json' });
    await sink.deliver([falcoAlert], ctx());
    const line = output().trimEnd();
    assert.doesNotMatch(line, /\n/);
    const parsed = JSON.parse(line) as Record<string, unknown>;
    assert.deepEqual(Object.keys(parsed), ['hostname', 'output', 'output_fields', 'priority', 'rule', 'source', 'tags', 'time', 'uuid']);
    assert.deepEqual(Object.keys(parsed.output_fields as object), Object.keys(falcoAlert.output_fields).sort());
    assert.deepEqual(parsed, { ...falcoAlert });
  });

  it('a broken stream is a permanent failure, not a crash', async () => {
    const broken = new Writable({
      write(_chunk, _enc, cb) {
        cb(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      },
    });
    broken.on('error', () => undefined);
    const sink = new StdoutSink(stdoutSettingsSchema.parse({}), broken);
    const result = await sink.deliver([falcoAlert], ctx());
    assert.deepEqual(result, { kind: 'permanent', reason: 'stdout: write failed: write EPIPE' });
  });
});
