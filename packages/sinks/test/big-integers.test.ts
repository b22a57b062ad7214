import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { parseJsonExact } from '@peregrine/alert';
import type { Alert } from '@peregrine/alert';
import {
  StdoutSink,
  buildSlackMessage,
  buildTriggerEvent,
  compileTemplate,
  decodeAlert,
  encodeAlert,
  formatFalcoJson,
  pagerDutySettingsSchema,
  slackSettingsSchema,
  stdoutSettingsSchema,
} from '../src/index.ts';
import { alertWith, ctx } from './support/fixtures.ts';

// Integers beyond 2^53 as the hub holds them after a lossless parse.
const bigAlert: Alert = alertWith({
  uuid: 'big-1',
  output_fields: { 'evt.time': 1764347516746609046n, 'fd.ino': 18446744073709551615n, 'evt.res': -9223372036854775807n, 'evt.args': [1764347516746609046n, 'a', 7], 'x.float': 1.25, 'proc.name': 'cat' },
});

test('encodeAlert / decodeAlert keep bigint output fields digit for digit', () => {
  const text = encodeAlert(bigAlert);
  assert.match(text, /"output_fields":\{"evt\.time":1764347516746609046,"fd\.ino":18446744073709551615,"evt\.res":-9223372036854775807,"evt\.args":\[1764347516746609046,"a",7\],"x\.float":1\.25,"proc\.name":"cat"\}/);
  assert.deepEqual(decodeAlert(text), bigAlert);
});

test('Falco JSON lines (stdout, file) keep them, keys sorted', async () => {
  const line = formatFalcoJson(bigAlert);
  assert.match(line, /"output_fields":\{"evt\.args":\[1764347516746609046,"a",7\],"evt\.res":-9223372036854775807,"evt\.time":1764347516746609046,"fd\.ino":18446744073709551615,/);
  const stream = new PassThrough();
  const sink = new StdoutSink(stdoutSettingsSchema.parse({ format: 'json' }), stream);
  assert.deepEqual(await sink.deliver([bigAlert], ctx()), { kind: 'delivered' });
  assert.equal(String(stream.read()), `${line}\n`);
});

test('templates: text, | json and the whole field map', () => {
  const render = compileTemplate('{{ output_fields["evt.time"] }}|{{ output_fields["evt.args"] }}|{{ output_fields["fd.ino"] | json }}|{{ output_fields["evt.args"] | json }}');
  assert.equal(render(bigAlert), '1764347516746609046|1764347516746609046, a, 7|18446744073709551615|[1764347516746609046,"a",7]');
  const json = compileTemplate('{"t": {{ output_fields["evt.time"] }}, "all": {{ output_fields | json }}}', { escape: 'json' });
  assert.deepEqual(parseJsonExact(json(bigAlert)), { t: 1764347516746609046n, all: bigAlert.output_fields });
});

test('Slack fields and PagerDuty custom_details', () => {
  const message = buildSlackMessage(bigAlert, slackSettingsSchema.parse({ webhookUrl: 'https://hooks.slack.com/services/T/B/X', outputFormat: 'fields' }));
  const fields = Object.fromEntries((message.attachments[0].fields ?? []).map((f) => [f.title, f.value]));
  assert.equal(fields['evt.time'], '1764347516746609046');
  assert.equal(fields['evt.res'], '-9223372036854775807');
  assert.equal(fields['evt.args'], '1764347516746609046, a, 7');
  const settings = pagerDutySettingsSchema.parse({ routingKey: 'R0UT1NGKEY' });
  const none = () => '';
  const event = buildTriggerEvent(bigAlert, settings, { dedupKey: none, summary: none, source: none, component: none, group: none });
  assert.equal(event.payload.custom_details['fd.ino'], 18446744073709551615n);
});
