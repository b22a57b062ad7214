import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { PRIORITIES } from '@peregrine/alert';
import { createSink, SLACK_COLORS } from '../src/index.ts';
import type { Sink, SlackMessage } from '../src/index.ts';
import { alertWith, alertWithPriority, ctx, deps, falcoAlert } from './support/fixtures.ts';
import { HttpReceiver, closedPortUrl } from './support/http-receiver.ts';

describe('slack sink (through @slack/webhook, against a local receiver)', () => {
  let receiver: HttpReceiver;
  const sinks: Sink[] = [];
  const slack = (settings: Record<string, unknown> = {}): Sink => {
    const sink = createSink('slack', { webhookUrl: `${receiver.url}/services/T000/B000/XXXX`, ...settings }, deps);
    sinks.push(sink);
    return sink;
  };
  const messages = () => receiver.jsonBodies() as SlackMessage[];

  before(async () => {
    receiver = await HttpReceiver.start();
  });
  beforeEach(() => {
    receiver.requests.length = 0;
  });
  after(async () => {
    await Promise.all(sinks.map((s) => s.close()));
    await receiver.stop();
  });

  it('posts the incoming-webhook attachments payload: colour, rule/priority/source/host/tags, every output field (numbers and nulls too), readable time', async () => {
    const result = await slack({ channel: '#falco', username: 'Falco', icon: 'https://example.com/falco.png' }).deliver([falcoAlert], ctx());
    assert.deepEqual(result, { kind: 'delivered' });
    assert.equal(receiver.requests.length, 1);
    const req = receiver.requests[0];
    assert.equal(req.method, 'POST');
    assert.equal(req.url, '/services/T000/B000/XXXX');
    assert.match(req.headers['content-type'] ?? '', /application\/json/);
    const fields: Array<[string, string, boolean]> = [
      ['rule', 'Read sensitive file untrusted', true],
      ['priority', 'Warning', true],
      ['source', 'syscall', true],
      ['hostname', 'ip-10-0-12-34', true],
      ['tags', 'T1555, container, filesystem, host, maturity_stable, mitre_credential_access', true],
      ['container.id', '3ad7b26ded6d', true],
      ['container.image.repository', 'nginx', true],
      ['container.image.tag', '1.27', true],
      ['container.name', 'web', true],
      // JSON.parse already rounded this int64 (beyond 2^53) when the fixture was read.
      ['evt.time', String(falcoAlert.output_fields['evt.time']), true],
      ['evt.type', 'openat', true],
      ['fd.name', '/etc/shadow', true],
      ['k8s.ns.name', 'shop', true],
      ['k8s.pod.name', 'web-7d4b9c6f5-x2k8q', true],
      ['proc.aname[2]', 'systemd', true],
      ['proc.aname[3]', '&lt;NA&gt;', true],
      ['proc.aname[4]', '&lt;NA&gt;', true],
      ['proc.cmdline', 'cat /etc/shadow', true],
      ['proc.exepath', '/usr/bin/cat', true],
      ['proc.name', 'cat', true],
      ['proc.pname', 'bash', true],
      ['proc.tty', '34816', true],
      ['user.loginuid', '-1', true],
      ['user.name', 'root', true],
      ['user.uid', '0', true],
      ['time', '2024-06-10 06:13:20.123456789 UTC', false],
    ];
    const expected = {
      username: 'Falco',
      icon_url: 'https://example.com/falco.png',
      channel: '#falco',
      attachments: [
        {
          fallback: falcoAlert.output,
          color: '#ffc700',
          text: falcoAlert.output.replace(/</g, '&lt;').replace(/>/g, '&gt;'),
          fields: fields.map(([title, value, short]) => ({ title, value, short })),
          footer: 'Peregrine',
          ts: '1718000000',
        },
      ],
    };
    assert.deepEqual(messages()[0], expected);
  });

  it('colours each priority as Falcosidekick does', async () => {
    const sink = slack();
    for (const p of PRIORITIES) assert.deepEqual(await sink.deliver([alertWithPriority(p)], ctx()), { kind: 'delivered' });
    assert.deepEqual(messages().map((m) => m.attachments[0].color), PRIORITIES.map((p) => SLACK_COLORS[p]));
    assert.deepEqual(SLACK_COLORS, { Emergency: '#e20b0b', Alert: '#ff5400', Critical: '#ff5400', Error: '#e20b0b', Warning: '#ffc700', Notice: '#5bffb5', Informational: '#68c2ff', Debug: '#ccfff2' });
  });

  it('outputFormat text sends only the output; fields (or "field") only the fields and footer', async () => {
    await slack({ outputFormat: 'text' }).deliver([falcoAlert], ctx());
    await slack({ outputFormat: 'field' }).deliver([falcoAlert], ctx());
    const [text, fieldsOnly] = messages();
    assert.equal(typeof text.attachments[0].text, 'string');
    assert.equal('fields' in text.attachments[0], false);
    assert.equal('footer' in text.attachments[0], false);
    assert.equal('text' in fieldsOnly.attachments[0], false);
    assert.equal(fieldsOnly.attachments[0].fields?.[0].title, 'rule');
    assert.equal(fieldsOnly.attachments[0].footer, 'Peregrine');
  });

  it('messageFormat renders the top-level text; an emoji icon goes out as icon_emoji; no transport options leak into the body', async () => {
    await slack({ messageFormat: '*{{ rule }}* on `{{ hostname }}` pod {{ output_fields["k8s.pod.name"] }} <{{ output_fields["proc.aname[3]"] | default "<NA>" }}>', icon: ':falcon:' }).deliver([falcoAlert], ctx());
    const [m] = messages();
    assert.equal(m.text, '*Read sensitive file untrusted* on `ip-10-0-12-34` pod web-7d4b9c6f5-x2k8q <&lt;NA&gt;>');
    assert.equal(m.icon_emoji, ':falcon:');
    assert.equal('icon_url' in m, false);
    assert.deepEqual(Object.keys(m).sort(), ['attachments', 'icon_emoji', 'text', 'username']);
  });

  it('accepts a Falcosidekick Go messageformat unchanged', async () => {
    await slack({ messageFormat: 'Alert {{ .Rule }} on {{ .Hostname }} pod {{ index .OutputFields "k8s.pod.name" }}' }).deliver([falcoAlert], ctx());
    assert.equal(messages()[0].text, 'Alert Read sensitive file untrusted on ip-10-0-12-34 pod web-7d4b9c6f5-x2k8q');
    assert.throws(() => slack({ messageFormat: '{{ range $i, $t := .Tags }}x{{ end }}' }), /messageFormat: Falcosidekick template action "\{\{ range \$i, \$t := \.Tags \}\}" is not supported/);
    await slack({ messageFormat: '{{ .Rule }}{{ if index .OutputFields "k8s.pod.name" }} in pod {{ index .OutputFields "k8s.pod.name" }}{{ else }} on the host{{ end }} [{{ range .Tags }}{{ . }} {{ end }}]' }).deliver([falcoAlert], ctx());
    assert.equal(messages()[1].text, `Read sensitive file untrusted in pod web-7d4b9c6f5-x2k8q [${falcoAlert.tags.map((t) => `${t} `).join('')}]`);
  });

  it('maps 429 + Retry-After to retryable, 404 no_service to permanent with the body, 500 to retryable', async () => {
    receiver.reply({ status: 429, headers: { 'retry-after': '30' }, body: 'rate_limited' });
    assert.deepEqual(await slack().deliver([falcoAlert], ctx()), { kind: 'retryable', reason: 'slack answered HTTP 429: rate_limited', retryAfterMs: 30_000, delivered: 0 });
    receiver.reply({ status: 404, body: 'no_service' });
    assert.deepEqual(await slack().deliver([falcoAlert], ctx()), { kind: 'permanent', reason: 'slack answered HTTP 404: no_service', delivered: 0 });
    receiver.reply({ status: 500, body: 'oops' });
    assert.equal((await slack().deliver([falcoAlert], ctx())).kind, 'retryable');
    assert.equal(receiver.requests.length, 3, '@slack/webhook must not retry on its own');
  });

  it('sends one message per alert in order and stops at the first failure', async () => {
    receiver.reply({ status: 200 }, { status: 403, body: 'action_prohibited' });
    const batch = [alertWith({ uuid: 'a', rule: 'first' }), alertWith({ uuid: 'b', rule: 'second' }), alertWith({ uuid: 'c', rule: 'third' })];
    const result = await slack().deliver(batch, ctx());
    assert.equal(result.kind, 'permanent');
    assert.ok(result.kind === 'permanent' && result.delivered === 1 && result.reason.includes('alert 2 of 3, uuid b'));
    assert.deepEqual(messages().map((m) => m.attachments[0].fields?.[0].value), ['first', 'second']);
  });

  it('network failures are retryable; the hub\'s abort ends a hanging send', async () => {
    const dead = createSink('slack', { webhookUrl: `${await closedPortUrl()}/x` }, deps);
    sinks.push(dead);
    const refused = await dead.deliver([falcoAlert], ctx());
    assert.equal(refused.kind, 'retryable');
    assert.match(refused.kind === 'retryable' ? refused.reason : '', /ECONNREFUSED/);

    receiver.reply({ hang: true });
    const controller = new AbortController();
    const pending = slack().deliver([falcoAlert], ctx(controller.signal));
    while (receiver.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
    controller.abort(new Error('hub timeout'));
    const aborted = await pending;
    assert.equal(aborted.kind, 'retryable');
    assert.match(aborted.kind === 'retryable' ? aborted.reason : '', /aborted \(hub timeout\)/);
  });

  it('timeoutMs bounds a hanging send', async () => {
    receiver.reply({ hang: true });
    assert.equal((await slack({ timeoutMs: 100 }).deliver([falcoAlert], ctx())).kind, 'retryable');
  });

  it('validates settings with key paths', () => {
    assert.throws(() => createSink('slack', { webhookUrl: 'hooks.slack.com/x', outputFormat: 'short', messageFormat: '{{ rule' }, deps, 'chat'), (e: Error) => {
      assert.match(e.message, /chat\.webhookUrl: /);
      assert.match(e.message, /chat\.outputFormat: /);
      assert.match(e.message, /chat\.messageFormat: template error at line 1, column 1/);
      return true;
    });
  });
});
