import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A real redis-server for one test file: own loopback port, own temp dir. */
export interface TestRedis {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** Process id of the current redis-server (changes on restart). */
  readonly pid: number;
  /** SIGKILL then start again on the same port and dir (AOF replays). */
  restart(): Promise<void>;
  /** SIGKILL only: Redis is unreachable until `start()`. */
  crash(): Promise<void>;
  /** Starts it again after `crash()` (same port and dir). */
  start(): Promise<void>;
  /** Stop and delete the temp dir. */
  stop(): Promise<void>;
}

export interface TestRedisOptions {
  /** AOF on (appendfsync everysec) — the hub's production setting. @defaultValue true */
  readonly appendOnly?: boolean;
}

/**
 * Starts `redis-server` (it must be installed: `apt-get install redis-server`).
 * Fails loudly if it cannot: a test that needs Redis never skips.
 */
export async function startTestRedis(options: TestRedisOptions = {}): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'peregrine-redis-'));
  const port = await freeLoopbackPort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', options.appendOnly === false ? 'no' : 'yes', '--appendfsync', 'everysec'];
  let child = await launch(args);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    get pid() {
      return child.pid ?? 0;
    },
    async restart() {
      await kill(child, 'SIGKILL');
      child = await launch(args);
    },
    async crash() {
      await kill(child, 'SIGKILL');
    },
    async start() {
      child = await launch(args);
    },
    async stop() {
      await kill(child, 'SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function launch(args: string[]): Promise<ChildProcess> {
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => {
    if (output.length < 16_384) output += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    if (output.length < 16_384) output += c.toString();
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`redis-server did not start in 10 s:\n${output}`)), 10_000);
    const poll = setInterval(() => {
      if (output.includes('Ready to accept connections')) done();
    }, 10);
    const onError = (e: Error) => done(new Error(`cannot run redis-server (install it: apt-get install redis-server): ${e.message}`));
    const onExit = (code: number | null) => done(new Error(`redis-server exited (${code}):\n${output}`));
    child.once('error', onError);
    child.once('exit', onExit);
    function done(error?: Error) {
      clearTimeout(timer);
      clearInterval(poll);
      child.off('error', onError);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve();
    }
  });
  return child;
}

function kill(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
