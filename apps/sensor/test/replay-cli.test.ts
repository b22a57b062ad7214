/**
 * End to end: capture real activity, then `peregrine replay FILE --rules
 * falco_rules.yaml` (upstream Falco stable rules) prints Falco JSON alerts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import type { Alert } from '@peregrine/alert';
import { CaptureReader, runCapture } from '@peregrine/native';
import { requireBuilt, runHelper, type HelperRun } from './support.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const STABLE_RULES = join(ROOT, 'packages', 'rules', 'test', 'fixtures', 'falco-rules', 'falco_rules.yaml');
const CLI = join(ROOT, 'apps', 'cli', 'bin', 'peregrine.js');

test('peregrine replay runs a capture through the Falco stable rules and prints Falco JSON alerts', async () => {
  requireBuilt();
  assert.ok(existsSync(STABLE_RULES), `upstream rules fixture missing: ${STABLE_RULES}`);
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'pg-replay-cli-')));
  try {
    const file = join(dir, 'shadow.pgcap');
    const abort = new AbortController();
    let run: Promise<HelperRun> | undefined;
    await runCapture({
      out: file,
      seconds: 10,
      signal: abort.signal,
      onStarted: () => {
        // An untrusted program reading /etc/shadow: "Read sensitive file untrusted".
        run = runHelper(['openat', 'cwd', '/etc/shadow', '0', '0', 'open', '/etc/hostname', '0', '0'], dir);
        void run.then(() => setTimeout(() => abort.abort(), 100));
      },
    });
    const helper = await run!;

    const r = spawnSync(process.execPath, [CLI, 'replay', file, '--rules', STABLE_RULES], { encoding: 'utf8', cwd: ROOT });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /peregrine replay: \d+ syscall events, \d+ alerts; drops at capture time: kernel 0/);
    const alerts = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Alert);
    const mine = alerts.filter((a) => a.output_fields['proc.name'] === 'sysc');
    assert.equal(mine.length, 1, `alerts for the helper: ${JSON.stringify(mine, null, 1)}`);
    const a = mine[0];
    assert.equal(a.rule, 'Read sensitive file untrusted');
    assert.equal(a.priority, 'Warning');
    assert.equal(a.source, 'syscall');
    assert.equal(a.hostname, hostname(), 'the captured host');
    assert.equal(a.output_fields['fd.name'], '/etc/shadow');
    assert.equal(a.output_fields['evt.type'], 'openat');
    assert.equal(a.output_fields['user.name'], 'root');
    assert.match(String(a.output_fields['proc.cmdline']), /^sysc openat cwd \/etc\/shadow/);
    assert.match(a.output, /Sensitive file opened for reading by non-trusted program \| file=\/etc\/shadow /);
    assert.match(a.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    void helper;

    // Bad input: a missing rules file is a readable error, exit 1.
    const bad = spawnSync(process.execPath, [CLI, 'replay', file, '--rules', join(dir, 'nope.yaml')], { encoding: 'utf8', cwd: ROOT });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /nope\.yaml/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('peregrine capture writes a readable capture and refuses bad options with the reason', async () => {
  requireBuilt();
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'pg-capture-cli-')));
  try {
    const out = join(dir, 'cli.pgcap');
    const r = spawnSync(process.execPath, [CLI, 'capture', '--out', out, '--seconds', '1', '--syscalls', 'openat,execve', '--exclude-prefix', '/proc/'], {
      encoding: 'utf8',
      cwd: ROOT,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /peregrine capture: wrote \d+ events .* kernel drops 0, user drops 0/);
    
    const reader = await CaptureReader.open(out);
    assert.deepEqual(reader.header.metadata.syscalls, ['openat', 'execve']);
    for await (const _c of reader.chunks()) {
      /* read to the end marker */
    }
    assert.equal(reader.complete, true);
    await reader.close();

    const bogus = spawnSync(process.execPath, [CLI, 'capture', '--out', out, '--syscalls', 'openat,frobnicate'], { encoding: 'utf8', cwd: ROOT });
    assert.equal(bogus.status, 2);
    assert.match(bogus.stderr, /unknown syscall\(s\) frobnicate; supported: open, openat/);
    const noOut = spawnSync(process.execPath, [CLI, 'capture', '--seconds', '1'], { encoding: 'utf8', cwd: ROOT });
    assert.equal(noOut.status, 2);
    assert.match(noOut.stderr, /--out FILE is required/);
    const ring = spawnSync(process.execPath, [CLI, 'capture', '--out', out, '--ring-mb', '3'], { encoding: 'utf8', cwd: ROOT });
    assert.equal(ring.status, 2);
    assert.match(ring.stderr, /--ring-mb must be a power of two/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
