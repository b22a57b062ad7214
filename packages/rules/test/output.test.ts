import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateAlert } from '@peregrine/alert';
import type { FieldExtractor, FieldRef, FieldValue } from '../src/extract.ts';
import {
  OutputFormatError,
  SUGGESTED_OUTPUT_FIELDS,
  compileOutputFormat,
  createAlertBuilder,
  formatEventTime,
  suggestedOutputSuffix,
  validateOutputFormat,
  withSuggestedOutput,
} from '../src/output/index.ts';

/** Test events: canonical field text → value; absent = missing. Records which refs were asked for. */
type Ev = Record<string, FieldValue>;
const asked: FieldRef[] = [];
const byText: FieldExtractor<Ev> = {
  accessor: (ref) => {
    asked.push(ref);
    return (ev) => ev[ref.text];
  },
};

const ev: Ev = {
  'proc.name': 'bash',
  'proc.cmdline': 'bash -c id',
  'proc.pid': 1234,
  'proc.tty': 34816,
  'user.loginuid': -1,
  'user.name': 'root',
  'evt.arg.flags': 'O_RDONLY',
  'evt.arg[flags]': 'O_RDONLY|O_CLOEXEC',
  'proc.aname[2]': 'sshd',
  'proc.aname': ['sshd', 'systemd'],
  'proc.apid[0]': 1234,
  'container.privileged': true,
  'fd.types': ['ipv4', 'file'],
  'fd.name': '/etc/shadow',
  'evt.time': 1718000000123456789n,
  'fd.num': 3,
};

function render(format: string, event: Ev = ev) {
  return compileOutputFormat(format, byText).render(event);
}

function formatError(format: string): OutputFormatError {
  try {
    compileOutputFormat(format, byText);
  } catch (e) {
    assert.ok(e instanceof OutputFormatError, String(e));
    return e;
  }
  assert.fail(`expected '${format}' to be rejected`);
}

test('tokens: fields, args, the longest prefix that resolves, literal text around them', () => {
  assert.equal(render('user=%user.name cmd=%proc.cmdline').text, 'user=root cmd=bash -c id');
  assert.equal(render('(parent=%proc.aname[2])').text, '(parent=sshd)');
  assert.equal(render('(%proc.name)').text, '(bash)', 'the ) ends the token');
  assert.equal(render('flags=%evt.arg.flags, next').text, 'flags=O_RDONLY, next');
  assert.equal(render('%evt.arg[flags]').text, 'O_RDONLY|O_CLOEXEC');
  assert.equal(render('%proc.namex').text, 'bashx', 'shrinks to the longest prefix that is a field');
  assert.equal(render('%proc.name.').text, 'bash.');
});

test('a % not followed by a field is an error; so is one at the end; no %(field) syntax', () => {
  assert.equal(formatError('cmd=%').message, 'invalid formatting syntax: formatting cannot end with a %');
  assert.equal(formatError('cmd=%12').message, 'invalid formatting syntax: formatting cannot end with a number');
  assert.equal(formatError('cmd=%').offset, 4);
  const paren = formatError('x %(proc.name)');
  assert.match(paren.message, /^invalid formatting token %\(proc\.name\)/);
  assert.match(paren.message, /no %\(field\) syntax/);
  assert.equal(paren.offset, 2);
  assert.match(formatError('100% sure').message, /^invalid formatting token % sure/);
  const mode = formatError('mode=%fd.mode file=%fd.name');
  assert.match(mode.message, /^invalid formatting token %fd\.mode: filter_check called with nonexistent field fd\.mode; did you mean 'evt\.arg\.mode'\?/);
  assert.equal(mode.offset, 5);
  assert.match(formatError('%fd.net').message, /'fd\.net' is filter only and cannot be used as a display field/);
  assert.match(formatError('%evt.arg').message, /requires an argument/);
});

test('widths pad or truncate the text value', () => {
  assert.equal(render('[%10proc.name]').text, '[bash      ]');
  assert.equal(render('[%2proc.name]').text, '[ba]');
  assert.equal(render('[%4proc.name]').text, '[bash]');
  assert.equal(render('[%6fd.num]').text, '[3     ]');
  assert.equal(render('[%6user.uid]').text, '[<NA>  ]', 'missing values are padded too');
  assert.equal(render('%2proc.name').fields['proc.name'], 'bash', 'output_fields keep the whole value');
});

test('missing values: <NA> in text, null in output_fields', () => {
  const r = render('uid=%user.uid pod=%k8s.pod.name name=%proc.name');
  assert.equal(r.text, 'uid=<NA> pod=<NA> name=bash');
  assert.deepEqual(r.fields, { 'k8s.pod.name': null, 'proc.name': 'bash', 'user.uid': null });
  assert.equal(render('%proc.name', { 'proc.name': '' }).text, '', 'empty strings print empty (no - rule)');
});

test('typed output_fields: numbers, booleans, lists, strings; keys are canonical text, sorted', () => {
  const r = render('%user.name %proc.tty %user.loginuid %container.privileged %fd.types %proc.aname[2] %evt.arg.flags %evt.arg[flags] %proc.pid %fd.name');
  assert.deepEqual(Object.keys(r.fields), [
    'container.privileged',
    'evt.arg.flags',
    'evt.arg[flags]',
    'fd.name',
    'fd.types',
    'proc.aname[2]',
    'proc.pid',
    'proc.tty',
    'user.loginuid',
    'user.name',
  ]);
  assert.equal(r.fields['proc.tty'], 34816);
  assert.equal(r.fields['user.loginuid'], -1);
  assert.equal(r.fields['container.privileged'], true);
  assert.deepEqual(r.fields['fd.types'], ['ipv4', 'file']);
  assert.equal(r.fields['proc.aname[2]'], 'sshd');
  assert.equal(r.text, 'root 34816 -1 true (ipv4,file) sshd O_RDONLY O_RDONLY|O_CLOEXEC 1234 /etc/shadow');
  // Numeric fields given as text (e.g. from JSON) still come out as numbers; bigints as numbers.
  const t = render('%proc.pid %evt.rawres', { 'proc.pid': '77', 'evt.rawres': 5n });
  assert.deepEqual(t.fields, { 'evt.rawres': 5, 'proc.pid': 77 });
  const dup = render('%proc.name and again %proc.name');
  assert.equal(dup.text, 'bash and again bash');
  assert.deepEqual(Object.keys(dup.fields), ['proc.name']);
});

test('ancestor fields in outputs: proc.aname lists ancestors space-separated, proc.apid is the own pid', () => {
  const r = render('%proc.aname / %proc.apid');
  assert.equal(r.text, 'sshd systemd / 1234');
  assert.deepEqual(r.fields, { 'proc.aname': 'sshd systemd', 'proc.apid': 1234 });
  assert.ok(asked.some((ref) => ref.text === 'proc.apid[0]'), 'proc.apid reads proc.apid[0]');
});

test('transformer tokens print in the text and stay out of output_fields', () => {
  const r = render('%toupper(proc.name) %basename(fd.name) %proc.name');
  assert.equal(r.text, 'BASH shadow bash');
  assert.deepEqual(Object.keys(r.fields), ['proc.name']);
  assert.match(formatError('%tolower(proc.tty)').message, /invalid formatting token/);
});

test('%container.info is removed; validation warns about it and about deprecated fields', () => {
  const c = compileOutputFormat('a %container.info b', byText);
  assert.equal(c.format, 'a  b');
  assert.equal(c.render(ev).text, 'a  b');
  const issues = validateOutputFormat('user=%user.name %container.info dir=%evt.dir');
  assert.deepEqual(
    issues.map((i) => [i.severity, i.offset]),
    [
      ['warning', 16],
      ['warning', 36],
    ],
  );
  assert.match(issues[0]!.message, /container\.info is deprecated/);
  assert.equal(issues[1]!.message, "usage of deprecated field '%evt.dir' has been detected in the rule output");
  assert.deepEqual(validateOutputFormat('fine %proc.name'), []);
  const bad = validateOutputFormat('x=%proc.nme y=%fd.net');
  assert.equal(bad.length, 1, 'stops at the first error like Falco');
  assert.equal(bad[0]!.severity, 'error');
  assert.equal(bad[0]!.offset, 2);
  assert.match(bad[0]!.message, /nonexistent field proc\.nme; did you mean 'proc\.name'/);
  assert.match(validateOutputFormat('%fd.net')[0]!.message, /filter only/);
});

test("suggested_output: the container plugin's fields appended to syscall rules, unconditionally", () => {
  const suffix =
    ' container_id=%container.id container_name=%container.name container_image_repository=%container.image.repository' +
    ' container_image_tag=%container.image.tag k8s_pod_name=%k8s.pod.name k8s_ns_name=%k8s.ns.name';
  assert.equal(suggestedOutputSuffix('syscall'), suffix);
  assert.equal(suggestedOutputSuffix('k8s_audit'), '');
  assert.deepEqual(SUGGESTED_OUTPUT_FIELDS, ['container.id', 'container.name', 'container.image.repository', 'container.image.tag', 'k8s.pod.name', 'k8s.ns.name']);
  assert.equal(withSuggestedOutput('x=%container.id', 'syscall'), `x=%container.id${suffix}`, 'Falco does not deduplicate');
});

test('event time: HH:MM:SS.nnnnnnnnn and RFC 3339 with nanoseconds, UTC', () => {
  assert.deepEqual(formatEventTime(1718000000123456789n), { clock: '06:13:20.123456789', rfc3339: '2024-06-10T06:13:20.123456789Z' });
  assert.deepEqual(formatEventTime(1718000000000000007n), { clock: '06:13:20.000000007', rfc3339: '2024-06-10T06:13:20.000000007Z' });
  assert.deepEqual(formatEventTime(0n), { clock: '00:00:00.000000000', rfc3339: '1970-01-01T00:00:00.000000000Z' });
  // Same second twice (cached), then the next second and a day boundary.
  assert.deepEqual(formatEventTime(1718000000999999999n), { clock: '06:13:20.999999999', rfc3339: '2024-06-10T06:13:20.999999999Z' });
  assert.deepEqual(formatEventTime(1718000001000000000n), { clock: '06:13:21.000000000', rfc3339: '2024-06-10T06:13:21.000000000Z' });
  assert.deepEqual(formatEventTime(1718064000000000001n), { clock: '00:00:00.000000001', rfc3339: '2024-06-11T00:00:00.000000001Z' });
  assert.deepEqual(formatEventTime(-1n), { clock: '23:59:59.999999999', rfc3339: '1969-12-31T23:59:59.999999999Z' });
});

const rule = {
  name: 'Read sensitive file untrusted',
  priority: 'Warning' as const,
  tags: ['filesystem', 'T1555', 'mitre_credential_access', 'container'],
  source: 'syscall',
  output: 'Sensitive file opened for reading (file=%fd.name flags=%evt.arg.flags user=%user.name parent=%proc.aname[2])',
};

test('alert builder: Falco JSON shape, key order, sorted tags, time, output line, typed fields', () => {
  const build = createAlertBuilder(rule, byText, { hostname: 'node-1' });
  const alert = build({ ...ev, 'container.id': 'host' });
  assert.deepEqual(Object.keys(alert), ['hostname', 'output', 'output_fields', 'priority', 'rule', 'source', 'tags', 'time', 'uuid']);
  assert.equal(alert.hostname, 'node-1');
  assert.equal(alert.rule, rule.name);
  assert.equal(alert.priority, 'Warning');
  assert.equal(alert.source, 'syscall');
  assert.deepEqual(alert.tags, ['T1555', 'container', 'filesystem', 'mitre_credential_access']);
  assert.equal(alert.time, '2024-06-10T06:13:20.123456789Z');
  assert.equal(
    alert.output,
    '06:13:20.123456789: Warning Sensitive file opened for reading (file=/etc/shadow flags=O_RDONLY user=root parent=sshd)' +
      ' container_id=host container_name=<NA> container_image_repository=<NA> container_image_tag=<NA> k8s_pod_name=<NA> k8s_ns_name=<NA>',
  );
  assert.deepEqual(alert.output_fields, {
    'container.id': 'host',
    'container.image.repository': null,
    'container.image.tag': null,
    'container.name': null,
    'evt.arg.flags': 'O_RDONLY',
    'evt.time': 1718000000123456789,
    'fd.name': '/etc/shadow',
    'k8s.ns.name': null,
    'k8s.pod.name': null,
    'proc.aname[2]': 'sshd',
    'user.name': 'root',
  });
  assert.deepEqual(Object.keys(alert.output_fields), [...Object.keys(alert.output_fields)].sort());
  assert.match(alert.uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.notEqual(build(ev).uuid, alert.uuid, 'a fresh uuid per alert');
  // The shared alert validator accepts it unchanged.
  const checked = validateAlert(JSON.parse(JSON.stringify(alert)));
  assert.ok(checked.ok);
  assert.equal(checked.alert.time, alert.time);
});

test('alert builder: suggestedOutput off, missing evt.time falls back to the clock, other sources', () => {
  const build = createAlertBuilder({ ...rule, output: 'user=%user.name' }, byText, { hostname: 'h', suggestedOutput: false, now: () => 1718000000000000000n });
  const alert = build({ 'user.name': 'root' });
  assert.equal(alert.output, '06:13:20.000000000: Warning user=root');
  assert.equal(alert.time, '2024-06-10T06:13:20.000000000Z');
  assert.deepEqual(alert.output_fields, { 'evt.time': 1718000000000000000, 'user.name': 'root' });
  const k8s = createAlertBuilder({ ...rule, source: 'k8s_audit', output: 'x' }, byText, { hostname: 'h' })({});
  assert.equal(k8s.output.endsWith(': Warning x'), true, 'no container suffix for other sources');
  const iso = createAlertBuilder({ ...rule, output: 'x' }, byText, { hostname: 'h', suggestedOutput: false })({ 'evt.time': '1718000000123456789' });
  assert.equal(iso.time, '2024-06-10T06:13:20.123456789Z', 'numeric strings are accepted for evt.time');
});

test('alert builder rejects an invalid output at build time', () => {
  assert.throws(() => createAlertBuilder({ ...rule, output: 'mode=%fd.mode' }, byText, { hostname: 'h' }), OutputFormatError);
});

test('alert builder: time_format_iso_8601 and append_output extra_fields', () => {
  const build = createAlertBuilder({ ...rule, output: 'user=%user.name' }, byText, {
    hostname: 'h',
    suggestedOutput: false,
    timeFormatIso8601: true,
    extraFields: ['proc.tty', { summary: '%proc.name as %user.name' }, 'proc.aname[2]'],
  });
  const alert = build(ev);
  assert.equal(alert.output, '2024-06-10T06:13:20.123456789Z: Warning user=root', 'extra fields do not change the text');
  assert.deepEqual(alert.output_fields, {
    'evt.time': 1718000000123456789,
    'proc.aname[2]': 'sshd',
    'proc.tty': 34816,
    summary: 'bash as root',
    'user.name': 'root',
  });
  assert.deepEqual(Object.keys(alert.output_fields), ['evt.time', 'proc.aname[2]', 'proc.tty', 'summary', 'user.name']);
  assert.throws(() => createAlertBuilder(rule, byText, { hostname: 'h', extraFields: ['fd.net'] }), /filter only/);
  assert.throws(() => createAlertBuilder(rule, byText, { hostname: 'h', extraFields: ['proc.nme'] }), /did you mean 'proc\.name'/);
});
