import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FieldValue } from '../src/extract.ts';
import { resolveField } from '../src/fields/index.ts';
import { FieldMapParseError, fieldMapExtractor, parseFieldMapEvents, readFieldMapEvents, type FieldMapEvent } from '../src/fieldmap/index.ts';
import { compileOutputFormat, createAlertBuilder } from '../src/output/index.ts';

function get(event: FieldMapEvent, name: string, arg?: string): FieldValue {
  return fieldMapExtractor.accessor(resolveField(name, arg))(event);
}

function one(fields: Record<string, unknown>): FieldMapEvent {
  const [event] = parseFieldMapEvents(JSON.stringify({ fields }), 'inline');
  return event!;
}

function parseError(text: string, source = 'events.jsonl'): FieldMapParseError {
  try {
    parseFieldMapEvents(text, source);
  } catch (e) {
    assert.ok(e instanceof FieldMapParseError, String(e));
    return e;
  }
  assert.fail('expected a parse error');
}

test('parses JSONL: one event a line, comments and blank lines skipped, null = missing', () => {
  const text = [
    '# a comment',
    '{"fields": {"evt.type": "openat", "proc.name": "cat", "fd.num": 3}}',
    '',
    '// another comment',
    '{"fields": {"evt.type": "execve", "proc.name": null}}',
  ].join('\n');
  const events = parseFieldMapEvents(text, 'x.jsonl');
  assert.equal(events.length, 2);
  assert.deepEqual(events[0]!.fields, { 'evt.type': 'openat', 'proc.name': 'cat', 'fd.num': 3 });
  assert.deepEqual(events[1]!.fields, { 'evt.type': 'execve' });
  assert.equal(get(events[1]!, 'proc.name'), undefined);
  assert.equal(get(events[1]!, 'fd.name'), undefined, 'absent = missing');
});

test('values are typed by field: numbers, numeric strings, big INT64 as bigint, booleans, text', () => {
  const e = one({
    'proc.pid': '4242',
    'fd.num': -1,
    'evt.rawres': '-2',
    'proc.tty': 34816,
    'thread.cap_effective': 'CAP_SYS_ADMIN',
    'evt.is_open_read': 'true',
    'fd.connected': false,
    'fd.typechar': 4,
    'proc.vpid': '9223372036854775807',
    'fd.sip': '10.0.0.1',
  });
  assert.equal(get(e, 'proc.pid'), 4242);
  assert.equal(get(e, 'fd.num'), -1);
  assert.equal(get(e, 'evt.rawres'), -2);
  assert.equal(get(e, 'proc.tty'), 34816);
  assert.equal(get(e, 'evt.is_open_read'), true);
  assert.equal(get(e, 'fd.connected'), false);
  assert.equal(get(e, 'fd.typechar'), '4', 'text fields turn numbers into text');
  assert.equal(get(e, 'proc.vpid'), 9223372036854775807n);
  assert.equal(get(e, 'fd.sip'), '10.0.0.1');
});

test('the evt.time key is the timestamp (ns as number or string, or RFC 3339); time fields derive from it', () => {
  assert.equal(get(one({ 'evt.time': '1764392400123456789' }), 'evt.rawtime'), 1764392400123456789n);
  assert.equal(get(one({ 'evt.time': 1000 }), 'evt.rawtime'), 1000n);
  assert.equal(get(one({ 'evt.time': '2024-06-10T06:13:20.123456789Z' }), 'evt.rawtime'), 1718000000123456789n);
  assert.equal(get(one({ 'evt.time': '2024-06-10T08:13:20.5+02:00' }), 'evt.rawtime'), 1718000000500000000n);
  const e = one({ 'evt.time': '1718000000123456789' });
  // libs' evt.time field is clock text; evt.rawtime the number.
  assert.equal(get(e, 'evt.time'), '06:13:20.123456789');
  assert.equal(get(e, 'evt.time.s'), '06:13:20');
  assert.equal(get(e, 'evt.time.iso8601'), '2024-06-10T06:13:20.123456789Z');
  assert.equal(get(e, 'evt.rawtime.s'), 1718000000n);
  assert.equal(get(e, 'evt.rawtime.ns'), 123456789n);
  assert.equal(get(one({ 'evt.rawtime': 5 }), 'evt.rawtime'), 5n);
  assert.equal(get(one({}), 'evt.time'), undefined);
});

test('ancestors: proc.aname array (parent first), [N] derivations, proc.pname from the chain and back', () => {
  const e = one({ 'proc.name': 'bash', 'proc.aname': ['sshd', 'systemd'], 'proc.pid': 10, 'proc.apid': [9, 1], 'proc.exepath': '/bin/bash' });
  assert.deepEqual(get(e, 'proc.aname'), ['sshd', 'systemd'], 'without index: the ancestors for "any ancestor"');
  assert.equal(get(e, 'proc.aname', '0'), 'bash', '[0] is the process itself');
  assert.equal(get(e, 'proc.aname', '1'), 'sshd');
  assert.equal(get(e, 'proc.aname', '2'), 'systemd');
  assert.equal(get(e, 'proc.aname', '3'), undefined, 'beyond the chain is missing');
  assert.equal(get(e, 'proc.pname'), 'sshd');
  assert.equal(get(e, 'proc.apid', '0'), 10);
  assert.equal(get(e, 'proc.apid', '2'), 1);
  assert.equal(get(e, 'proc.ppid'), 9);
  assert.equal(get(e, 'proc.aexepath', '0'), '/bin/bash');
  // Explicit keys win over derivations.
  const explicit = one({ 'proc.aname': ['a', 'b'], 'proc.aname[2]': 'override', 'proc.pname': 'p' });
  assert.equal(get(explicit, 'proc.aname', '2'), 'override');
  assert.equal(get(explicit, 'proc.pname'), 'p');
  assert.equal(get(explicit, 'proc.aname', '1'), 'p', '[1] prefers proc.pname');
  // Without the array: the chain of explicit keys up to the first gap.
  assert.deepEqual(get(one({ 'proc.pname': 'httpd' }), 'proc.aname'), ['httpd']);
  assert.deepEqual(get(one({ 'proc.pname': 'httpd', 'proc.aname[2]': 'systemd', 'proc.aname[4]': 'x' }), 'proc.aname'), ['httpd', 'systemd']);
  assert.deepEqual(get(one({ 'proc.ppid': 5, 'proc.apid[2]': 1 }), 'proc.apid'), [5, 1]);
  assert.equal(get(one({ 'proc.name': 'x' }), 'proc.aname'), undefined, 'no ancestors known: missing');
  assert.equal(get(one({ 'proc.aname[1]': 'httpd' }), 'proc.pname'), 'httpd');
});

test('arguments: both spellings, proc.args[N], proc.env[NAME], labels, mounts', () => {
  const e = one({
    'evt.arg.flags': 'O_RDONLY',
    'evt.arg[mode]': '0644',
    'proc.args': '-c id',
    'proc.env': ['HOME=/root', 'PATH=/usr/bin'],
    'k8s.pod.label.app': 'web',
    'container.mount.dest[/var/run/docker.sock]': '/var/run/docker.sock',
  });
  assert.equal(get(e, 'evt.arg', 'flags'), 'O_RDONLY', 'evt.arg[flags] reads evt.arg.flags');
  assert.equal(get(e, 'evt.arg.flags'), 'O_RDONLY');
  assert.equal(get(e, 'evt.arg.mode'), '0644', 'evt.arg.mode reads evt.arg[mode]');
  assert.equal(get(e, 'proc.args', '0'), '-c');
  assert.equal(get(e, 'proc.args', '1'), 'id');
  assert.equal(get(e, 'proc.args', '2'), undefined);
  assert.equal(get(e, 'proc.env', 'HOME'), '/root');
  assert.equal(get(e, 'proc.env', 'SHELL'), undefined);
  assert.equal(get(e, 'proc.env'), 'HOME=/root PATH=/usr/bin', 'an array for a text field reads space-joined');
  assert.equal(get(e, 'k8s.pod.label', 'app'), 'web');
  assert.equal(get(e, 'container.mount.dest', '/var/run/docker.sock'), '/var/run/docker.sock');
});

test('derived text fields: proc.cmdline from name + args, fd.directory/fd.filename from fd.name', () => {
  const e = one({ 'proc.name': 'cat', 'proc.args': '/etc/shadow', 'fd.name': '/etc/ssh/sshd_config' });
  assert.equal(get(e, 'proc.cmdline'), 'cat /etc/shadow');
  assert.equal(get(e, 'fd.directory'), '/etc/ssh');
  assert.equal(get(e, 'fd.filename'), 'sshd_config');
  assert.equal(get(one({ 'fd.name': '/x' }), 'fd.directory'), '/');
  assert.equal(get(one({ 'fd.name': '10.0.0.1:40000->10.0.0.2:443' }), 'fd.directory'), undefined, 'sockets have no directory');
  assert.equal(get(one({ 'proc.cmdline': 'given', 'proc.name': 'x' }), 'proc.cmdline'), 'given');
});

test('evt.dir is < (only exit events exist), unless given', () => {
  assert.equal(get(one({}), 'evt.dir'), '<');
  assert.equal(get(one({ 'evt.dir': '>' }), 'evt.dir'), '>');
});

test('client-or-server socket fields read the server end first, then the client end', () => {
  const e = one({ 'fd.sip': '10.0.0.2', 'fd.cip': '192.168.1.5', 'fd.sport': 443, 'fd.cport': 40000, 'fd.rip': '10.0.0.2' });
  assert.equal(get(e, 'fd.ip'), '10.0.0.2');
  assert.equal(get(e, 'fd.net'), '10.0.0.2');
  assert.equal(get(e, 'fd.snet'), '10.0.0.2');
  assert.equal(get(e, 'fd.cnet'), '192.168.1.5');
  assert.equal(get(e, 'fd.rnet'), '10.0.0.2');
  assert.equal(get(e, 'fd.lnet'), undefined);
  assert.equal(get(e, 'fd.port'), 443);
  assert.equal(get(one({ 'fd.cip': '192.168.1.5' }), 'fd.ip'), '192.168.1.5');
  assert.equal(get(one({ 'fd.ip': '1.1.1.1', 'fd.sip': '10.0.0.2' }), 'fd.ip'), '1.1.1.1', 'an explicit key wins');
});

test('list fields keep arrays', () => {
  assert.deepEqual(get(one({ 'fd.types': ['ipv4', 'file'] }), 'fd.types'), ['ipv4', 'file']);
});

test('events built in code (not parsed) are normalized by the accessor', () => {
  const e = { fields: { 'proc.pid': '12' as unknown as number, 'evt.time': '1718000000123456789', 'fd.typechar': 4 } } as unknown as FieldMapEvent;
  assert.equal(get(e, 'proc.pid'), 12);
  assert.equal(get(e, 'evt.rawtime'), 1718000000123456789n);
  assert.equal(get(e, 'fd.typechar'), '4');
});

test('errors name file:line and what is wrong, all at once', () => {
  const e = parseError(
    [
      '{"fields": {"evt.type": "openat"}}',
      '{"fields": {"proc.nme": "x"}}',
      'not json',
      '{"fields": {"proc.pid": "abc", "proc.name": ["a", "b"]}}',
      '[1, 2]',
      '{"event": {}}',
      '{"fields": {"evt.is_open_read": "yes", "proc.aname": ["a", {"x": 1}]}}',
      '{"fields": {"evt.time": "yesterday"}}',
      '{"fields": {"proc.aname[x]": "a"}}',
    ].join('\n'),
  );
  const lines = e.message.split('\n');
  assert.deepEqual(
    e.problems.map((p) => p.line),
    [2, 3, 4, 4, 5, 6, 7, 7, 8, 9],
  );
  assert.match(lines[0]!, /^events\.jsonl:2: field "proc\.nme": filter_check called with nonexistent field proc\.nme; did you mean 'proc\.name'\?/);
  assert.match(lines[1]!, /^events\.jsonl:3: not valid JSON/);
  assert.match(lines[2]!, /^events\.jsonl:4: field "proc\.pid": expected a number \(INT64\), got "abc"/);
  assert.match(lines[3]!, /^events\.jsonl:4: field "proc\.name": expected a single value, got an array/);
  assert.match(lines[4]!, /^events\.jsonl:5: expected an object \{"fields": \{\.\.\.\}\}, got an array/);
  assert.match(lines[5]!, /^events\.jsonl:6: missing "fields"/);
  assert.match(lines[6]!, /^events\.jsonl:7: field "evt\.is_open_read": expected true or false/);
  assert.match(lines[7]!, /^events\.jsonl:7: field "proc\.aname"\[1\]: expected a string, got an object/);
  assert.match(lines[8]!, /^events\.jsonl:8: field "evt\.time": expected nanoseconds since the epoch or an RFC 3339 time/);
  assert.match(lines[9]!, /^events\.jsonl:9: field "proc\.aname\[x\]": field 'proc\.aname' takes a numeric index/);
});

test('readFieldMapEvents reads a file and names it in errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldmap-'));
  try {
    const good = join(dir, 'good.jsonl');
    writeFileSync(good, '{"fields": {"evt.type": "openat"}}\n{"fields": {"evt.type": "connect"}}\n');
    assert.equal(readFieldMapEvents(good).length, 2);
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, '{"fields": {"evt.type": "openat"}}\n{"fields": {"fd.mode": "0644"}}\n');
    assert.throws(() => readFieldMapEvents(bad), (e: Error) => e.message.startsWith(`${bad}:2: field "fd.mode"`) && e.message.includes("did you mean 'evt.arg.mode'"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the package examples parse, and render through the alert builder', () => {
  const events = readFieldMapEvents(fileURLToPath(new URL('../examples/events.jsonl', import.meta.url)));
  assert.ok(events.length >= 4);
  const format = compileOutputFormat('%proc.name %proc.aname[2] %evt.type', fieldMapExtractor);
  assert.equal(format.render(events[0]!).text, 'bash containerd-shim execve');
  const alert = createAlertBuilder(
    { name: 'r', priority: 'Notice', tags: [], source: 'syscall', output: 'pid=%proc.tty' },
    fieldMapExtractor,
    { hostname: 'h', suggestedOutput: false },
  )(events[0]!);
  assert.equal(alert.time, '2025-11-29T05:00:00.123456789Z');
  assert.equal(alert.output_fields['proc.tty'], 34816);
  // %evt.time prints the clock in the text; output_fields carries the integer ns, as Falco's JSON does.
  const timed = createAlertBuilder(
    { name: 'r', priority: 'Notice', tags: [], source: 'syscall', output: 'at %evt.time' },
    fieldMapExtractor,
    { hostname: 'h', suggestedOutput: false },
  )(events[0]!);
  assert.equal(timed.output, '05:00:00.123456789: Notice at 05:00:00.123456789');
  assert.deepEqual(timed.output_fields, { 'evt.time': 1764392400123456789 });
});
