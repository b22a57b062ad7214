import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { renderSettingsReference, replaceGeneratedBlock, settingsOf } from '../src/docs/settings-reference.ts';
import { SinkConfigError, createSink, sinkModules } from '../src/index.ts';
import type { SinkModule } from '../src/index.ts';
import { deps } from './support/fixtures.ts';

const docPath = new URL('../../../docs/sinks.md', import.meta.url);

/** The least each type needs; everything else has a default. */
const MINIMAL: Record<string, Record<string, unknown>> = {
  slack: { webhookUrl: 'https://hooks.slack.com/services/T/B/X' },
  pagerduty: { routingKey: 'R0123456789abcdef0123456789abcde' },
  webhook: { address: 'https://example.com/hook' },
  stdout: {},
  file: { path: '/tmp/peregrine-registry-test/alerts.jsonl' },
  kafka: { brokers: '127.0.0.1:9092', topic: 'falco' },
  opensearch: { url: 'http://127.0.0.1:9', createIndexTemplate: false },
  lambda: { functionName: 'kill-pod', region: 'eu-west-1' },
};

describe('sink registry', () => {
  it('has exactly slack, pagerduty, webhook, stdout, file, kafka, opensearch and lambda, each keyed by its own type', () => {
    assert.deepEqual(Object.keys(sinkModules).sort(), ['file', 'kafka', 'lambda', 'opensearch', 'pagerduty', 'slack', 'stdout', 'webhook']);
    for (const [key, module] of Object.entries(sinkModules)) assert.equal(module.type, key);
    assert.ok(Object.isFrozen(sinkModules));
  });

  it('every type builds from its minimal settings and the sink reports its type', async () => {
    for (const [type, settings] of Object.entries(MINIMAL)) {
      const sink = createSink(type, settings, deps);
      assert.equal(sink.type, type);
      await sink.close();
    }
  });

  it('the hub can go through the untyped registry: parse with the schema, then create', async () => {
    const module: SinkModule = sinkModules.webhook;
    const settings = module.settingsSchema.parse(MINIMAL.webhook);
    const sink = module.create(settings, deps);
    assert.equal(sink.type, 'webhook');
    await sink.close();
  });

  it('unknown types and bad settings throw SinkConfigError with codes and key paths', () => {
    assert.throws(
      () => createSink('teams', {}, deps, 'chat'),
      (e: unknown) => e instanceof SinkConfigError && e.code === 'PGR_SINKS_UNKNOWN_TYPE' && /known types: slack, pagerduty, webhook, stdout, file, kafka, opensearch, lambda/.test(e.message),
    );
    assert.throws(
      () => createSink('file', { path: '', maxSizeBytes: 10, maxBackup: 3 }, deps, 'audit'),
      (e: unknown) => {
        assert.ok(e instanceof SinkConfigError);
        assert.equal(e.code, 'PGR_SINKS_CONFIG_INVALID');
        assert.deepEqual(e.issues.map((i) => i.path), ['path', 'maxSizeBytes', '(settings)']);
        assert.match(e.message, /audit\.maxSizeBytes: must be at least 1024/);
        assert.match(e.message, /Unrecognized key\(s\) in object: 'maxBackup'/);
        return true;
      },
    );
  });
});

describe('docs/sinks.md', () => {
  const doc = readFileSync(docPath, 'utf8');

  it('has an up-to-date generated settings reference (run: npm run -w @peregrine/sinks docs)', () => {
    const expected = replaceGeneratedBlock(doc, renderSettingsReference(Object.values(sinkModules)));
    assert.equal(doc, expected);
  });

  it('documents every setting of every type with a description', () => {
    for (const module of Object.values(sinkModules)) {
      assert.ok(doc.includes(`### \`${module.type}\``), module.type);
      for (const s of settingsOf(module)) assert.ok(s.description.length > 10, `${module.type}.${s.name} has no description`);
    }
  });
});
