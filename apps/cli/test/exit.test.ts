import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const bin = join(root, 'apps/cli/bin/peregrine.js');
const stable = join(root, 'packages/rules/test/fixtures/falco-rules/falco_rules.yaml');
// A timer nothing clears, as a library can leave behind (apps/hub/src/exit-after-shutdown.ts).
const leftoverTimer = join(root, 'apps/hub/test/fixtures/leftover-timer.mjs');

test('a command done while a library timer still runs exits with its own code, naming what was left open', () => {
  // Without the exit step the process would run until spawnSync's timeout kills it (status null).
  const ok = spawnSync(process.execPath, ['--import', leftoverTimer, bin, 'rules', 'validate', stable], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /25 rules, 87 macros, 49 lists/);
  assert.match(ok.stderr, /peregrine: finished, but 1 handle\(s\) were still open 2000 ms later \(Timeout\); exiting with code 0/);

  const bad = spawnSync(process.execPath, ['--import', leftoverTimer, bin, 'rules', 'validate', join(root, 'no-such-rules.yaml')], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, /exiting with code 2/);
});

test('a command with nothing left open exits at once, without that message', () => {
  const r = spawnSync(process.execPath, [bin, 'rules', 'validate', stable], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /still open/);
});
