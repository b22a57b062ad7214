import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { startHttpReceiver, startTestRedis } from '@peregrine/testkit';
import type { HttpReceiver, TestRedis } from '@peregrine/testkit';
import { loadHubConfig, parseHubConfig, startHub } from '../src/index.ts';
import type { RunningHub } from '../src/index.ts';
import { compileEnricher } from '../src/ingest/enrich.ts';
import { alert, falcoAlert, issuesOf, startTestHub } from './support.ts';
import type { TestHub } from './support.ts';

/** Templated fields are compiled at load; their converted text is `source`. */
function sources(templates: Readonly<Record<string, { readonly source: string }>>): Record<string, string> {
  return Object.fromEntries(Object.entries(templates).map(([key, t]) => [key, t.source]));
}

describe('enrichment configuration', () => {
  test('CUSTOMFIELDS, TEMPLATEDFIELDS and SLACK_MESSAGEFORMAT map to enrich.* and the slack settings', () => {
    const config = loadHubConfig(undefined, {
      CUSTOMFIELDS: 'cluster:prod-eu, url:https://example.com:8443/x,secret:%CLUSTER_SECRET',
      CLUSTER_SECRET: 's3cr3t',
      TEMPLATEDFIELDS: 'team:{{ or (index . "k8s.ns.labels.team") "platform" }},pod:{{ .container_id }}',
      SLACK_WEBHOOKURL: 'https://hooks.slack.com/services/T/B/X',
      SLACK_MESSAGEFORMAT: 'Alert {{ .Rule }} in {{ index .OutputFields "k8s.ns.name" }}',
      SLACK_USERNAME: 'falco',
      SLACK_ICON: ':falcon:',
      SLACK_FOOTER: 'prod',
      SLACK_CHANNEL: '#sec',
    });
    assert.deepEqual(config.enrich.customFields, { cluster: 'prod-eu', url: 'https://example.com:8443/x', secret: 's3cr3t' }, 'split on the first colon; %NAME read from the environment');
    assert.deepEqual(sources(config.enrich.templatedFields), {
      team: '{{ output_fields["k8s.ns.labels.team"] | default "platform" }}',
      pod: '{{ output_fields["container_id"] }}',
    });
    assert.deepEqual(config.destinations.slack.settings, {
      webhookUrl: 'https://hooks.slack.com/services/T/B/X',
      messageFormat: 'Alert {{ .Rule }} in {{ index .OutputFields "k8s.ns.name" }}',
      username: 'falco',
      icon: ':falcon:',
      footer: 'prod',
      channel: '#sec',
    });
  });

  test('keys in the file win over the same keys from CUSTOMFIELDS / TEMPLATEDFIELDS', () => {
    const config = parseHubConfig(
      { enrich: { customFields: { cluster: 'from-file', replicas: 3 }, templatedFields: { team: '{{ rule }}' } } },
      { CUSTOMFIELDS: 'cluster:from-env,env:prod', TEMPLATEDFIELDS: 'team:{{ index . "x" }},other:{{ index . "y" }}' },
    );
    assert.deepEqual(config.enrich.customFields, { cluster: 'from-file', env: 'prod', replicas: 3 });
    assert.deepEqual(sources(config.enrich.templatedFields), { team: '{{ rule }}', other: '{{ output_fields["y"] }}' });
  });

  test('a template that cannot be converted or compiled fails config loading with its key path', () => {
    const fromFile = issuesOf(() =>
      parseHubConfig({ enrich: { templatedFields: { team: '{{ printf "%s" (index . "x") }}', typo: '{{ rulez }}' }, customFields: { '': 'x' } } }),
    );
    assert.ok(fromFile.some((i) => i.startsWith('enrich.templatedFields.team: Falcosidekick template action "{{ printf "%s" (index . "x") }}" is not supported')), fromFile.join('\n'));
    assert.ok(fromFile.some((i) => i.startsWith("enrich.templatedFields.typo: template error at line 1, column 4: unknown field 'rulez'")), fromFile.join('\n'));
    assert.ok(fromFile.some((i) => i.startsWith('enrich.customFields: ') || i.startsWith('enrich.customFields.')), fromFile.join('\n'));

    const fromEnv = issuesOf(() => loadHubConfig(undefined, { TEMPLATEDFIELDS: 'team:{{ if eq .x "a" }}y{{ end }}' }));
    assert.ok(fromEnv.some((i) => /^enrich\.templatedFields\.team: Falcosidekick template action .* is not supported.*\(from TEMPLATEDFIELDS\)$/.test(i)), fromEnv.join('\n'));

    const badEnv = issuesOf(() => loadHubConfig(undefined, { CUSTOMFIELDS: 'ok:1,broken,x:%NOPE' }));
    assert.ok(badEnv.includes('enrich.customFields: "broken" is not a key:value pair (from CUSTOMFIELDS, which takes "key:value,key2:value2")'), badEnv.join('\n'));
    assert.ok(badEnv.includes('enrich.customFields.x: environment variable NOPE is not set (referenced as "%NOPE" in CUSTOMFIELDS)'), badEnv.join('\n'));

    const badSlack = issuesOf(() => loadHubConfig(undefined, { SLACK_WEBHOOKURL: 'https://hooks.slack.com/x', SLACK_MESSAGEFORMAT: '{{ range $t := .Tags }}x{{ end }}' }));
    assert.ok(badSlack.some((i) => /^destinations\.slack\.settings\.messageFormat: .*not supported.*\(from SLACK_MESSAGEFORMAT\)$/.test(i)), badSlack.join('\n'));

    // Plain if/else over one field is converted (docs/sinks.md), over output_fields for TEMPLATEDFIELDS.
    const converted = loadHubConfig(undefined, { TEMPLATEDFIELDS: 'where:{{ if .x }}x{{ else }}none{{ end }}' });
    assert.equal(converted.enrich.templatedFields.where?.source, '{{#output_fields["x"]}}x{{/output_fields["x"]}}{{^output_fields["x"]}}none{{/output_fields["x"]}}');
  });

  test('custom tags are added once, after the rule\'s own; bracketReplacer renames field arguments last; CUSTOMTAGS and BRACKETREPLACER map', () => {
    const enrich = compileEnricher(parseHubConfig({ enrich: { customTags: ['prod', 'shell'], bracketReplacer: '_', customFields: { 'team[0]': 'x' } } }).enrich);
    assert.ok(enrich);
    const a = alert({ tags: ['shell', 'mitre_execution'], output_fields: { 'proc.aname[2]': 'bash', 'proc.name': 'sh' } });
    const originalTags = a.tags;
    enrich([a]);
    assert.deepEqual(a.tags, ['shell', 'mitre_execution', 'prod']);
    assert.deepEqual(originalTags, ['shell', 'mitre_execution'], 'the parsed array is left alone');
    assert.deepEqual(a.output_fields, { 'proc.name': 'sh', 'proc.aname_2': 'bash', team_0: 'x' });
    const onlyTags = compileEnricher(parseHubConfig({ enrich: { customTags: ['prod'] } }).enrich);
    const b = alert({ tags: [] });
    onlyTags?.([b]);
    assert.deepEqual(b.tags, ['prod']);
    const config = loadHubConfig(undefined, { CUSTOMTAGS: 'prod, eu-west ,', BRACKETREPLACER: '-' });
    assert.deepEqual(config.enrich.customTags, ['prod', 'eu-west']);
    assert.equal(config.enrich.bracketReplacer, '-');
  });

  test('precedence: the alert keeps its own fields; templated fields see custom ones and replace them', () => {
    assert.equal(compileEnricher(parseHubConfig({}).enrich), undefined, 'nothing configured: no function at all');
    const enrich = compileEnricher(
      parseHubConfig({
        enrich: {
          customFields: { cluster: 'prod-eu', 'k8s.ns.name': 'static', team: 'custom' },
          templatedFields: { team: '{{ or (index . "k8s.ns.labels.team") "platform" }}', where: '{{ .cluster }}/{{ index . "k8s.ns.name" }}', 'proc.name': 'x' },
        },
      }).enrich,
    );
    assert.ok(enrich);
    const a = alert();
    const original = a.output_fields;
    enrich([a]);
    assert.notEqual(a.output_fields, original, 'a new object; the parsed one is left alone');
    assert.equal(a.output_fields.cluster, 'prod-eu');
    assert.equal(a.output_fields['k8s.ns.name'], 'shop', "the alert's own field wins over a custom field");
    assert.equal(a.output_fields.team, 'platform', 'templated replaces custom of the same name');
    assert.equal(a.output_fields.where, 'prod-eu/shop', 'templates see custom fields and the alert wins there too');
    assert.equal(a.output_fields['proc.name'], 'bash', "the alert's own field wins over a templated field");
    const labelled = alert({ output_fields: { 'k8s.ns.labels.team': 'payments' } });
    enrich([labelled]);
    assert.equal(labelled.output_fields.team, 'payments');
    assert.equal(labelled.output_fields.where, 'prod-eu/static');
  });
});

describe('enrichment at ingest (real Redis, local receivers)', () => {
  let redis: TestRedis;
  let receiver: HttpReceiver;
  let enriched: TestHub;
  let plain: TestHub;
  let fromEnv: RunningHub;

  before(async () => {
    redis = await startTestRedis();
    receiver = await startHttpReceiver();
    enriched = await startTestHub(redis.url, {
      enrich: {
        customFields: { cluster: 'prod-eu', 'k8s.ns.name': 'not-used' },
        templatedFields: { team: '{{ or (index . "k8s.ns.labels.team") "platform" }}', where: '{{ output_fields["cluster"] }}/{{ hostname }}' },
      },
      destinations: {
        all: { type: 'webhook', settings: { address: `${receiver.url}/all` } },
        platform: { type: 'webhook', settings: { address: `${receiver.url}/platform` }, match: { fields: ['team = platform', 'cluster = prod-eu'] } },
        payments: { type: 'webhook', settings: { address: `${receiver.url}/payments` }, match: { fields: ['team = payments'] } },
      },
    });
    plain = await startTestHub(redis.url, {
      redis: { url: redis.url, prefix: '{plain}', lockDurationMs: 3000 },
      destinations: { plain: { type: 'webhook', settings: { address: `${receiver.url}/plain` } } },
    });
    const config = parseHubConfig(
      { listen: { host: '127.0.0.1', port: 0 }, redis: { url: redis.url, prefix: '{env}', lockDurationMs: 3000 } },
      {
        SLACK_WEBHOOKURL: `${receiver.url}/slack`,
        SLACK_MESSAGEFORMAT: '{{ .Rule }} for team {{ index .OutputFields "team" }} in {{ index .OutputFields "cluster" }}',
        CUSTOMFIELDS: 'cluster:staging',
        TEMPLATEDFIELDS: 'team:{{ or (index . "k8s.ns.labels.team") "platform" }}',
      },
    );
    fromEnv = await startHub(config, { logger: pino({ level: 'silent' }) });
  });

  after(async () => {
    await enriched.hub.close();
    await plain.hub.close();
    await fromEnv.close();
    await receiver.close();
    await redis.stop();
  });

  const bodiesAt = (prefix: string) => receiver.requests.filter((r) => r.url === prefix).map((r) => JSON.parse(r.body) as { rule: string; output_fields: Record<string, unknown> });

  test('custom and templated fields reach the receiver in output_fields and drive fields: routing', async () => {
    const first = falcoAlert({ rule: 'Enriched one' });
    const second = falcoAlert({ rule: 'Enriched two', output_fields: { 'k8s.ns.labels.team': 'payments', 'proc.name': 'sh' } });
    assert.equal((await enriched.post('/v1/alerts', [first, second])).status, 202);
    await receiver.waitFor((rs) => rs.filter((r) => r.url === '/all').length >= 2 && rs.some((r) => r.url === '/platform') && rs.some((r) => r.url === '/payments'));

    const all = bodiesAt('/all');
    assert.deepEqual(
      all.find((b) => b.rule === 'Enriched one')?.output_fields,
      { ...(first.output_fields as Record<string, unknown>), cluster: 'prod-eu', team: 'platform', where: 'prod-eu/node-1' },
      "custom + templated added; the alert's own k8s.ns.name kept",
    );
    assert.deepEqual(all.find((b) => b.rule === 'Enriched two')?.output_fields, {
      'k8s.ns.labels.team': 'payments',
      'proc.name': 'sh',
      'k8s.ns.name': 'not-used',
      cluster: 'prod-eu',
      team: 'payments',
      where: 'prod-eu/node-1',
    });
    assert.deepEqual(bodiesAt('/platform').map((b) => b.rule), ['Enriched one']);
    assert.deepEqual(bodiesAt('/payments').map((b) => b.rule), ['Enriched two']);
  });

  test('without enrichment the alert arrives unchanged', async () => {
    const original = falcoAlert({ rule: 'Plain', uuid: '0f1e2d3c-4b5a-4697-8877-665544332211' });
    assert.equal((await plain.post('/', original)).status, 202);
    await receiver.waitFor((rs) => rs.some((r) => r.url === '/plain'));
    assert.deepEqual(bodiesAt('/plain'), [original]);
  });

  test('Falcosidekick env: SLACK_MESSAGEFORMAT renders the fields added by CUSTOMFIELDS and TEMPLATEDFIELDS', async () => {
    const res = await fetch(`${fromEnv.address}/`, { method: 'POST', body: JSON.stringify(falcoAlert({ rule: 'From env' })), signal: AbortSignal.timeout(30_000) });
    assert.equal(res.status, 202);
    await receiver.waitFor((rs) => rs.some((r) => r.url === '/slack'));
    const [slack] = bodiesAt('/slack') as unknown as Array<{ text: string; attachments: Array<{ fields: Array<{ title: string; value: string }> }> }>;
    assert.equal(slack.text, 'From env for team platform in staging');
    const fields = Object.fromEntries(slack.attachments[0].fields.map((f) => [f.title, f.value]));
    assert.equal(fields.cluster, 'staging');
    assert.equal(fields.team, 'platform');
  });
});
