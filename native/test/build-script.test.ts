/**
 * native/scripts/build.sh names the Debian package of a missing tool or
 * header instead of failing somewhere inside clang or node-gyp.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '..', 'scripts', 'build.sh');

function which(tool: string): string {
  const r = spawnSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${tool} must exist on the test machine`);
  return r.stdout.trim();
}

test('a missing tool is named with its Debian package', () => {
  const bin = mkdtempSync(join(tmpdir(), 'pg-bin-'));
  try {
    symlinkSync(which('dirname'), join(bin, 'dirname'));
    const r = spawnSync(which('bash'), [SCRIPT], { env: { PATH: bin }, encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /'clang' not found; install it with: apt-get install -y clang/);
    symlinkSync(which('clang'), join(bin, 'clang'));
    const r2 = spawnSync(which('bash'), [SCRIPT], { env: { PATH: bin }, encoding: 'utf8' });
    assert.match(r2.stderr, /'bpftool' not found; install it with: apt-get install -y bpftool/);
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
});

test('a missing header is named with its Debian package', () => {
  const inc = mkdtempSync(join(tmpdir(), 'pg-inc-'));
  try {
    const r = spawnSync(which('bash'), [SCRIPT], { env: { ...process.env, PEREGRINE_INCLUDE_DIR: inc }, encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /header <bpf\/libbpf.h> not found; install it with: apt-get install -y libbpf-dev/);
  } finally {
    rmSync(inc, { recursive: true, force: true });
  }
});
