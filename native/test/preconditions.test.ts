import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { CAP_BPF, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_PERFMON, CAP_SYS_ADMIN, CAP_SYS_PTRACE, findLimitations, findProblems, tracefsMounted, type HostFacts } from '../ts/preconditions.ts';

const ok: HostFacts = {
  platform: 'linux',
  euid: 0,
  capEff: (1n << BigInt(CAP_BPF)) | (1n << BigInt(CAP_PERFMON)),
  btf: true,
  tracefs: true,
};

describe('precondition checks', () => {
  test('all present: no problem', () => {
    assert.deepEqual(findProblems(ok), []);
    assert.deepEqual(findProblems({ ...ok, capEff: 1n << BigInt(CAP_SYS_ADMIN) }), [], 'CAP_SYS_ADMIN covers both');
  });

  test('each missing precondition gives an actionable message', () => {
    const [caps] = findProblems({ ...ok, euid: 1000, capEff: 1n << BigInt(CAP_BPF) });
    assert.match(caps, /missing CAP_PERFMON/);
    assert.match(caps, /setcap cap_bpf,cap_perfmon\+ep/);
    const [btf] = findProblems({ ...ok, btf: false });
    assert.match(btf, /CONFIG_DEBUG_INFO_BTF=y/);
    const [tr] = findProblems({ ...ok, tracefs: false });
    assert.match(tr, /mount -t tracefs nodev \/sys\/kernel\/tracing/);
    assert.equal(findProblems({ ...ok, capEff: 0n, btf: false, tracefs: false }).length, 3);
  });

  test('SYS_PTRACE and DAC_READ_SEARCH are not required, but their absence is named with what it costs', () => {
    const bit = (cap: number) => 1n << BigInt(cap);
    const full = { ...ok, capEff: ok.capEff | bit(CAP_SYS_PTRACE) | bit(CAP_DAC_READ_SEARCH) };
    assert.deepEqual(findLimitations(full), []);
    assert.deepEqual(findLimitations({ ...ok, capEff: ok.capEff | bit(CAP_SYS_PTRACE) | bit(CAP_DAC_OVERRIDE) }), [], 'DAC_OVERRIDE reads what DAC_READ_SEARCH does');
    const [both] = findLimitations(ok);
    assert.match(both, /^missing CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH: the sensor runs/);
    assert.match(both, /proc\.exepath/);
    assert.match(both, /docker run --cap-add SYS_PTRACE --cap-add DAC_READ_SEARCH /);
    assert.match(both, /capabilities\.add: \[SYS_PTRACE, DAC_READ_SEARCH\]/);
    const [ptrace] = findLimitations({ ...ok, capEff: ok.capEff | bit(CAP_DAC_READ_SEARCH) });
    assert.match(ptrace, /^missing CAP_SYS_PTRACE: .*grant it, e\.g\. docker run --cap-add SYS_PTRACE or/);
    assert.deepEqual(findProblems(ok), [], 'still no problem: the probe starts');
  });

  test('tracefs detection reads mountinfo', () => {
    const line = '42 23 0:13 / /sys/kernel/tracing rw,relatime - tracefs nodev rw';
    assert.equal(tracefsMounted(line), true);
    assert.equal(tracefsMounted('42 23 0:13 / /sys/kernel/debug rw,relatime - debugfs nodev rw'), false);
  });

  test('a real process without capabilities is refused with the capability message', () => {
    // Root with every capability dropped (setpriv, util-linux): no dependence on who may read the
    // checkout, unlike switching to another uid.
    const here = dirname(fileURLToPath(import.meta.url));
    const dir = mkdtempSync(join(tmpdir(), 'pg-nocaps-'));
    const script = join(dir, 'open.mjs');
    writeFileSync(
      script,
      `import { Probe } from ${JSON.stringify(join(here, '..', 'ts', 'probe.ts'))};\n` +
        `try { Probe.open(); console.log('OPENED'); } catch (e) { console.log(e.name + ': ' + e.message); }\n`,
    );
    try {
      const r = spawnSync(
        'setpriv',
        ['--bounding-set=-all', '--inh-caps=-all', '--securebits=+noroot,+noroot_locked,+no_setuid_fixup', process.execPath, '--import', 'tsx', script],
        { cwd: join(here, '..', '..'), encoding: 'utf8' },
      );
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /ProbePreconditionError: the eBPF probe cannot start/);
      assert.match(r.stdout, /missing CAP_BPF and CAP_PERFMON \(euid 0\)/);
      assert.match(r.stdout, /setcap cap_bpf,cap_perfmon\+ep/);
      assert.doesNotMatch(r.stdout, /OPENED/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
