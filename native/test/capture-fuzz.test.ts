/**
 * Bounded, seeded fuzzing of the capture reader and the decoder (issue 13,
 * defect 3): random bytes, a valid capture cut at every offset, and bit/byte
 * edits of a valid capture and of a batch. The only acceptable failures are
 * CaptureFormatError and DecodeError (and, in a lenient walk, malformed
 * records counted in DecodeStats); no other exception, no native abort, no
 * hang. Each case set runs in a child process (capture-fuzz-child.ts) so an
 * abort fails its test instead of killing the runner.
 *
 * The seed is random per run and printed on failure; replay one with
 * PG_FUZZ_SEED=<seed> node --import tsx --test native/test/capture-fuzz.test.ts
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import type { CaseSet } from './capture-fuzz-child.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const CHILD = join(HERE, 'capture-fuzz-child.ts');
const SEED = process.env.PG_FUZZ_SEED !== undefined ? Number(process.env.PG_FUZZ_SEED) : Math.floor(Math.random() * 2 ** 32);
/** A hang guard, not a timing assertion: the sets finish in a few seconds; a stuck reader never would. */
const HANG_GUARD_MS = 120_000;

interface Summary {
  seed: number;
  set: CaseSet;
  cases: number;
  outcome: Record<string, number>;
}

function readIfThere(path: string): string | undefined {
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}

function runSet(set: CaseSet): Promise<Summary> {
  const reportDir = mkdtempSync(join(tmpdir(), `pg-fuzz-${set}-`));
  return new Promise<Summary>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, String(SEED), set, reportDir], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    let hung = false;
    const guard = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, HANG_GUARD_MS);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(guard);
      const lastCase = readIfThere(join(reportDir, 'progress'))?.trim() ?? '(none)';
      const where = `seed ${SEED} (rerun with PG_FUZZ_SEED=${SEED}), set ${set}, last input: ${lastCase}`;
      const bad = readIfThere(join(reportDir, 'unexpected'));
      const summary = readIfThere(join(reportDir, 'summary'));
      if (hung) return reject(new Error(`fuzz child hung: ${where}`));
      if (bad) return reject(new Error(`fuzz found an unacceptable failure, ${where}\n${bad}`));
      if (code !== 0 || signal !== null) return reject(new Error(`fuzz child died (exit ${code}, signal ${signal}): ${where}\n${err.slice(-3000)}`));
      if (!summary) return reject(new Error(`fuzz child wrote no summary: ${where}\n${err.slice(-3000)}`));
      resolve(JSON.parse(summary) as Summary);
    });
  }).finally(() => rmSync(reportDir, { recursive: true, force: true }));
}

describe(`capture and decoder fuzzing (seed ${SEED})`, { concurrency: true }, () => {
  test('random bytes (alone, after a valid file header, after valid metadata)', async () => {
    const s = await runSet('random');
    assert.equal(s.cases, 300);
    assert.ok((s.outcome.CaptureFormatError ?? 0) > 0, `seed ${SEED}: random input must be refused: ${JSON.stringify(s.outcome)}`);
  });

  test('a valid capture cut at every offset: an error inside the header or metadata, else every whole chunk', async () => {
    const s = await runSet('truncate');
    assert.equal(s.outcome['read whole'], 1, `seed ${SEED}: only the uncut file is complete`);
    assert.ok((s.outcome['read cut short'] ?? 0) > 0 && (s.outcome.CaptureFormatError ?? 0) > 0, JSON.stringify(s.outcome));
  });

  test('bit and byte edits of a valid capture, read strictly and leniently', async () => {
    const s = await runSet('mutate');
    assert.equal(s.cases, 800);
    assert.ok((s.outcome.CaptureFormatError ?? 0) > 0, `seed ${SEED}: ${JSON.stringify(s.outcome)}`);
    assert.ok((s.outcome['lenient skipped records'] ?? 0) > 0, `seed ${SEED}: edits must reach the lenient walk: ${JSON.stringify(s.outcome)}`);
  });

  test('bit and byte edits of a batch, through the strict and the lenient decoder walk', async () => {
    const s = await runSet('batches');
    assert.equal(s.cases, 3000);
    assert.ok((s.outcome.DecodeError ?? 0) > 0 && (s.outcome['lenient skipped records'] ?? 0) > 0, `seed ${SEED}: ${JSON.stringify(s.outcome)}`);
  });
});
