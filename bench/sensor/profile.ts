// Reads a V8 .cpuprofile (node --cpu-prof) and names where the time went:
// self time per function (name, file:line), highest first.
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO_ROOT } from './common.ts';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly hitCount?: number;
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
}

export interface HotFunction {
  readonly name: string;
  readonly where: string;
  readonly selfMs: number;
  readonly share: number;
}

/** The `top` functions by self time over every profile in `dir` (shares of busy time, idle left out). */
export function hotFunctions(dir: string, top = 15): { totalMs: number; functions: HotFunction[] } {
  const self = new Map<string, { name: string; where: string; hits: number }>();
  let totalHits = 0;
  let totalMs = 0;
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.cpuprofile'))) {
    const p = JSON.parse(readFileSync(join(dir, f), 'utf8')) as CpuProfile;
    const msPerHit = p.samples.length > 0 ? (p.endTime - p.startTime) / 1000 / p.samples.length : 0;
    for (const n of p.nodes) {
      const hits = n.hitCount ?? 0;
      if (hits === 0) continue;
      const url = n.callFrame.url.replace(/^file:\/\//, '');
      const where = url === '' ? '(native)' : `${url.startsWith('/') ? relative(REPO_ROOT, url) : url}${n.callFrame.lineNumber > 0 ? `:${n.callFrame.lineNumber + 1}` : ''}`;
      const name = n.callFrame.functionName || '(anonymous)';
      if (name === '(idle)') continue; // waiting for the next batch is not work
      const key = `${name}@${where}`;
      const e = self.get(key) ?? { name, where, hits: 0 };
      e.hits += hits * msPerHit;
      self.set(key, e);
      totalHits += hits * msPerHit;
    }
    totalMs += (p.endTime - p.startTime) / 1000;
  }
  const functions = [...self.values()]
    .sort((a, b) => b.hits - a.hits)
    .slice(0, top)
    .map((e) => ({ name: e.name, where: e.where, selfMs: e.hits, share: totalHits > 0 ? e.hits / totalHits : 0 }));
  return { totalMs, functions };
}
