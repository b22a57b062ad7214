/**
 * Open/start/close 50 times in one process: every program, link and map must
 * go away with close (checked against the kernel with bpftool and against our
 * own fd table), and memory must not grow with the number of cycles.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import { test } from 'node:test';
import { Probe } from '../ts/probe.ts';
import { requireBuilt } from './support.ts';

interface BpftoolObject {
  id: number;
}

function bpftoolIds(kind: 'prog' | 'link' | 'map'): Set<number> {
  const out = execFileSync('bpftool', ['-j', kind, 'show'], { maxBuffer: 64 * 1024 * 1024 }).toString();
  return new Set((JSON.parse(out || '[]') as BpftoolObject[]).map((o) => o.id));
}

/** Our process's BPF file descriptors by kind (prog, map, link). */
function ownBpfFds(): Record<string, number> {
  const counts: Record<string, number> = { prog: 0, map: 0, link: 0 };
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue;
    }
    if (target === 'anon_inode:bpf-prog') counts.prog++;
    else if (target === 'anon_inode:bpf-map') counts.map++;
    else if (target === 'anon_inode:bpf_link') counts.link++;
  }
  return counts;
}

async function settle(pred: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (pred()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return pred();
}

test('50 load/unload cycles leak no programs, links, maps, fds or memory', async () => {
  requireBuilt();
  assert.deepEqual(ownBpfFds(), { prog: 0, map: 0, link: 0 });
  const seen = { programs: new Set<number>(), links: new Set<number>(), maps: new Set<number>() };
  let rssAfterWarmup = 0;
  for (let i = 0; i < 50; i++) {
    const p = Probe.open({ ringBytes: 8 * 1024 * 1024 });
    let batches = 0;
    p.start(() => batches++);
    const ids = p.bpfIds();
    assert.equal(ids.programs.length, 4);
    assert.equal(ids.links.length, 4);
    if (i === 0) {
      // While open, the kernel lists them.
      const live = bpftoolIds('prog');
      for (const id of ids.programs) assert.ok(live.has(id), `program ${id} listed while open`);
      const liveLinks = bpftoolIds('link');
      for (const id of ids.links) assert.ok(liveLinks.has(id), `link ${id} listed while open`);
      assert.ok(ownBpfFds().link >= 4);
    }
    ids.programs.forEach((id) => seen.programs.add(id));
    ids.links.forEach((id) => seen.links.add(id));
    ids.maps.forEach((id) => seen.maps.add(id));
    p.close();
    assert.throws(() => p.stats(), /closed/);
    if (i === 9) rssAfterWarmup = process.memoryUsage.rss();
  }
  assert.equal(seen.programs.size, 200, 'each cycle loaded fresh programs');
  assert.deepEqual(ownBpfFds(), { prog: 0, map: 0, link: 0 }, 'no BPF fds left in this process');

  // The kernel frees programs and maps after an RCU grace period: poll briefly.
  const gone = await settle(() => {
    const progs = bpftoolIds('prog');
    const links = bpftoolIds('link');
    const maps = bpftoolIds('map');
    return (
      [...seen.programs].every((id) => !progs.has(id)) &&
      [...seen.links].every((id) => !links.has(id)) &&
      [...seen.maps].every((id) => !maps.has(id))
    );
  }, 5000);
  assert.ok(gone, 'bpftool still lists programs, links or maps of closed probes');

  // 40 more cycles after warm-up: a leaked ring (8 MiB, mapped twice) or batch pool (4 MiB)
  // per cycle would add hundreds of MiB; allow 48 MiB of allocator noise.
  const growth = process.memoryUsage.rss() - rssAfterWarmup;
  assert.ok(growth < 48 * 1024 * 1024, `RSS grew by ${(growth / 1048576).toFixed(1)} MiB over 40 cycles`);
});
