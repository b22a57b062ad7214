#!/usr/bin/env node
// False-positive baseline (issue 9): run `npm ci` and `npm test` of a fresh
// clone of this repository under `peregrine sensor` with Falco's upstream stable
// rules, keep the alerts raised by that run's own processes, and classify each
// (rule, process) pair with the reasons listed in README.md ("False positives").
//
//   flock-free:  node scripts/false-positive-baseline.mjs            # the full run (root; 20-60 min)
//                node scripts/false-positive-baseline.mjs --from DIR # the table again, from a recorded run
//
// Not part of `npm test`: it runs `npm test` itself. It takes
// /tmp/peregrine-bench.lock for the whole run (so benchmarks do not share the
// cores with it), unless --no-bench-lock.
//
// Other people's processes on the same machine are seen by the sensor too, so
// an alert counts only when it comes from the run: its process or one of its
// ancestors (proc.apid[1..N], appended to every rule's output through a small
// generated rules file using Falco's `override: {output: append}`, so the
// upstream file loads unmodified) is the run's root process. Container
// processes are not descendants (containerd's shims re-parent to init), so an
// alert from a container counts when it was raised while the run's own
// containerd/dockerd were the machine's container runtimes (the test support
// holds an exclusive lock on them, /tmp/peregrine-containers.lock).
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const STABLE_RULES = join(REPO, 'packages/rules/test/fixtures/falco-rules/falco_rules.yaml');
export const ANCESTOR_DEPTH = 24;
const BENCH_LOCK = '/tmp/peregrine-bench.lock';
const POLL_MS = 500;

const USAGE = `Usage: node scripts/false-positive-baseline.mjs [options]

Runs \`npm ci\` and \`npm test\` of a fresh clone of this repository under
\`peregrine sensor\` with Falco's stable rules and prints each alert raised by
that run: rule, count, an example process, and why it fires (README.md,
"False positives"). Needs root. Takes 20-60 minutes.

Options:
  --from DIR         Do not run: print the table of a recorded run (its folder).
  --dir DIR          Folder for the clone, logs and results (default: a new /tmp/peregrine-fp-*).
  --rules FILE       Rules file (repeatable; default the upstream stable falco_rules.yaml).
  --fresh-cache      Do not seed the clone's .cache/ (built servers, images, addon) from
                     this work tree: the run then also builds them (longer).
  --no-bench-lock    Do not take ${BENCH_LOCK} for the run.
  --command CMD      Run this shell command in the clone instead of \`npm ci && npm test\`
                     (to check the set-up quickly, e.g. --command 'cat /etc/shadow').
  --json             Print the classified rows as JSON instead of a table.
  -h, --help         This text.`;

function parseArgs(argv) {
  const opts = { from: undefined, dir: undefined, rules: [], freshCache: false, benchLock: true, json: false, command: 'npm ci --no-audit --no-fund && npm test' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) fail(`${a} needs a value`);
      return v;
    };
    if (a === '--from') opts.from = resolve(value());
    else if (a === '--dir') opts.dir = resolve(value());
    else if (a === '--rules') opts.rules.push(resolve(value()));
    else if (a === '--fresh-cache') opts.freshCache = true;
    else if (a === '--no-bench-lock') opts.benchLock = false;
    else if (a === '--json') opts.json = true;
    else if (a === '--command') opts.command = value();
    else if (a === '-h' || a === '--help') {
      console.log(USAGE);
      process.exit(0);
    } else fail(`unknown option ${a}`);
  }
  if (opts.rules.length === 0) opts.rules.push(STABLE_RULES);
  return opts;
}

function fail(message) {
  console.error(`false-positive-baseline: ${message}\n(--help for usage)`);
  process.exit(2);
}

function log(message) {
  console.error(`[fp-baseline ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

// ---------------------------------------------------------------------------
// Classification. Each entry: a rule, a test on the alert, a key and the why.
// `kind`: `test-action` = a test does the suspicious thing on purpose (a true
// positive); `false-positive` = the rule fires on ordinary build/test work.
// The first matching entry wins; an alert matching none is `unclassified`.
// ---------------------------------------------------------------------------

/** @typedef {{rule: string, output_fields: Record<string, unknown>, time: string, output: string}} Alert */

const f = (a, k) => {
  const v = a.output_fields[k];
  return v === null || v === undefined ? '' : String(v);
};
const testFileOf = (a) => {
  for (let n = 0; n <= ANCESTOR_DEPTH; n++) {
    const cmd = n === 0 ? f(a, 'proc.cmdline') : f(a, `proc.acmdline[${n}]`);
    const m = /(\S+\.test\.ts)\b/.exec(cmd);
    if (m) return relativeTestPath(m[1]);
  }
  return a.fp_test ?? '';
};
const relativeTestPath = (path) => path.replace(/^.*?\/((?:apps|packages|native|test|bench)\/)/, '$1').replace(/^\.\//, '');

/**
 * Test files that do suspicious-looking things on purpose (read /etc/shadow,
 * start shells in containers, drop binaries, …) to check that the sensor sees
 * them: their alerts are true positives.
 */
export const ACTING_TESTS = {
  'apps/sensor/test/upstream-rules.test.ts': 'triggers upstream stable/incubating rules with harmless real actions (acceptance)',
  'apps/sensor/test/acceptance-seed.test.ts': "the seed article's actions: shell in a container, write below /etc, chmod /etc/passwd, kubectl exec",
  'apps/sensor/test/run.test.ts': '`npm start` check: cat /etc/shadow',
  'apps/sensor/test/run-container.test.ts': '`peregrine run` checks: cat /etc/shadow, a shell in a new Docker container',
  'apps/sensor/test/sensor-command.test.ts': '`peregrine sensor` checks: cat /etc/shadow, reload',
  'apps/sensor/test/reload.test.ts': 'the reload drill: files created while rules change',
  'apps/sensor/test/metrics.test.ts': 'alerts raised to check the alert metrics',
  'apps/sensor/test/fields.test.ts': 'real actions whose field values are checked',
  'apps/sensor/test/containers.test.ts': 'shells and commands in real CRI and Docker containers (metadata checks)',
  'apps/sensor/test/replay-cli.test.ts': 'records a capture of an untrusted program (the sysc helper) opening /etc/shadow, then replays it',
  'native/test/syscalls.test.ts': 'the probe test helper (sysc) makes each captured syscall once: ptrace(PTRACE_ATTACH), memfd_create, setns, init_module, …',
  'native/test/exec-info.test.ts': 'checks the exe flags of execve: runs a binary from a memfd (proc.is_exe_from_memfd)',
  'test/e2e/lab-core.test.ts': "the lab's seed scenarios in the victim container",
  'test/e2e/lab-full.test.ts': "the full lab's CRITICAL seed alert: a shell with a terminal in the victim container",
  'test/e2e/helm-install.test.ts': "the chart's seed journey: kubectl exec -it into a workload pod, a write under /etc, a chmod",
  'test/e2e/hub-outage.test.ts': 'the hub-outage drill raises 1,000 alerts on purpose',
};

const actingTest = (a) => Object.hasOwn(ACTING_TESTS, testFileOf(a));

const ancestorCmdlines = (a) => {
  const out = [];
  for (let n = 1; n <= ANCESTOR_DEPTH; n++) out.push(f(a, `proc.acmdline[${n}]`));
  return out;
};
const inImageBuild = (a) =>
  f(a, 'container.id') !== 'host' &&
  [f(a, 'proc.cmdline'), ...ancestorCmdlines(a)].some((c) => /^(npm install|apt-get install|dpkg |pip3? install)/.test(c)) &&
  ancestorCmdlines(a).some((c) => /^containerd-shim /.test(c));

export const CLASSES = [
  {
    rule: 'Drop and execute new binary in container',
    match: inImageBuild,
    key: 'image-build',
    kind: 'false-positive',
    why:
      'a `docker build` RUN step runs a program it has just installed (npm install runs esbuild --version, dpkg runs py3compile): ' +
      "the build step is a container and the new file is in its overlay upper layer. Falco fires the same; tune by image or with the rule's exceptions.",
  },
  {
    rule: '*',
    match: actingTest,
    key: 'test-action',
    kind: 'test-action',
    why: 'a test does this on purpose to check that the sensor sees it',
  },
];

function classify(alert) {
  for (const c of CLASSES) {
    if (c.rule !== '*' && c.rule !== alert.rule) continue;
    if (c.match && !c.match(alert)) continue;
    return c.key === 'test-action' ? { ...c, why: ACTING_TESTS[testFileOf(alert)] } : c;
  }
  return { key: 'unclassified', kind: 'unclassified', why: 'not yet explained: see README.md "False positives"' };
}

// ---------------------------------------------------------------------------
// The run.
// ---------------------------------------------------------------------------

function ruleNames(files) {
  const names = new Set();
  for (const file of files) {
    for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
      const items = doc.toJS();
      if (!Array.isArray(items)) continue;
      for (const item of items) if (item && typeof item.rule === 'string') names.add(item.rule);
    }
  }
  return [...names];
}

/** A rules file appending the ancestry fields the filter needs to every rule's output. */
export function ancestryRulesFile(dir, rulesFiles) {
  const fields = ['fp_pid=%proc.pid', 'fp_ppid=%proc.ppid', 'fp_cid=%container.id', 'fp_cmd=%proc.cmdline'];
  for (let n = 1; n <= ANCESTOR_DEPTH; n++) fields.push(`fp_a${n}=%proc.apid[${n}]`, `fp_ac${n}=%proc.acmdline[${n}]`);
  const output = fields.join(' ');
  const body = ruleNames(rulesFiles)
    .map((name) => `- rule: ${JSON.stringify(name)}\n  output: ${JSON.stringify(output)}\n  override:\n    output: append\n`)
    .join('\n');
  const path = join(dir, 'fp-ancestry.yaml');
  writeFileSync(
    path,
    '# Generated by scripts/false-positive-baseline.mjs: appends the fields that tell\n' +
      "# which process tree raised an alert to every rule's output.\n" +
      body,
  );
  return path;
}

function holdBenchLock() {
  log(`waiting for ${BENCH_LOCK}`);
  const holder = spawn('flock', ['-x', BENCH_LOCK, 'sh', '-c', 'echo locked; exec cat'], { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((ok, ko) => {
    holder.stdout.once('data', () => ok({ release: () => holder.stdin.end() }));
    holder.once('exit', (code) => ko(new Error(`flock ${BENCH_LOCK} exited ${code}`)));
  });
}

function startSensor(dir, rulesFiles) {
  const alerts = join(dir, 'alerts.jsonl');
  const args = [join(REPO, 'apps/cli/bin/peregrine.js'), 'sensor', '--output', 'none', '--file', alerts, '--metrics-port', '0'];
  for (const r of rulesFiles) args.push('--rules', r);
  const stderr = createWriteStream(join(dir, 'sensor.log'));
  const child = spawn(process.execPath, args, { cwd: REPO, stdio: ['ignore', 'inherit', 'pipe'] });
  child.stderr.pipe(stderr);
  return new Promise((ok, ko) => {
    let seen = '';
    const onData = (chunk) => {
      seen += chunk.toString();
      if (seen.includes('sensor running')) {
        child.stderr.off('data', onData);
        ok({ child, alerts });
      }
    };
    child.stderr.on('data', onData);
    child.once('exit', (code) => ko(new Error(`the sensor exited ${code} before it ran; see ${join(dir, 'sensor.log')}`)));
  });
}

/** ppid of every process now: pid → [ppid, comm]. */
function processTable() {
  const table = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      table.set(Number(name), [ppid, comm]);
    } catch {
      // exited meanwhile
    }
  }
  return table;
}

function descendsFrom(table, pid, root) {
  for (let p = pid, hops = 0; p > 1 && hops < 256; hops++) {
    if (p === root) return true;
    p = table.get(p)?.[0] ?? 0;
  }
  return false;
}

/** The test file among a process's ancestors (node's test runner runs one child per file). */
function testFileAbove(table, pid) {
  for (let p = pid, hops = 0; p > 1 && hops < 256; hops++) {
    try {
      const m = /(\S+\.test\.ts)\b/.exec(readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' '));
      if (m) return relativeTestPath(m[1]);
    } catch {
      // exited meanwhile
    }
    p = table.get(p)?.[0] ?? 0;
  }
  return '';
}

/**
 * Polls which container runtimes run: [from, to] ms intervals while ours
 * (containerd/dockerd descending from root) did, with the test file that started them.
 */
function watchContainerRuntimes(root) {
  const windows = [];
  let open;
  const tick = () => {
    const table = processTable();
    let test;
    for (const [pid, [, comm]] of table) {
      if ((comm === 'containerd' || comm === 'dockerd') && descendsFrom(table, pid, root)) test = testFileAbove(table, pid);
    }
    const now = Date.now();
    if (open && test !== open.test) {
      open.to = now;
      open = undefined;
    }
    if (test !== undefined && !open) windows.push((open = { from: now - POLL_MS, to: now, test }));
    else if (open) open.to = now;
  };
  const timer = setInterval(tick, POLL_MS);
  return { windows, stop: () => clearInterval(timer) };
}

function runLogged(cmd, args, cwd, logFile, env) {
  const out = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pipe(out, { end: false });
  child.stderr.pipe(out, { end: false });
  return { child, done: new Promise((ok) => child.once('exit', (code, signal) => ok(code ?? signal))) };
}

async function fullRun(opts) {
  if (process.getuid?.() !== 0) fail('the sensor needs root: run as root (sudo)');
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'peregrine-fp-'));
  const clone = join(dir, 'repo');
  log(`folder ${dir}`);
  const lock = opts.benchLock ? await holdBenchLock() : { release() {} };
  try {
    if (!existsSync(clone)) {
      const git = spawnSync('git', ['clone', '-q', REPO, clone], { stdio: 'inherit' });
      if (git.status !== 0) throw new Error('git clone failed');
    }
    if (!opts.freshCache && existsSync(join(REPO, '.cache'))) {
      log('seeding the clone .cache/ from this work tree (--fresh-cache: do not)');
      spawnSync('cp', ['-a', join(REPO, '.cache'), join(clone, '.cache')], { stdio: 'inherit' });
    }
    const extra = ancestryRulesFile(dir, opts.rules);
    const sensor = await startSensor(dir, [...opts.rules, extra]);
    log(`sensor running (pid ${sensor.child.pid}), alerts in ${sensor.alerts}`);
    // One shell runs both commands, so every process of the run descends from it.
    const testLog = join(dir, 'npm.log');
    const run = runLogged('bash', ['-c', `${opts.command}; echo "== exit $?"`], clone, testLog, process.env);
    const root = run.child.pid;
    const containers = watchContainerRuntimes(root);
    const started = Date.now();
    log(`${opts.command}: running (root pid ${root}), log ${testLog}`);
    const progress = setInterval(() => log(`still running (${Math.round((Date.now() - started) / 60000)} min)`), 300000);
    const result = await run.done;
    clearInterval(progress);
    containers.stop();
    log(`npm finished: ${result} after ${Math.round((Date.now() - started) / 60000)} min; stopping the sensor`);
    await new Promise((r) => setTimeout(r, 2000)); // the last batches reach the file
    sensor.child.kill('SIGTERM');
    await new Promise((r) => sensor.child.once('exit', r));
    const tail = readFileSync(testLog, 'utf8').split('\n').filter((l) => /^ℹ (tests|pass|fail|cancelled|skipped|duration_ms) |^== /.test(l));
    writeFileSync(
      join(dir, 'run.json'),
      JSON.stringify({ root, startedAt: new Date(started).toISOString(), finishedAt: new Date().toISOString(), rules: opts.rules, commit: gitHead(clone), containerWindows: containers.windows, summary: tail }, null, 2),
    );
    return dir;
  } finally {
    lock.release();
  }
}

function gitHead(repo) {
  return spawnSync('git', ['-C', repo, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
}

// ---------------------------------------------------------------------------
// The report.
// ---------------------------------------------------------------------------

function ownership(alert, run) {
  const root = run.root;
  if (Number(alert.output_fields['proc.pid']) === root) return 'tree';
  for (let n = 1; n <= ANCESTOR_DEPTH; n++) if (Number(alert.output_fields[`proc.apid[${n}]`]) === root) return 'tree';
  const cid = f(alert, 'container.id');
  if (cid !== '' && cid !== 'host') {
    const t = Date.parse(alert.time);
    const w = run.containerWindows.find((w) => t >= w.from && t <= w.to);
    if (w) {
      alert.fp_test = w.test; // the test file whose runtimes ran the container
      return 'container';
    }
  }
  return undefined;
}

export function report(dir) {
  const run = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8'));
  const lines = readFileSync(join(dir, 'alerts.jsonl'), 'utf8').split('\n').filter(Boolean);
  const rows = new Map();
  let others = 0;
  for (const line of lines) {
    const alert = JSON.parse(line);
    if (alert.source === 'internal') {
      const key = `${alert.rule}`;
      const row = rows.get(key) ?? { rule: alert.rule, count: 0, example: alert.output, key: 'sensor-drops', kind: 'internal', why: 'the sensor fell behind on the loaded machine', tests: new Set() };
      row.count++;
      rows.set(key, row);
      continue;
    }
    const owner = ownership(alert, run);
    if (!owner) {
      others++;
      continue;
    }
    const c = classify(alert);
    const proc = f(alert, 'proc.name');
    const id = `${alert.rule}\u0000${c.key}\u0000${proc}`;
    const row = rows.get(id) ?? { rule: alert.rule, count: 0, process: proc, example: `${f(alert, 'proc.cmdline')} (parent ${f(alert, 'proc.pname')}${owner === 'container' ? `, container ${f(alert, 'container.id')}` : ''})`, key: c.key, kind: c.kind, why: c.why, tests: new Set() };
    row.count++;
    const test = testFileOf(alert);
    if (test) row.tests.add(test);
    rows.set(id, row);
  }
  return { run, rows: [...rows.values()].sort((a, b) => a.rule.localeCompare(b.rule) || b.count - a.count), others, total: lines.length };
}

function printTable({ run, rows, others, total }, json) {
  if (json) {
    console.log(JSON.stringify({ ...run, others, total, rows: rows.map((r) => ({ ...r, tests: [...r.tests] })) }, null, 2));
    return;
  }
  console.log(`commit ${run.commit}, ${run.startedAt} → ${run.finishedAt}; rules ${run.rules.map((r) => r.replace(`${REPO}/`, '')).join(', ')}`);
  for (const s of run.summary) console.log(`  ${s}`);
  console.log(`${total} alert(s) recorded; ${total - others} from this run, ${others} from other processes on the machine (ignored)\n`);
  console.log('| rule | count | example process | classification | test(s) |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) {
    const ex = r.example.length > 90 ? `${r.example.slice(0, 87)}...` : r.example;
    console.log(`| ${r.rule} | ${r.count} | \`${ex.replace(/\|/g, '\\|')}\` | ${r.kind === r.key ? r.kind : `${r.kind}: ${r.key}`} | ${[...r.tests].slice(0, 3).join(', ')}${r.tests.size > 3 ? ', …' : ''} |`);
  }
  const unclassified = rows.filter((r) => r.kind === 'unclassified');
  if (unclassified.length > 0) console.log(`\n${unclassified.length} row(s) unclassified: explain them in CLASSES and README.md.`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const opts = parseArgs(process.argv.slice(2));
  const dir = opts.from ?? (await fullRun(opts));
  const result = report(dir);
  printTable(result, opts.json);
  process.exitCode = result.rows.some((r) => r.kind === 'unclassified') ? 1 : 0;
}
