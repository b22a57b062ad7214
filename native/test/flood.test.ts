/**
 * A helper hammers openat for 10 s while the probe captures openat only and
 * JS decodes every record. Whatever the machine manages, the books must
 * balance: each helper call is either delivered to JS or counted as a drop,
 * everything the kernel wrote reaches JS, and the event loop keeps running.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forEachRecord } from '../ts/decode.ts';
import { Probe } from '../ts/probe.ts';
import { assertBalanced, requireBuilt, runHelper } from './support.ts';

test('openat flood for 10 s: delivery, honest drop accounting, responsive event loop', async () => {
  requireBuilt();
  const probe = Probe.open({ syscalls: ['openat'], sched: { fork: false, exec: false, exit: false }, ringBytes: 1 << 20 });
  let helperPid = -1;
  let delivered = 0;
  let decoded = 0;
  let probeCounts = new Map<number, number>();
  probe.start((batch) => {
    forEachRecord(batch, (ev) => {
      decoded++;
      if (ev.type !== 'openat' || ev.path0 !== '/etc/hostname') return;
      if (ev.pid === helperPid) delivered++;
      else if (helperPid === -2) probeCounts.set(ev.pid, (probeCounts.get(ev.pid) ?? 0) + 1);
    });
  });
  let ticks = 0;
  const timer = setInterval(() => ticks++, 20);
  try {
    // Records carry the pid; until the helper reports it, count by path and fix up after.
    const byPid = new Map<number, number>();
    helperPid = -2;
    probeCounts = byPid;
    const run = await runHelper(['flood-secs', '10', '/etc/hostname']);
    helperPid = run.pid;
    delivered += byPid.get(run.pid) ?? 0;
    const calls = run.results.find((r) => r.op === 'flood')?.ret ?? 0;
    assert.ok(calls > 0, 'the helper made openat calls');

    // Stop capturing (the probe sees the whole machine, which keeps opening files), then
    // drain: everything the kernel wrote must reach JS.
    probe.setSyscalls([]);
    await new Promise((r) => setTimeout(r, 20));
    const end = Date.now() + 10000;
    let s = probe.stats();
    while (Date.now() < end && (s.user.records + s.user.drops < s.kernel.events || decoded < s.user.records)) {
      await new Promise((r) => setTimeout(r, 50));
      s = probe.stats();
    }
    s = probe.stats();
    const k = s.kernel;
    assert.equal(s.user.records + s.user.drops, k.events, 'every record the kernel wrote was delivered or counted');
    assert.equal(decoded, s.user.records, 'JS decoded every delivered record');
    assertBalanced(k);
    assert.equal(k.perCpu.reduce((n, c) => n + c.dropsBuffer, 0), k.dropsBuffer);
    assert.ok(delivered > 0, 'helper events were delivered');
    assert.ok(delivered <= calls);
    // Each helper call was either delivered or lost to a full ring (other tasks' drops count too).
    assert.ok(delivered + k.dropsBuffer + s.user.drops >= calls, `${calls} calls, ${delivered} delivered, ${k.dropsBuffer} dropped`);
    assert.ok(ticks > 0, 'the event-loop timer fired during the flood');
    console.log(
      `# flood: ${calls} calls, ${delivered} delivered, ${k.dropsBuffer} kernel drops, ${s.user.batches} batches, ${ticks} timer ticks`,
    );
  } finally {
    clearInterval(timer);
    probe.close();
  }
});

test("'drop' mode: a stalled consumer loses records in user space, counted, and the books still balance", async () => {
  requireBuilt();
  const probe = Probe.open({
    syscalls: ['openat'],
    sched: { fork: false, exec: false, exit: false },
    ringBytes: 1 << 20,
    batchBytes: 65536,
    whenBehind: 'drop',
  });
  let received = 0;
  // For the flood's 2 s, a consumer far slower than the producer (at most 4 batches a second).
  // Stalling stops after that, or the machine's background openat trickle would keep it busy forever.
  const stallUntil = Date.now() + 2000;
  probe.start((_batch, count) => {
    received += count;
    const until = Math.min(Date.now() + 250, stallUntil);
    while (Date.now() < until) {
      /* stall the event loop on purpose */
    }
  });
  try {
    const run = await runHelper(['flood-secs', '2', '/etc/hostname']);
    assert.ok((run.results.find((r) => r.op === 'flood')?.ret ?? 0) > 0);
    probe.setSyscalls([]);
    await new Promise((r) => setTimeout(r, 20));
    const end = Date.now() + 10000;
    let s = probe.stats();
    while (Date.now() < end && (s.user.records + s.user.drops < s.kernel.events || received < s.user.records)) {
      await new Promise((r) => setTimeout(r, 50));
      s = probe.stats();
    }
    s = probe.stats();
    assert.ok(s.user.drops > 0, 'the stalled consumer made the reader drop');
    assert.equal(s.user.records + s.user.drops, s.kernel.events, 'delivered + dropped in user space = written by the kernel');
    assert.equal(received, s.user.records);
  } finally {
    probe.close();
  }
});
