/**
 * Part (c)'s breakdown of where a sensor's resident memory goes, step by step
 * in one fresh process (run with --expose-gc, pinned nowhere): node with the
 * tsx loader (the repository runs from TS sources), the packages' code, the
 * stable rules compiled, the probe open with its ring and a few seconds of
 * events. Prints one JSON line: [{ step, rssBytes, heapUsedBytes }].
 */
import { Probe } from '@peregrine/native';
import { STABLE_RULES } from './common.ts';

const steps: Array<{ step: string; rssBytes: number; heapUsedBytes: number }> = [];
const note = (step: string): void => {
  (globalThis as { gc?: () => void }).gc?.();
  steps.push({ step, rssBytes: process.memoryUsage.rss(), heapUsedBytes: process.memoryUsage().heapUsed });
};

note('node + tsx loader + @peregrine/native');
const sensor = await import('@peregrine/sensor');
note('+ @peregrine/sensor imported (rules engine, outputs, gRPC/CRI client, …)');
const rules = sensor.compileSyscallRules([STABLE_RULES]);
note('+ stable rules compiled');
const probe = Probe.open({ syscalls: sensor.syscallsForRules(rules).syscalls });
probe.start(() => {});
await new Promise((r) => setTimeout(r, 2000));
note('+ probe open (8 MiB ring), 2 s of records counted');
probe.close();
process.stdout.write(`${JSON.stringify(steps)}\n`);
