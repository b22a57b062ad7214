import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatRfc3339, parseRfc3339, validateAlert } from '../src/index.ts';

const FALCO_ALERT = {
  uuid: '0d5c3ac4-6b2f-4d5e-9a1b-6f7a3b2c1d0e',
  output: '06:13:20.123456789: Warning Shell spawned in a container (user=root k8s.pod.name=web-1)',
  priority: 'Warning',
  rule: 'Terminal shell in container',
  time: '2024-06-10T06:13:20.123456789Z',
  output_fields: { 'k8s.pod.name': 'web-1', 'proc.pid': 4242, 'fd.name': null, 'proc.aname': ['bash', 'sshd'] },
  source: 'syscall',
  tags: ['container', 'shell'],
  hostname: 'node-1',
};

test('a Falco alert passes unchanged', () => {
  const r = validateAlert(FALCO_ALERT);
  assert.equal(r.ok, true);
  if (r.ok) assert.deepEqual(r.alert, FALCO_ALERT);
});

test('uuid is filled when absent and kept when present; defaults applied', () => {
  const { uuid: _u, source: _s, tags: _t, hostname: _h, ...bare } = FALCO_ALERT;
  const r = validateAlert(bare);
  assert.equal(r.ok, true);
  if (!r.ok) return;
  assert.match(r.alert.uuid, /^[0-9a-f-]{36}$/);
  assert.notEqual(r.alert.uuid, FALCO_ALERT.uuid);
  assert.equal(r.alert.source, 'syscalls');
  assert.deepEqual(r.alert.tags, []);
  assert.equal(r.alert.hostname, '');
});

test('priority is case-insensitive with the info alias, and canonicalised', () => {
  const r = validateAlert({ ...FALCO_ALERT, priority: 'info' });
  assert.equal(r.ok && r.alert.priority, 'Informational');
  const w = validateAlert({ ...FALCO_ALERT, priority: 'WARNING' });
  assert.equal(w.ok && w.alert.priority, 'Warning');
});

test('each bad field is named', () => {
  const cases: Array<[Record<string, unknown>, string, RegExp]> = [
    [{ ...FALCO_ALERT, rule: undefined }, 'rule', /required/],
    [{ ...FALCO_ALERT, rule: '' }, 'rule', /non-empty/],
    [{ ...FALCO_ALERT, priority: 'Loud' }, 'priority', /unknown priority "Loud"/],
    [{ ...FALCO_ALERT, priority: 3 }, 'priority', /must be a string/],
    [{ ...FALCO_ALERT, time: 'yesterday' }, 'time', /RFC 3339/],
    [{ ...FALCO_ALERT, time: '2024-02-30T00:00:00Z' }, 'time', /RFC 3339/],
    [{ ...FALCO_ALERT, time: '2023-02-29T00:00:00.000000000Z' }, 'time', /RFC 3339/],
    [{ ...FALCO_ALERT, tags: 'shell' }, 'tags', /array/],
    [{ ...FALCO_ALERT, output_fields: { a: { nested: 1 } } }, 'output_fields["a"]', /got an object/],
  ];
  for (const [input, field, message] of cases) {
    const r = validateAlert(input);
    assert.equal(r.ok, false, field);
    if (r.ok) continue;
    assert.equal(r.errors[0].field, field);
    assert.match(r.errors[0].message, message);
  }
  const notObject = validateAlert([1]);
  assert.equal(notObject.ok, false);
});

test('times with offsets become UTC with nine fractional digits', () => {
  const t = parseRfc3339('2024-06-10T08:13:20.5+02:00');
  assert.ok(t);
  assert.equal(formatRfc3339(t), '2024-06-10T06:13:20.500000000Z');
  assert.equal(parseRfc3339('2024-06-10 06:13:20Z'), undefined);
  const leap = validateAlert({ ...FALCO_ALERT, time: '2024-02-29T23:59:59.999999999Z' });
  assert.equal(leap.ok && leap.alert.time, '2024-02-29T23:59:59.999999999Z');
});

test('uuid: a UUID or up to 128 visible ASCII characters; CR/LF, spaces, control and non-ASCII characters are refused naming the field', () => {
  for (const uuid of ['good-1', 'a'.repeat(128), 'x:y/z@1', FALCO_ALERT.uuid]) {
    const r = validateAlert({ ...FALCO_ALERT, uuid });
    assert.equal(r.ok && r.alert.uuid, uuid, uuid);
  }
  for (const uuid of ['bad\r\nX-Injected: 1', 'with space', 'tab\there', 'nul\u0000', 'del\u007f', 'caf\u00e9', 'a'.repeat(129)]) {
    const r = validateAlert({ ...FALCO_ALERT, uuid });
    assert.equal(r.ok, false, JSON.stringify(uuid));
    if (r.ok) continue;
    assert.equal(r.errors.length, 1);
    assert.equal(r.errors[0].field, 'uuid');
    assert.match(r.errors[0].message, /must be a UUID or up to 128 visible ASCII characters/);
    assert.doesNotMatch(r.errors[0].message, /[\r\n]/, 'the message escapes what it quotes');
  }
  const empty = validateAlert({ ...FALCO_ALERT, uuid: '' });
  assert.ok(empty.ok && /^[0-9a-f-]{36}$/.test(empty.alert.uuid), 'an empty uuid is filled like a missing one');
});
