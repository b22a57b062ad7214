import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alertToJson, rfc3339ToNanos, withExactEventTime, type Alert } from '../src/index.ts';

const alert: Alert = {
  uuid: 'u',
  hostname: 'h',
  output: 'o',
  output_fields: { 'evt.time': 1764392400123456789, 'proc.name': 'cat', note: '"evt.time":1764392400123456800' },
  priority: 'Warning',
  rule: 'r',
  source: 'syscall',
  tags: [],
  time: '2025-11-29T05:00:00.123456789Z',
};

test('rfc3339ToNanos is exact', () => {
  assert.equal(rfc3339ToNanos('2025-11-29T05:00:00.123456789Z'), 1764392400123456789n);
  assert.equal(rfc3339ToNanos('1970-01-01T00:00:01.000000001+00:00'), 1000000001n);
  assert.equal(rfc3339ToNanos('not a time'), undefined);
});

test('alertToJson prints evt.time with all its digits, like Falco', () => {
  const json = alertToJson(alert);
  assert.match(json, /"evt\.time":1764392400123456789,/);
  assert.equal(JSON.stringify(alert).includes('1764392400123456789'), false, 'plain JSON rounds it');
  assert.match(json, /"note":"\\"evt\.time\\":1764392400123456800"/, 'text inside strings is untouched');
});

test('a number that is not the alert time rounded is left as it is', () => {
  const other = { ...alert, output_fields: { 'evt.time': 1700000000000000000 } };
  assert.equal(withExactEventTime(JSON.stringify(other), other), JSON.stringify(other));
  const small = { ...alert, output_fields: { 'evt.time': 12 } };
  assert.equal(alertToJson(small), JSON.stringify(small));
});
