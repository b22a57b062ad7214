import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { referenceRows, replaceGeneratedBlock, schemaReference } from '../src/index.ts';

const schema = z
  .object({
    listen: z.object({ port: z.number().int().default(2801).describe('TCP port.') }).describe('Where to listen.'),
    ratio: z.number().default(0.1 * 3).describe('A fraction.'),
    mode: z.enum(['a', 'b']).default('a'),
    processes: z.union([z.number().int(), z.literal('auto')]).optional(),
    destinations: z.record(z.object({ type: z.string().describe('Sink type.') })).default({}),
    rules: z.array(z.object({ name: z.string() }).strict()).min(1).describe('Checked in order.'),
    tags: z.array(z.string()).default([]),
    labels: z.record(z.string()).optional(),
    level: z.string().transform((s) => s.toUpperCase()).optional().describe('Upper-cased.'),
  })
  .strict();

test('every key, nested ones under their object, maps and lists of objects with their item keys', () => {
  assert.deepEqual(
    referenceRows(schema).map((r) => [r.key, r.type, r.defaultValue]),
    [
      ['listen', 'object', ''],
      ['listen.port', 'integer', '2801'],
      ['ratio', 'number', '0.3'],
      ['mode', 'a | b', '"a"'],
      ['processes', 'integer or `auto`', ''],
      ['destinations', 'map of name → object', ''],
      ['destinations.<name>.type', 'string', ''],
      ['rules', 'list of objects', ''],
      ['rules[].name', 'string', ''],
      ['tags', 'list of string', '[]'],
      ['labels', 'map of string', ''],
      ['level', 'string', ''],
    ],
  );
});

test('the table escapes | in cells, so an enum stays in its column', () => {
  const table = schemaReference(schema);
  assert.ok(table.startsWith('| key | type | default | description |\n|---|---|---|---|\n'));
  assert.ok(table.includes('| `mode` | a \\| b | "a" |  |'), table);
  assert.ok(table.includes('| `listen.port` | integer | 2801 | TCP port. |'), table);
});

test('the generated block is replaced between its markers, and missing markers are named', () => {
  const block = { doc: 'docs/x.md', begin: '<!-- b -->', end: '<!-- e -->' };
  const doc = 'intro\n<!-- b -->\nold\n<!-- e -->\nafter\n';
  assert.equal(replaceGeneratedBlock(doc, block, 'new'), 'intro\n<!-- b -->\nnew\n<!-- e -->\nafter\n');
  assert.throws(() => replaceGeneratedBlock('intro\n<!-- e -->\n<!-- b -->\n', block, 'x'), /docs\/x\.md lacks the markers of its generated reference/);
  assert.throws(() => replaceGeneratedBlock('no markers', block, 'x'), /add the lines\n<!-- b -->\n<!-- e -->/);
});
