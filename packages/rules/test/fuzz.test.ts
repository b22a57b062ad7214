/**
 * Property/fuzz suites for the rules engine: random and mutated rules files
 * against the loader, mutated conditions against the parser and compiler,
 * random regex/glob patterns and values against the matchers (checked against
 * JS RegExp and a reference fnmatch on short values, and run on long hostile
 * values). Bounded and seeded: FUZZ_SEED=<n> reruns a failure exactly; every
 * failure message names the seed and the case.
 *
 * Each suite runs in a worker thread that reports the case it is about to
 * run; if the suite is not done within HANG_GUARD_MS the worker is terminated
 * and the last case is reported as a hang. That guard is the only time limit.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import type { FuzzJob, FuzzMessage } from './fuzz-worker.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20240613);
/** Generous: each suite takes a few seconds; a backtracking matcher takes hours. */
const HANG_GUARD_MS = 120_000;

async function runSuite(job: FuzzJob): Promise<{ ran: number; failures: FuzzMessage[] }> {
  // Node 20 does not pass `--import tsx` hooks on to workers: register them in the worker first.
  const entry = JSON.stringify(new URL('./fuzz-worker.ts', import.meta.url).href);
  const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${entry}); });`;
  const worker = new Worker(bootstrap, { eval: true, workerData: job });
  const failures: FuzzMessage[] = [];
  let last: FuzzMessage | undefined;
  return new Promise((resolve, reject) => {
    const guard = setTimeout(() => {
      void worker.terminate();
      const input = last && last.kind === 'case' ? `case ${last.index}: ${last.input.slice(0, 2000)}` : 'before the first case';
      reject(new Error(`${job.suite} (FUZZ_SEED=${job.seed}) did not finish in ${HANG_GUARD_MS} ms; hung on ${input}`));
    }, HANG_GUARD_MS);
    worker.on('message', (m: FuzzMessage) => {
      if (m.kind === 'case') last = m;
      else if (m.kind === 'failure') failures.push(m);
      else {
        clearTimeout(guard);
        void worker.terminate();
        resolve({ ran: m.ran, failures });
      }
    });
    worker.on('error', (e) => {
      clearTimeout(guard);
      reject(new Error(`${job.suite} (FUZZ_SEED=${job.seed}) worker crashed: ${e.stack ?? String(e)}`));
    });
  });
}

function report(job: FuzzJob, failures: FuzzMessage[]): string {
  return `${failures.length} failing case(s), rerun with FUZZ_SEED=${job.seed}:\n${failures
    .slice(0, 5)
    .map((f) => (f.kind === 'failure' ? `#${f.index}: ${f.problem}\n  input: ${JSON.stringify(f.input.slice(0, 600))}` : ''))
    .join('\n')}`;
}

describe(`rules engine fuzz (FUZZ_SEED=${SEED})`, () => {
  for (const [suite, cases] of [
    ['rules-files', 400],
    ['conditions', 2000],
    ['regex-glob', 600],
  ] as const) {
    it(`${suite}: ${cases} seeded cases, no crash, no hang, documented errors only`, async () => {
      const job: FuzzJob = { suite, seed: SEED, cases };
      const { ran, failures } = await runSuite(job);
      assert.equal(ran, cases);
      assert.equal(failures.length, 0, report(job, failures));
    });
  }
});
