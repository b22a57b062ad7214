import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadHubConfig, parseHubConfig, unreadSidekickVariables } from '../src/index.ts';
import { retryDelayMs, RetryableDeliveryError } from '../src/delivery/backoff.ts';
import { bearerChecker } from '../src/http/bearer-auth.ts';
import { deliveryFor, matchSchema } from '../src/config/schema.ts';
import { HUB_DOC, withReference } from '../src/config/write-reference.ts';
import { alert, falcoAlert, issuesOf } from './support.ts';

test('config errors name the key path and the reason, all at once', () => {
  const issues = issuesOf(() =>
    parseHubConfig({
      listen: { port: 'x' },
      delivery: { attempts: 0 },
      redis: { prefix: 'nohashtag' },
      destinations: {
        a: { type: 'slack', settings: { webhookUrl: 'not a url' } },
        b: { type: 'carrier-pigeon' },
      },
      typo: true,
    }),
  );
  assert.ok(issues.some((i) => i.startsWith('listen.port: ')), issues.join('\n'));
  assert.ok(issues.some((i) => i.startsWith('delivery.attempts: ')));
  assert.ok(issues.some((i) => i.startsWith('redis.prefix: must be a hash tag')));
  assert.ok(issues.some((i) => i.includes('unknown key(s) "typo"')));
  const later = issuesOf(() =>
    parseHubConfig({
      destinations: {
        a: { type: 'slack', settings: { webhookUrl: 'not a url' }, match: { minimumPriority: 'loud', fields: ['k8s.ns.name'] } },
        b: { type: 'carrier-pigeon' },
      },
    }),
  );
  assert.ok(later.some((i) => i.startsWith('destinations.a.match.minimumPriority: unknown priority "loud"')), later.join('\n'));
  const sinkLevel = issuesOf(() => parseHubConfig({ destinations: { a: { type: 'slack', settings: { webhookUrl: 'not a url' }, match: { fields: ['k8s.ns.name'] } }, b: { type: 'carrier-pigeon' } } }));
  assert.ok(sinkLevel.some((i) => i.startsWith('destinations.a.settings.webhookUrl: ')), sinkLevel.join('\n'));
  assert.ok(sinkLevel.some((i) => i.startsWith('destinations.a.match.fields.0: ')));
  assert.ok(sinkLevel.some((i) => i.startsWith('destinations.b.type: unknown sink type "carrier-pigeon"')));
});

test('YAML file with ${env:…} and ${file:…} secrets', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hub-config-'));
  writeFileSync(join(dir, 'token'), 'file-token-0123456789abcdef\n');
  writeFileSync(
    join(dir, 'hub.yaml'),
    `auth:\n  tokens: ["\${file:${join(dir, 'token')}}"]\ndestinations:\n  secops:\n    type: slack\n    settings:\n      webhookUrl: "\${env:SLACK_URL}"\n`,
  );
  const config = loadHubConfig(join(dir, 'hub.yaml'), { SLACK_URL: 'https://hooks.slack.com/services/T/B/X' });
  assert.deepEqual(config.auth.tokens, ['file-token-0123456789abcdef']);
  assert.equal(config.destinations.secops.settings.webhookUrl, 'https://hooks.slack.com/services/T/B/X');
  const missing = issuesOf(() => loadHubConfig(join(dir, 'hub.yaml'), {}));
  assert.deepEqual(missing.slice(0, 1), ['destinations.secops.settings.webhookUrl: environment variable SLACK_URL is not set (referenced as ${env:SLACK_URL})']);
  writeFileSync(join(dir, 'bad.yaml'), 'destinations: [\n');
  assert.match(issuesOf(() => loadHubConfig(join(dir, 'bad.yaml'), {}))[0], /^\(line \d+\)/);
});

test('Falcosidekick env vars become destinations', () => {
  const config = loadHubConfig(undefined, {
    SLACK_WEBHOOKURL: 'https://hooks.slack.com/services/T/B/X',
    SLACK_MINIMUMPRIORITY: 'warning',
    SLACK_OUTPUTFORMAT: 'text',
    PAGERDUTY_ROUTINGKEY: 'abc',
    PAGERDUTY_MINIMUMPRIORITY: '',
    WEBHOOK_ADDRESS: 'http://example.com/hook',
    WEBHOOK_CUSTOMHEADERS: 'Authorization:Bearer a:b,X-Team:sec',
    LISTENPORT: '2999',
  });
  assert.equal(config.listen.port, 2999);
  assert.deepEqual(Object.keys(config.destinations).sort(), ['pagerduty', 'slack', 'webhook']);
  assert.equal(config.destinations.slack.match.minimumPriority, 'Warning');
  assert.equal(config.destinations.slack.settings.outputFormat, 'text');
  assert.equal(config.destinations.pagerduty.match.minimumPriority, undefined, '"" means every priority');
  assert.equal(config.destinations.webhook.settings.customHeaders, 'Authorization:Bearer a:b,X-Team:sec');
  const bad = issuesOf(() => loadHubConfig(undefined, { SLACK_WEBHOOKURL: 'not-a-url', SLACK_MINIMUMPRIORITY: 'loud' }));
  assert.ok(bad.some((i) => /^destinations\.slack\.settings\.webhookUrl: .*\(from SLACK_WEBHOOKURL\)$/.test(i)), bad.join('\n'));
  assert.ok(bad.some((i) => /^destinations\.slack\.match\.minimumPriority: unknown priority "loud".*\(from SLACK_MINIMUMPRIORITY\)$/.test(i)), bad.join('\n'));
});

test('Falcosidekick outbound TLS env vars: TLSCLIENT_CACERTFILE, <OUT>_MUTUALTLS with MUTUALTLSFILESPATH, <OUT>_CHECKCERT', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hub-sidekick-tls-'));
  for (const f of ['client.crt', 'client.key', 'ca.crt', 'extra-ca.crt']) writeFileSync(join(dir, f), 'PEM\n');
  const config = loadHubConfig(undefined, {
    WEBHOOK_ADDRESS: 'https://example.com/hook',
    WEBHOOK_MUTUALTLS: 'true',
    MUTUALTLSFILESPATH: `${dir}/`,
    PAGERDUTY_ROUTINGKEY: 'abc',
    PAGERDUTY_CHECKCERT: 'false',
    SLACK_WEBHOOKURL: 'https://hooks.slack.com/services/T/B/X',
    TLSCLIENT_CACERTFILE: join(dir, 'extra-ca.crt'),
  });
  assert.deepEqual(config.destinations.webhook.settings.tls, { certFile: join(dir, 'client.crt'), keyFile: join(dir, 'client.key'), caFile: join(dir, 'ca.crt') });
  assert.deepEqual(config.destinations.pagerduty.settings.tls, { caFile: join(dir, 'extra-ca.crt'), checkCert: false });
  assert.deepEqual(config.destinations.slack.settings.tls, { caFile: join(dir, 'extra-ca.crt') });
  const missing = issuesOf(() => loadHubConfig(undefined, { WEBHOOK_ADDRESS: 'https://example.com/hook', WEBHOOK_MUTUALTLS: 'true', MUTUALTLSFILESPATH: join(dir, 'nope') }));
  assert.ok(missing.some((i) => /^destinations\.webhook\.settings\.tls\.certFile: cannot read .*nope\/client\.crt: ENOENT/.test(i)), missing.join('\n'));
});

test('Falcosidekick TLSSERVER_* env vars serve HTTPS; missing files are named with the variable', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hub-sidekick-tlsserver-'));
  for (const f of ['server.crt', 'server.key', 'ca.crt']) writeFileSync(join(dir, f), 'PEM\n');
  const env = { WEBHOOK_ADDRESS: 'http://example.com/hook', TLSSERVER_DEPLOY: 'true', TLSSERVER_CERTFILE: join(dir, 'server.crt'), TLSSERVER_KEYFILE: join(dir, 'server.key') };
  assert.deepEqual(loadHubConfig(undefined, env).tls, { certFile: join(dir, 'server.crt'), keyFile: join(dir, 'server.key'), requireClientCert: false });
  const mutual = loadHubConfig(undefined, { ...env, TLSSERVER_MUTUALTLS: 'true', TLSSERVER_CACERTFILE: join(dir, 'ca.crt') });
  assert.deepEqual(mutual.tls, { certFile: join(dir, 'server.crt'), keyFile: join(dir, 'server.key'), caFile: join(dir, 'ca.crt'), requireClientCert: true });
  assert.equal(loadHubConfig(undefined, { ...env, TLSSERVER_DEPLOY: 'false' }).tls, undefined);
  // Falcosidekick's default paths, absent here.
  const defaults = issuesOf(() => loadHubConfig(undefined, { WEBHOOK_ADDRESS: 'http://example.com/hook', TLSSERVER_DEPLOY: 'true', TLSSERVER_MUTUALTLS: 'true' }));
  assert.ok(defaults.includes('tls.certFile: cannot read /etc/certs/server/server.crt: ENOENT (from TLSSERVER_DEPLOY)'), defaults.join('\n'));
  assert.ok(defaults.includes('tls.caFile: cannot read /etc/certs/server/ca.crt: ENOENT (from TLSSERVER_DEPLOY)'), defaults.join('\n'));
  // The file's own tls section wins over the variables.
  const fileWins = parseHubConfig({ tls: { certFile: join(dir, 'ca.crt'), keyFile: join(dir, 'server.key') } }, env);
  assert.equal(fileWins.tls?.certFile, join(dir, 'ca.crt'));
  const fileError = issuesOf(() => parseHubConfig({ tls: { certFile: join(dir, 'nope.crt'), keyFile: join(dir, 'server.key') } }, env));
  assert.deepEqual(fileError, [`tls.certFile: cannot read ${join(dir, 'nope.crt')}: ENOENT`], 'not blamed on TLSSERVER_CERTFILE');
  const noCa = issuesOf(() => parseHubConfig({ tls: { certFile: join(dir, 'server.crt'), keyFile: join(dir, 'server.key'), requireClientCert: true } }));
  assert.deepEqual(noCa, ['tls.caFile: is required with tls.requireClientCert (the CA that signs client certificates)']);
});

test('Falcosidekick <OUT>_MAXCONCURRENTREQUESTS sets the destination\'s delivery concurrency (0: unlimited)', () => {
  const config = loadHubConfig(undefined, { WEBHOOK_ADDRESS: 'http://example.com/hook', WEBHOOK_MAXCONCURRENTREQUESTS: '3', SLACK_WEBHOOKURL: 'https://hooks.slack.com/services/T/B/X', SLACK_MAXCONCURRENTREQUESTS: '0', PAGERDUTY_ROUTINGKEY: 'abc' });
  assert.equal(deliveryFor(config, config.destinations.webhook).concurrency, 3);
  assert.equal(deliveryFor(config, config.destinations.slack).concurrency, 64);
  assert.equal(deliveryFor(config, config.destinations.pagerduty).concurrency, config.delivery.concurrency, 'unset: the hub default');
  const bad = issuesOf(() => loadHubConfig(undefined, { WEBHOOK_ADDRESS: 'http://example.com/hook', WEBHOOK_MAXCONCURRENTREQUESTS: 'many' }));
  assert.ok(bad.some((i) => /^destinations\.webhook\.delivery\.concurrency: .*\(from WEBHOOK_MAXCONCURRENTREQUESTS\)$/.test(i)), bad.join('\n'));
});

test('Falcosidekick variables that are set but not read are listed; cloud SDK and unrelated variables are not', () => {
  const env = {
    OUTPUTFIELDFORMAT: '<timestamp> <output>',
    LOKI_HOSTPORT: 'http://loki:3100',
    TEAMS_WEBHOOKURL: 'https://example.com/teams',
    SLACK_WEBHOOKURL: 'https://hooks.slack.com/services/T/B/X',
    SLACK_MAXCONCURRENTREQUESTS: '2',
    SLACK_MESSAGEFORMAT: '{{ .Rule }}',
    WEBHOOK_SOMETHINGNEW: 'x',
    DEBUG: 'peregrine:*',
    AWS_REGION: 'eu-west-1',
    REDIS_URL: 'redis://x',
    PATH: '/usr/bin',
  };
  assert.deepEqual(unreadSidekickVariables(env), ['LOKI_HOSTPORT', 'OUTPUTFIELDFORMAT', 'TEAMS_WEBHOOKURL', 'WEBHOOK_SOMETHINGNEW']);
  // `peregrine hub --check` says so (the hub logs the same warning at start-up).
  const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
  const run = spawnSync(process.execPath, ['--import', 'tsx', main, '--check'], { env: { ...env, PATH: process.env.PATH }, encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /^configuration OK: 1 destination\(s\): slack$/m);
  assert.match(run.stdout, /^warning: Falcosidekick settings with no Peregrine equivalent were ignored: LOKI_HOSTPORT, OUTPUTFIELDFORMAT, TEAMS_WEBHOOKURL, WEBHOOK_SOMETHINGNEW /m);
});

test('matcher: priority, rule globs, tags any/all, sources, field conditions', () => {
  // Compiled while the configuration is validated: the config carries the matcher.
  const m = matchSchema.parse({
    minimumPriority: 'Warning',
    rules: ['Terminal shell*', 'Exact rule'],
    tags: { any: ['shell', 'network'], all: ['container'] },
    sources: ['syscall'],
    fields: ['k8s.ns.name != kube-system', 'proc.name in (bash, sh)', 'container.id exists', 'user.name startswith ro'],
  }).matches;
  assert.equal(m(alert()), true);
  assert.equal(m(alert({ priority: 'Notice' })), false);
  assert.equal(m(alert({ priority: 'Emergency' })), true);
  assert.equal(m(alert({ rule: 'Other' })), false);
  assert.equal(m(alert({ rule: 'Exact rule' })), true);
  assert.equal(m(alert({ tags: ['shell'] })), false, 'all: container missing');
  assert.equal(m(alert({ tags: ['container'] })), false, 'any: none present');
  assert.equal(m(alert({ source: 'k8s_audit' })), false);
  assert.equal(m(alert({ output_fields: { 'k8s.ns.name': 'kube-system', 'proc.name': 'bash', 'container.id': 'x', 'user.name': 'root' } })), false);
  assert.equal(m(alert({ output_fields: { 'proc.name': 'zsh', 'container.id': 'x', 'user.name': 'root' } })), false);
  assert.equal(m(alert({ output_fields: { 'proc.name': 'sh', 'container.id': null, 'user.name': 'root' } })), false);
  assert.equal(m(alert({ output_fields: { 'proc.name': 'sh', 'container.id': 'x', 'user.name': 'root' } })), true, 'missing k8s.ns.name is != kube-system');
  assert.equal(matchSchema.parse({}).matches(alert({ priority: 'Debug' })), true);
});

test('retry delay: Retry-After wins, else exponential with jitter within bounds', () => {
  const cfg = { backoffInitialMs: 1000, backoffMaxMs: 8000 };
  assert.equal(retryDelayMs(3, cfg, new RetryableDeliveryError('busy', 2000)), 2000);
  assert.equal(retryDelayMs(3, cfg, new RetryableDeliveryError('busy', 60_000)), 60_000, 'Retry-After above the max is still honoured');
  assert.equal(retryDelayMs(1, cfg, undefined, () => 0), 500);
  assert.equal(retryDelayMs(1, cfg, undefined, () => 1), 1000);
  assert.equal(retryDelayMs(3, cfg, undefined, () => 1), 4000);
  assert.equal(retryDelayMs(30, cfg, undefined, () => 1), 8000);
});

test('bearer tokens: only configured tokens pass; none configured means open', () => {
  const check = bearerChecker(['token-aaaaaaaaaaaaaaaa', 'token-bbbbbbbbbbbbbbbb']);
  assert.ok(check);
  assert.equal(check('Bearer token-bbbbbbbbbbbbbbbb'), true);
  assert.equal(check('bearer token-aaaaaaaaaaaaaaaa'), true);
  assert.equal(check('Bearer token-aaaaaaaaaaaaaaa'), false);
  assert.equal(check('token-aaaaaaaaaaaaaaaa'), false);
  assert.equal(check(undefined), false);
  assert.equal(bearerChecker([]), undefined);
});

test('docs/hub.md carries the configuration reference generated from the schema', () => {
  const doc = readFileSync(HUB_DOC, 'utf8');
  assert.equal(withReference(doc), doc, 'run: node --import tsx apps/hub/src/config/write-reference.ts');
});

test('a destination\'s delivery block overrides only the keys it names', () => {
  const config = parseHubConfig({
    delivery: { attempts: 5, concurrency: 2 },
    destinations: { a: { type: 'stdout', delivery: { attempts: 20 } }, b: { type: 'stdout' } },
  });
  assert.deepEqual(
    [deliveryFor(config, config.destinations.a), deliveryFor(config, config.destinations.b)].map((d) => [d.attempts, d.concurrency, d.timeoutMs]),
    [[20, 2, 10_000], [5, 2, 10_000]],
  );
});
