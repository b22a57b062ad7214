// The README (and docs/migration.md, which it points to for the details) held to the truth:
// its fenced commands and snippets are taken out of the Markdown and run or checked against the
// real programs. Troubleshooting: each quoted message is produced by creating its condition
// (BTF hidden in a private mount namespace, capabilities dropped from the bounding set, tracefs
// unmounted, a broken rules file, Redis on a closed port or stopped, the hub on a closed port).
// Migration: the falco.yaml settings become the request Falco's http_output sends and the hub must
// take it; the Falcosidekick environment examples pass `peregrine hub --check` with the output the
// README shows; the variable lists match the hub's mapping name for name. Configuration reference:
// every generated reference the README links is current. Needs root (the sensor's probe).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { SIDEKICK_ENV_VARS, unreadSidekickVariables } from '@peregrine/hub';
import { sinkModules } from '@peregrine/sinks';
import { renderSettingsReference, replaceGeneratedBlock as replaceSinkSettings } from '../../packages/sinks/src/docs/settings-reference.ts';
import { withReference as withHubReference } from '../../apps/hub/src/config/write-reference.ts';
import { withSensorReference } from '../../apps/sensor/src/config/write-reference.ts';
import { withPolicyReference } from '../../apps/responder/src/policy-reference.ts';
import { freeLoopbackPort, startHttpReceiver, startTestRedis } from '../support/index.ts';
import type { HttpReceiver, TestRedis } from '../support/index.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// What `npx peregrine` runs: the workspace's bin.
const PEREGRINE_BIN = join(ROOT, 'apps/cli/bin/peregrine.js');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const MIGRATION = readFileSync(join(ROOT, 'docs/migration.md'), 'utf8');

// ---------------------------------------------------------------- Markdown

interface Fence {
  readonly lang: string;
  readonly body: string;
}

/** The text under a heading, up to the next heading of the same or a higher level. */
function section(markdown: string, heading: string): string {
  const lines = markdown.split('\n');
  const level = /^#+/.exec(heading)?.[0].length ?? 0;
  const start = lines.indexOf(heading);
  assert.ok(level > 0 && start >= 0, `the document has no heading "${heading}"`);
  let end = lines.length;
  let inFence = false;
  for (let i = start + 1; i < lines.length; i++) {
    if (lines[i].startsWith('```')) inFence = !inFence;
    const m = /^(#+) /.exec(lines[i]);
    if (!inFence && m !== null && m[1].length <= level) {
      end = i;
      break;
    }
  }
  return lines.slice(start + 1, end).join('\n');
}

/** The `###` subsections of a text: heading text → body. */
function subsections(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(/^### (.+)$/gm)) out.set(m[1], section(text, `### ${m[1]}`));
  return out;
}

// The Lab section is someone else's and is held to the truth by test/e2e/lab-core.test.ts.
const README_CHECKED = (() => {
  const lab = README.indexOf('## Lab (docker compose)\n');
  const next = README.indexOf('\n## ', lab + 1);
  return lab < 0 || next < 0 ? README : README.slice(0, lab) + README.slice(next + 1);
})();

function fences(markdown: string): Fence[] {
  return [...markdown.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1], body: m[2] }));
}

/** A quoted message as a pattern: literal text, `…` standing for what varies. */
function messagePattern(quoted: string): RegExp {
  const parts = quoted.trimEnd().split('…').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(parts.join('[\\s\\S]*?'));
}

function assertQuoted(output: string, quoted: string, what: string): void {
  assert.match(output, messagePattern(quoted), `${what}: the README quotes\n${quoted}\nbut the program printed\n${output.slice(-4000)}`);
}

// ---------------------------------------------------------------- processes

interface Finished {
  readonly code: number | null;
  readonly output: string;
}

/** Runs a command to its end (killed after `timeoutMs`, which fails the test with what it printed). */
function run(command: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env: options.env ?? { ...process.env, HOME: tmpdir() }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} still ran after ${options.timeoutMs ?? 90_000} ms:\n${output.slice(-4000)}`));
    }, options.timeoutMs ?? 90_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

interface Running {
  output(): string;
  waitFor(pattern: RegExp, what: string, timeoutMs: number, poke?: () => void): Promise<void>;
  stop(): Promise<void>;
}

function start(command: string, args: readonly string[], env: NodeJS.ProcessEnv = { ...process.env, HOME: tmpdir() }): Running {
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  return {
    output: () => output,
    async waitFor(pattern, what, timeoutMs, poke) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(output)) {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what}: the process ended (${child.exitCode ?? child.signalCode}):\n${output.slice(-4000)}`);
        if (Date.now() > deadline) throw new Error(`${what}: not seen after ${timeoutMs} ms:\n${output.slice(-4000)}`);
        poke?.();
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        await closed;
        clearTimeout(killer);
      }
    },
  };
}

const peregrine = (args: readonly string[], options?: { env?: NodeJS.ProcessEnv; timeoutMs?: number }) => run(process.execPath, [PEREGRINE_BIN, ...args], options);

/** A POST as Falco's http_output (libcurl) sends it: these headers and the body, nothing else. */
function postLikeFalco(url: URL, headers: Record<string, string>, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.once('error', reject);
    req.end(body);
  });
}

// ---------------------------------------------------------------- the README overall

describe('README: commands and paths', () => {
  const checked = README_CHECKED;

  test('every repository path the README names exists', () => {
    const missing: string[] = [];
    for (const m of checked.matchAll(/(?:`|\]\()((?:docs|apps|packages|helm|deploy|test|scripts|native|bench)\/[^`)\s#]*)/g)) {
      const path = m[1].replace(/[.,:;]+$/, '');
      if (/[…<>*{}]/.test(path)) continue; // a pattern, not a path
      if (!existsSync(join(ROOT, path))) missing.push(path);
    }
    assert.deepEqual(missing, [], 'README names paths that do not exist');
  });

  test('every link to a README heading (#anchor) has its heading', () => {
    const slugs = new Set([...README.matchAll(/^#+ (.+)$/gm)].map((m) => m[1].toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-')));
    const anchors = [...checked.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]);
    assert.ok(anchors.length > 0, 'no in-page link found');
    assert.deepEqual(anchors.filter((a) => !slugs.has(a)), []);
  });

  test('every `npx peregrine` command line uses a command and options the CLI has', async () => {
    const help = new Map<string, string>();
    const problems: string[] = [];
    const lines = [...fences(checked), ...fences(MIGRATION)].filter((f) => f.lang === 'sh').flatMap((f) => f.body.replace(/\\\n/g, ' ').split('\n'));
    let seen = 0;
    for (const line of lines) {
      const m = /(?:^|\s)npx peregrine (\w+)(.*)$/.exec(line.replace(/#.*$/, ''));
      if (m === null) continue;
      seen++;
      const [, command, rest] = m;
      if (!help.has(command)) {
        const r = await peregrine([command, '--help'], { timeoutMs: 60_000 });
        if (r.code !== 0) problems.push(`peregrine ${command}: not a command (${r.output.split('\n')[0]})`);
        help.set(command, r.output);
      }
      for (const option of rest.match(/(?<=\s)--[a-z][a-z-]*/g) ?? []) {
        // A whole option: --event is not --events.
        if (!new RegExp(`${option}(?![a-z-])`).test(help.get(command) ?? '')) problems.push(`peregrine ${command} has no option ${option} (README: ${line.trim()})`);
      }
    }
    assert.ok(seen >= 6, `only ${seen} npx peregrine lines found`);
    assert.deepEqual(problems, []);
  });
});

// ---------------------------------------------------------------- configuration reference

describe('README: configuration reference', () => {
  const regenerate: Record<string, (doc: string) => string> = {
    'docs/hub.md': withHubReference,
    'docs/sensor.md': withSensorReference,
    'docs/responder.md': withPolicyReference,
    'docs/sinks.md': (doc) => replaceSinkSettings(doc, renderSettingsReference(Object.values(sinkModules))),
  };

  test('links the generated reference of the hub, the sensor, the responder policy and the sink settings, each current', () => {
    const text = section(README, '## Configuration reference');
    const links = [...text.matchAll(/\]\(([^)#]+)(?:#([^)]+))?\)/g)].map((m) => ({ doc: m[1], anchor: m[2] }));
    assert.deepEqual(links.map((l) => l.doc).sort(), Object.keys(regenerate).sort(), 'the section links exactly the generated references');
    for (const { doc, anchor } of links) {
      const markdown = readFileSync(join(ROOT, doc), 'utf8');
      if (anchor !== undefined) {
        const slugs = [...markdown.matchAll(/^#+ (.+)$/gm)].map((m) => m[1].toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-'));
        assert.ok(slugs.includes(anchor), `${doc} has no heading for #${anchor}`);
      }
      assert.equal(regenerate[doc](markdown), markdown, `${doc}: the generated reference is stale; run the command in README's "Configuration reference" table`);
    }
  });

  test('each regenerate command names a script that exists', () => {
    const commands = [...section(README, '## Configuration reference').matchAll(/\| `(node --import tsx ([^`]+)|npm run -w (\S+) (\w+))` \|/g)];
    assert.equal(commands.length, 4);
    for (const m of commands) {
      if (m[2] !== undefined) assert.ok(existsSync(join(ROOT, m[2])), m[2]);
      else {
        const pkg = JSON.parse(readFileSync(join(ROOT, 'packages', m[3].replace('@peregrine/', ''), 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
        assert.ok(pkg.scripts?.[m[4]] !== undefined, `${m[3]} has no script ${m[4]}`);
      }
    }
  });
});

// ---------------------------------------------------------------- migration

/**
 * A Falco JSON alert as Falco builds it (../shared/reference/falco-rule-language.md, JSON output):
 * keys in alphabetical order, typed output_fields with a 64-bit evt.time and null for a missing value.
 */
function falcoJsonAlert(include: { output: boolean; tags: boolean; message: boolean; outputFields: boolean }, rule: string): string {
  const output = '06:13:20.123456789: Error Write below /etc (file=/etc/lab-test pod=web-1 ns=shop)';
  const parts: string[] = [`"hostname":"node-1"`];
  if (include.message) parts.push(`"message":"Write below /etc (file=/etc/lab-test pod=web-1 ns=shop)"`);
  if (include.output) parts.push(`"output":${JSON.stringify(output)}`);
  if (include.outputFields) parts.push(`"output_fields":{"container.id":"3ad7b26ded6d","container.image.repository":null,"evt.time":1718000000123456789,"fd.name":"/etc/lab-test","k8s.ns.name":"shop","k8s.pod.name":"web-1","proc.aname[2]":"bash","proc.tty":34816,"user.loginuid":-1}`);
  parts.push(`"priority":"Error"`, `"rule":${JSON.stringify(rule)}`, `"source":"syscall"`);
  if (include.tags) parts.push(`"tags":["container","filesystem","mitre_persistence"]`);
  parts.push(`"time":"2024-06-10T06:13:20.123456789Z"`);
  return `{${parts.join(',')}}`;
}

/**
 * What Falco's http_output posts for these falco.yaml settings: one POST per alert through libcurl
 * (falcosecurity/falco userspace/falco/outputs_http.cpp: Content-Type application/json with
 * json_output, else text/plain; User-Agent from http_output.user_agent; libcurl adds Accept).
 */
function falcoRequest(settings: Record<string, unknown>, rule: string): { url: URL; headers: Record<string, string>; body: string } {
  const http = settings.http_output as Record<string, unknown> | undefined;
  assert.ok(http !== undefined && http.enabled === true, 'http_output.enabled must be true, or Falco posts nothing');
  assert.equal(typeof http.url, 'string', 'http_output.url');
  const json = settings.json_output === true;
  const flag = (key: string, dflt: boolean) => (settings[key] === undefined ? dflt : settings[key] === true);
  const body = json
    ? falcoJsonAlert({ output: flag('json_include_output_property', true), tags: flag('json_include_tags_property', true), message: flag('json_include_message_property', false), outputFields: flag('json_include_output_fields_property', true) }, rule)
    : '06:13:20.123456789: Error Write below /etc (file=/etc/lab-test pod=web-1 ns=shop)';
  return {
    url: new URL(http.url as string),
    headers: { 'user-agent': typeof http.user_agent === 'string' ? http.user_agent : 'falcosecurity/falco', accept: '*/*', 'content-type': json ? 'application/json' : 'text/plain' },
    body,
  };
}

function shellEnv(command: string): { env: Record<string, string>; args: string[]; expected: string[] } {
  const joined = command.replace(/\\\n/g, ' ');
  const lines = joined.split('\n');
  const commandLine = lines.find((l) => /npx peregrine /.test(l));
  assert.ok(commandLine !== undefined, `no npx peregrine line in\n${command}`);
  const words = commandLine.trim().split(/\s+/);
  const env: Record<string, string> = {};
  while (/^[A-Z_]+=/.test(words[0])) {
    const [name, ...value] = words.shift()!.split('=');
    env[name] = value.join('=');
  }
  assert.deepEqual(words.slice(0, 2), ['npx', 'peregrine']);
  const expected = lines.slice(lines.indexOf(commandLine) + 1).filter((l) => l.startsWith('# ')).map((l) => l.slice(2));
  return { env, args: words.slice(2), expected };
}

describe('README and docs/migration.md: migrating from Falco + Falcosidekick', () => {
  let redis: TestRedis;
  let receiver: HttpReceiver;
  let hub: Running;
  let hubPort: number;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pg-readme-'));
    redis = await startTestRedis();
    receiver = await startHttpReceiver();
    hubPort = await freeLoopbackPort();
    const config = join(dir, 'hub.yaml');
    writeFileSync(config, `listen: { host: 127.0.0.1 }\ndestinations:\n  receiver:\n    type: webhook\n    settings: { address: "${receiver.url}" }\n`);
    hub = start(process.execPath, [PEREGRINE_BIN, 'hub', '--config', config, '--redis', redis.url, '--port', String(hubPort)]);
    await hub.waitFor(/listening|"msg":"hub ready|connected to redis/, 'hub start', 120_000);
    for (const deadline = Date.now() + 120_000; ; ) {
      const ok = await fetch(`http://127.0.0.1:${hubPort}/readyz`).then((r) => r.status === 200, () => false);
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`hub not ready:\n${hub.output()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  after(async () => {
    await hub?.stop();
    await receiver?.close();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the falco.yaml settings shown make Falco post requests the hub accepts and delivers', async () => {
    const snippets = [...fences(README_CHECKED), ...fences(MIGRATION)].filter((f) => f.lang === 'yaml' && /^http_output:/m.test(f.body));
    assert.equal(snippets.length, 2, 'one falco.yaml snippet in the README, one in docs/migration.md');
    for (const [i, snippet] of snippets.entries()) {
      const settings = parseYaml(snippet.body) as Record<string, unknown>;
      const rule = `readme falco.yaml snippet ${i}`;
      const falco = falcoRequest(settings, rule);
      assert.equal(falco.url.port, '2801', 'the hub listens on 2801 by default');
      const target = new URL(falco.url.pathname + falco.url.search, `http://127.0.0.1:${hubPort}`);
      const answer = await postLikeFalco(target, falco.headers, falco.body);
      assert.equal(answer.status, 202, `snippet ${i}: ${answer.body}`);
      await receiver.waitFor((rs) => rs.some((r) => r.body.includes(rule)), 30_000);
      const delivered = JSON.parse(receiver.requests.find((r) => r.body.includes(rule))!.body) as Record<string, unknown>;
      assert.equal(delivered.priority, 'Error');
      // The 64-bit evt.time arrives digit for digit.
      assert.ok(receiver.requests.find((r) => r.body.includes(rule))!.body.includes('"evt.time":1718000000123456789'));
    }
  });

  test('each json_include_* row of docs/migration.md says truly what the hub does', async () => {
    const table = section(MIGRATION, '## 1. Falco posts to the hub');
    const rows = [...table.matchAll(/^\| `(\w+): (true|false)` \| (.+) \|$/gm)];
    assert.equal(rows.length, 5);
    const base = parseYaml(fences(MIGRATION).find((f) => /^http_output:/m.test(f.body))!.body) as Record<string, unknown>;
    for (const [, key, value, effect] of rows) {
      const falco = falcoRequest({ ...base, [key]: value === 'true' }, `row ${key}`);
      const answer = await postLikeFalco(new URL('/', `http://127.0.0.1:${hubPort}`), falco.headers, falco.body);
      const expected = effect.includes('**400**') ? 400 : 202;
      assert.equal(answer.status, expected, `${key}: ${value}: the doc says "${effect}", the hub answered ${answer.status} ${answer.body}`);
    }
  });

  test('the Falcosidekick environment examples pass `peregrine hub --check` with the output shown', async () => {
    const examples = [...fences(README_CHECKED), ...fences(MIGRATION)].filter((f) => f.lang === 'sh' && /peregrine hub --check/.test(f.body));
    assert.equal(examples.length, 2);
    for (const example of examples) {
      const { env, args, expected } = shellEnv(example.body);
      assert.ok(Object.keys(env).length > 0 && expected.length > 0, example.body);
      const r = await peregrine(args, { env: { PATH: process.env.PATH ?? '', HOME: tmpdir(), ...env }, timeoutMs: 60_000 });
      assert.equal(r.code, 0, r.output);
      for (const line of expected) assert.ok(r.output.includes(line), `expected "${line}", got:\n${r.output}`);
    }
  });

  test('the variables docs/migration.md says the hub reads are exactly those it reads', () => {
    const table = section(MIGRATION, '### Variables the hub reads');
    const listed = new Set([...table.matchAll(/^\| (.+?) \|/gm)].flatMap((m) => [...m[1].matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((n) => n[1])));
    const read = new Set(SIDEKICK_ENV_VARS);
    assert.deepEqual([...read].filter((v) => !listed.has(v)).sort(), [], 'read by the hub, missing from the doc');
    assert.deepEqual([...listed].filter((v) => !read.has(v)).sort(), [], 'in the doc, not read by the hub');
  });

  test('the variables docs/migration.md says are warned about are named at start-up; the others are not', () => {
    const text = section(MIGRATION, '### Variables the hub does not read');
    const [warnedPart, silentPart] = text.split('Not read and not warned about');
    const names = (part: string) => [...part.matchAll(/`([A-Z][A-Z0-9_]*\*?)`/g)].map((m) => m[1].replace(/\*$/, 'X'));
    const warned = names(warnedPart);
    assert.ok(warned.length >= 20, `only ${warned.length} names`);
    for (const name of warned) assert.deepEqual(unreadSidekickVariables({ [name]: 'x' }), [name], `${name} is not named in the start-up warning`);
    const silent = names(silentPart);
    assert.deepEqual(silent, ['DEBUG', 'REDIS_X']);
    for (const name of silent) assert.deepEqual(unreadSidekickVariables({ [name]: 'x' }), [], name);
  });

  test("Falco's upstream falco_rules.yaml loads unmodified, and has open_write but not the write/chmod macros docs/migration.md says it lacks", async () => {
    const upstream = join(ROOT, 'packages/rules/test/fixtures/falco-rules/falco_rules.yaml');
    assert.match(MIGRATION, /upstream file has `open_write` but no `write` or `chmod` macro/);
    const macros = (parseYaml(readFileSync(upstream, 'utf8')) as Array<{ macro?: string }>).flatMap((item) => (item.macro === undefined ? [] : [item.macro]));
    assert.ok(macros.includes('open_write'));
    assert.deepEqual(macros.filter((m) => m === 'write' || m === 'chmod'), []);
    const r = await peregrine(['rules', 'validate', upstream], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.output);
  });

  test('the customRules blocks (README values, docs/migration.md) load after the default rules', async () => {
    const blocks = [...fences(README_CHECKED), ...fences(MIGRATION)].filter((f) => f.lang === 'yaml' && /^customRules:/m.test(f.body));
    assert.equal(blocks.length, 2);
    for (const [i, block] of blocks.entries()) {
      const values = parseYaml(block.body) as { customRules: Record<string, string> };
      for (const [name, rules] of Object.entries(values.customRules)) {
        const file = join(dir, `${i}-${name}`);
        writeFileSync(file, rules);
        const r = await peregrine(['rules', 'validate', 'packages/rules/rules/peregrine_rules.yaml', file], { timeoutMs: 60_000 });
        assert.equal(r.code, 0, `${name}: ${r.output}`);
      }
    }
  });
});

// ---------------------------------------------------------------- troubleshooting

/** The ```text blocks of one Troubleshooting subsection. */
function quotedMessages(subsection: string): string[] {
  return fences(subsection)
    .filter((f) => f.lang === 'text')
    .map((f) => f.body);
}

describe('README: troubleshooting', () => {
  const troubles = subsections(section(README, '## Troubleshooting'));
  const sensorArgs = ['--output', 'none', '--metrics-port', '0'];
  let dir: string;

  /** `peregrine sensor` started through `wrapper` (which ends by running it) exits 1 printing `quoted`. */
  async function sensorRefuses(wrapper: readonly string[], quoted: string, what: string): Promise<void> {
    const [command, ...args] = wrapper;
    const r = await run(command!, [...args, process.execPath, PEREGRINE_BIN, 'sensor', ...sensorArgs]);
    assert.equal(r.code, 1, r.output);
    assertQuoted(r.output, quoted, what);
  }

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'pg-readme-trouble-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  // Each subsection of the README's Troubleshooting: how to create the condition and get the output.
  // `quotes`: how many ```text blocks the entry has, in order.
  const scenarios: Record<string, { quotes: number; check: (messages: string[]) => Promise<void> }> = {
    'No BTF': {
      quotes: 1,
      async check([message]) {
        // The host's BTF hidden under an empty tmpfs, in a mount namespace of this command only.
        await sensorRefuses(['unshare', '--mount', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs none /sys/kernel/btf && exec "$0" "$@"'], message, 'no BTF');
      },
    },
    'Missing capabilities': {
      quotes: 3,
      async check([notRoot, rootWithout, withoutProcAccess]) {
        await sensorRefuses(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all'], notRoot, 'not root');
        await sensorRefuses(['setpriv', '--bounding-set', '-bpf,-perfmon,-sys_admin'], rootWithout, 'root without BPF/PERFMON');
        // Without SYS_PTRACE and DAC_READ_SEARCH (nor DAC_OVERRIDE, which covers it): `--check` passes
        // with the warning, and the sensor starts and logs it.
        const withoutProcCaps = ['setpriv', '--bounding-set', '-sys_ptrace,-dac_read_search,-dac_override'];
        const checked = await run(withoutProcCaps[0]!, [...withoutProcCaps.slice(1), process.execPath, PEREGRINE_BIN, 'sensor', '--check', ...sensorArgs]);
        assert.equal(checked.code, 0, checked.output);
        assertQuoted(checked.output, withoutProcAccess, 'sensor --check without SYS_PTRACE/DAC_READ_SEARCH');
        const sensor = start(withoutProcCaps[0]!, [...withoutProcCaps.slice(1), process.execPath, PEREGRINE_BIN, 'sensor', ...sensorArgs]);
        try {
          await sensor.waitFor(/sensor running/, 'sensor start without SYS_PTRACE/DAC_READ_SEARCH', 120_000);
          assertQuoted(sensor.output(), withoutProcAccess.replace(/^warning: /, ''), 'the running sensor\'s log without SYS_PTRACE/DAC_READ_SEARCH');
        } finally {
          await sensor.stop();
        }
      },
    },
    'tracefs not mounted': {
      quotes: 1,
      async check([message]) {
        // Unmounted in a private mount namespace, and no SYS_ADMIN to mount it again.
        await sensorRefuses(['unshare', '--mount', '--propagation', 'private', 'sh', '-c', 'umount /sys/kernel/tracing && exec setpriv --bounding-set -sys_admin "$0" "$@"'], message, 'tracefs');
      },
    },
    'A rules file that does not load': {
      quotes: 1,
      async check([message]) {
        const file = join(dir, 'custom_rules.yaml');
        writeFileSync(file, '- rule: Write below etc\n  desc: a typo in a field name\n  condition: evt.type = open and fd.nme startswith /etc\n  output: "w %fd.name"\n  priority: ERROR\n');
        const r = await peregrine(['sensor', '--rules', file, ...sensorArgs]);
        assert.equal(r.code, 1, r.output);
        assertQuoted(r.output, message, 'rules file');
        const validate = await peregrine(['rules', 'validate', file]);
        assert.equal(validate.code, 1, validate.output);
        assertQuoted(validate.output, message.split('\n').slice(1).join('\n'), '`rules validate`, the same message without "peregrine sensor:"');
      },
    },
    'Redis down': {
      quotes: 2,
      async check([atStart, whileRunning]) {
        const closed = await freeLoopbackPort();
        const r = await peregrine(['hub', '--redis', `redis://127.0.0.1:${closed}`, '--port', '0']);
        assert.equal(r.code, 1, r.output);
        assertQuoted(r.output, atStart, 'Redis down at start-up');

        const redis = await startTestRedis();
        const port = await freeLoopbackPort();
        // On loopback only (Falcosidekick's LISTENADDRESS), where the port was found free.
        const hub = start(process.execPath, [PEREGRINE_BIN, 'hub', '--redis', redis.url, '--port', String(port)], { ...process.env, HOME: tmpdir(), LISTENADDRESS: '127.0.0.1' });
        try {
          const ready = async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status;
          await hub.waitFor(/connected to redis/, 'hub start', 120_000);
          for (let i = 0; (await ready()) !== 200; i++) {
            assert.ok(i < 600, `hub never ready:\n${hub.output()}`);
            await new Promise((resolve) => setTimeout(resolve, 200));
          }
          await redis.crash();
          for (let i = 0; (await ready()) !== 503; i++) {
            assert.ok(i < 600, `/readyz never said 503 with Redis down:\n${hub.output()}`);
            await new Promise((resolve) => setTimeout(resolve, 200));
          }
          const answer = await postLikeFalco(new URL(`http://127.0.0.1:${port}/`), { 'content-type': 'application/json' }, falcoJsonAlert({ output: true, tags: true, message: false, outputFields: true }, 'redis down'));
          assert.equal(answer.status, 503);
          assertQuoted(answer.body, whileRunning, 'ingest while Redis is down');
        } finally {
          await hub.stop();
          await redis.stop();
        }
      },
    },
    'Hub unreachable from the sensor': {
      quotes: 1,
      async check([message]) {
        const closed = await freeLoopbackPort();
        const trigger = join(dir, 'trigger');
        writeFileSync(trigger, 'x');
        const rules = join(dir, 'trigger_rules.yaml');
        writeFileSync(rules, `- rule: README trigger\n  desc: an alert on demand\n  condition: evt.type in (open, openat) and fd.name = ${trigger}\n  output: opened %fd.name\n  priority: WARNING\n`);
        const sensor = start(process.execPath, [PEREGRINE_BIN, 'sensor', '--rules', rules, '--hub', `http://127.0.0.1:${closed}`, '--spool-dir', join(dir, 'spool'), ...sensorArgs]);
        try {
          await sensor.waitFor(/sensor running/, 'sensor start', 120_000);
          await sensor.waitFor(/does not take alerts/, 'the hub-unreachable warning', 60_000, () => readFileSync(trigger));
          assertQuoted(sensor.output(), message, 'hub unreachable');
        } finally {
          await sensor.stop();
        }
      },
    },
  };

  test('every troubleshooting entry has its check here, and every one quotes a message', () => {
    assert.deepEqual([...troubles.keys()].sort(), Object.keys(scenarios).sort());
    for (const [heading, text] of troubles) assert.ok(quotedMessages(text).length > 0, `${heading} quotes no message`);
  });

  for (const [heading, scenario] of Object.entries(scenarios)) {
    test(`${heading}: the program prints what the README quotes`, { timeout: 300_000 }, async () => {
      const text = troubles.get(heading);
      assert.ok(text !== undefined, `README's Troubleshooting has no "### ${heading}"`);
      const messages = quotedMessages(text);
      assert.equal(messages.length, scenario.quotes, `${heading}: ${messages.length} quoted messages, the check expects ${scenario.quotes}`);
      await scenario.check(messages);
    });
  }
});
