import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { requireBuilt } from './support.ts';

test('an exception in the batch callback surfaces as an uncaughtException, not a swallowed warning', () => {
  requireBuilt();
  const here = dirname(fileURLToPath(import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'pg-cb-'));
  const script = join(dir, 'throw.mts');
  writeFileSync(
    script,
    `import { Probe } from ${JSON.stringify(join(here, '..', 'ts', 'probe.ts'))};
import { spawnSync } from 'node:child_process';
const p = Probe.open();
process.on('uncaughtException', (e) => { console.log('caught: ' + e.message); p.close(); });
p.start(() => { throw new Error('boom in batch callback'); });
spawnSync('/bin/true');
setTimeout(() => { console.log('closed=' + p.closed); }, 500);
`,
  );
  try {
    const r = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: join(here, '..', '..'), encoding: 'utf8', timeout: 20000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /caught: boom in batch callback/);
    assert.match(r.stdout, /closed=true/);
    assert.doesNotMatch(r.stderr, /DEP0168/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
