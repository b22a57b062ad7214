import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fieldMapEvent, fieldMapExtractor, resolveField, parseFieldMapEvents } from '../src/index.ts';

test('slot-backed events read the same values as plain field objects, including keys first seen later', () => {
  const fields = { 'evt.type': 'openat', 'proc.name': 'cat', 'fd.name': '/etc/shadow', 'proc.aname': ['bash', 'sshd'] } as const;
  const early = fieldMapEvent(fields);
  const nameAccessor = fieldMapExtractor.accessor(resolveField('proc.name', undefined));
  // A key no event had when `early` was built gets a slot beyond its array.
  const late = fieldMapExtractor.accessor(resolveField('proc.cwd', undefined));
  const withCwd = fieldMapEvent({ ...fields, 'proc.cwd': '/root/' });
  for (const ev of [early, { fields }]) {
    assert.equal(nameAccessor(ev), 'cat');
    assert.equal(fieldMapExtractor.accessor(resolveField('fd.directory', undefined))(ev), '/etc', 'derivations still apply');
    assert.equal(fieldMapExtractor.accessor(resolveField('proc.aname', '2'))(ev), 'sshd');
    assert.equal(late(ev), undefined);
  }
  assert.equal(late(withCwd), '/root/');
  const [parsed] = parseFieldMapEvents('{"fields": {"proc.name": "vi"}}\n', 'inline');
  assert.ok(parsed?.slots, 'parsed events carry slots');
  assert.equal(nameAccessor(parsed!), 'vi');
});
