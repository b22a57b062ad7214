import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Starts a TypeScript entry in its own node process and waits for `ready` (a line on stdout or GET /readyz). */
export async function startServer(entry: string, args: string[], readyUrl?: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-10_000)));
  child.stderr?.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-10_000)));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${entry} exited:\n${output}`);
    if (readyUrl === undefined ? output.includes('ready') : await ok(readyUrl)) return child;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${entry} not ready:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function ok(url: string): Promise<boolean> {
  try {
    return (await fetch(url)).status === 200;
  } catch {
    return false;
  }
}

export function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
  });
}

export const HUB_MAIN = fileURLToPath(new URL('../../apps/hub/src/main.ts', import.meta.url));
export const BASELINE_MAIN = fileURLToPath(new URL('./baseline-server.ts', import.meta.url));
export const FLOOR_MAIN = fileURLToPath(new URL('./floor-server.ts', import.meta.url));
export const BULLMQ_PER_ALERT_MAIN = fileURLToPath(new URL('./bullmq-per-alert.ts', import.meta.url));

/** Runs a TypeScript entry to completion (at most 5 minutes) and returns its stdout; a non-zero exit throws with its output. */
export function runToCompletion(entry: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-10_000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else reject(new Error(`${entry} ended with ${signal ?? `exit ${code}`}:\n${stdout}${stderr}`));
    });
  });
}

/** CPU time (user + system) a process has used so far, in ms, from /proc (Linux). */
export function cpuMs(pid: number | undefined): number {
  if (pid === undefined || pid === 0) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat (12 and 13 after the command).
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

const CLOCK_TICKS = 100;

/** CPU time of a process and its direct children (a multi-process hub's primary and hub processes), in ms. */
export function treeCpuMs(pid: number | undefined): number {
  if (pid === undefined || pid === 0) return 0;
  let total = cpuMs(pid);
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) total += cpuMs(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return total;
}
