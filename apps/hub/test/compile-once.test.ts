import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Alert } from '@peregrine/alert';
import { Redis } from 'ioredis';
import { startTestRedis } from '@peregrine/testkit';
import { parseHubConfig } from '../src/index.ts';
import type { HubConfig } from '../src/index.ts';
import { Throttle } from '../src/delivery/throttle.ts';
import { compileEnricher } from '../src/ingest/enrich.ts';
import { HubKeys } from '../src/redis/keys.ts';
import { Router } from '../src/routing/router.ts';
import { alert, issuesOf } from './support.ts';

// Matchers and templates are compiled once, while the configuration is
// validated, and routing, enrichment and throttling use what the configuration
// carries. These tests hand them a configuration whose compiled parts differ
// from their source text: a consumer that compiled the text again would
// behave by the text, and fail.

const loaded = parseHubConfig({
  enrich: { templatedFields: { team: '{{ rule }}' } },
  destinations: {
    hook: { type: 'stdout', match: { rules: ['never this rule'], fields: ['proc.name = bash'] }, throttle: { key: '{{ rule }}', windowMs: 60_000 } },
  },
});

test('the loaded configuration carries the compiled matcher, field conditions and templates', () => {
  const hook = loaded.destinations.hook;
  assert.equal(typeof hook.match.matches, 'function');
  assert.equal(hook.match.fields?.[0].source, 'proc.name = bash');
  assert.equal(hook.match.fields?.[0].holds({ 'proc.name': 'bash' }), true);
  assert.equal(hook.throttle?.key.source, '{{ rule }}');
  assert.equal(hook.throttle?.key.render(alert({ rule: 'r1' })), 'r1');
  assert.equal(loaded.enrich.templatedFields.team.render(alert({ rule: 'r2' })), 'r2');
  assert.equal(hook.match.matches(alert()), false, 'rule not listed');
});

test('routing uses the matcher compiled at load', () => {
  let calls = 0;
  const config: HubConfig = {
    ...loaded,
    destinations: { hook: { ...loaded.destinations.hook, match: { ...loaded.destinations.hook.match, matches: () => (calls++, true) } } },
  };
  const router = new Router(config);
  const routed = new Map<string, Alert[]>();
  router.route([alert(), alert()], false, routed);
  assert.equal(calls, 2);
  assert.equal(routed.get('hook')?.length, 2, 'the source text (rules: never this rule) would have matched none');
});

test('enrichment uses the templates compiled at load', () => {
  const enrich = compileEnricher({ ...loaded.enrich, templatedFields: { team: { source: '{{ rule }}', render: () => 'from the compiled template' } } });
  assert.ok(enrich);
  const a = alert();
  enrich([a]);
  assert.equal(a.output_fields.team, 'from the compiled template');
});

test('throttling uses the key template compiled at load', async () => {
  const redis = await startTestRedis({ appendOnly: false });
  const client = new Redis(redis.url);
  try {
    const throttle = new Throttle({ windowMs: 60_000, key: { source: '{{ uuid }}', render: () => 'one key for all' } }, 'hook', new HubKeys('{compile-once}'), client);
    // By the source text every alert (its own uuid) would open its own window; by the compiled key they share one.
    const outcome = await throttle.filter([alert({ uuid: 'a-1' }), alert({ uuid: 'a-2' }), alert({ uuid: 'a-3' })]);
    assert.equal(outcome.admitted.length, 1);
    assert.equal(outcome.suppressed, 2);
    assert.equal(outcome.firstSuppressed[0].key, 'one key for all');
  } finally {
    client.disconnect();
    await redis.stop();
  }
});

test('a condition or template that does not compile is a load error with its key path, reported with the other problems', () => {
  const issues = issuesOf(() =>
    parseHubConfig({
      enrich: { templatedFields: { team: '{{ rulez }}' } },
      destinations: {
        a: { type: 'stdout', match: { fields: ['proc.name is bash'] }, throttle: { key: '{{ nope }}', windowMs: 1000 } },
        b: { type: 'stdoutt' },
      },
    }),
  );
  assert.ok(issues.some((i) => i.startsWith('destinations.a.match.fields.0: "proc.name is bash" is not a field condition')), issues.join('\n'));
  assert.ok(issues.some((i) => i.startsWith("destinations.a.throttle.key: template error at line 1, column 4: unknown field 'nope'")), issues.join('\n'));
  assert.ok(issues.some((i) => i.startsWith("enrich.templatedFields.team: template error at line 1, column 4: unknown field 'rulez'")), issues.join('\n'));
  assert.ok(issues.some((i) => i.startsWith('destinations.b.type: unknown sink type "stdoutt"')), issues.join('\n'));
});
