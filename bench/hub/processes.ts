import { spawn } from 'node:child_process';
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
