import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { RedisUnavailableError } from '../errors.ts';

/** A `redis-server` child owned by this hub process. */
export interface EmbeddedRedis {
  readonly url: string;
  readonly dataDir: string;
  stop(): Promise<void>;
}

export interface EmbeddedRedisOptions {
  /** Data folder (created); AOF and RDB files live here. */
  readonly dataDir: string;
  /** 0 picks a free loopback port. */
  readonly port: number;
  readonly logger: Logger;
}

const INSTALL_HINT = 'Install it (Debian/Ubuntu: `apt-get install redis-server`; macOS: `brew install redis`) or point the hub at a Redis with --redis URL / redis.url.';

/**
 * Starts `redis-server` on loopback with AOF on (`appendfsync everysec`), so
 * queued alerts survive a hub or Redis restart. Used when no Redis URL is
 * configured: one command gives a working hub.
 */
export async function startEmbeddedRedis(options: EmbeddedRedisOptions): Promise<EmbeddedRedis> {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined) throw new RedisUnavailableError(`redis-server is not installed (no Redis URL configured, so the hub wanted to start one). ${INSTALL_HINT}`);
  const dataDir = resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const port = options.port === 0 ? await freePort() : options.port;
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dataDir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--protected-mode', 'yes', '--daemonize', 'no'];
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk: Buffer) => {
    if (output.length < 8192) output += chunk.toString();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  await waitForReady(child, () => output, 10_000);
  options.logger.info({ port, dataDir }, 'started embedded redis-server (no Redis URL configured); data and AOF in %s', dataDir);
  return {
    url: `redis://127.0.0.1:${port}`,
    dataDir,
    stop: () => stopChild(child),
  };
}

function waitForReady(child: ChildProcess, output: () => string, timeoutMs: number): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => finish(new RedisUnavailableError(`redis-server did not become ready in ${timeoutMs} ms:\n${output()}`)), timeoutMs);
    const poll = setInterval(() => {
      if (/Ready to accept connections/i.test(output())) finish();
    }, 20);
    const onExit = (code: number | null) => finish(new RedisUnavailableError(`redis-server exited with code ${code} during start-up:\n${output()}`));
    child.once('exit', onExit);
    function finish(error?: Error) {
      clearTimeout(timer);
      clearInterval(poll);
      child.off('exit', onExit);
      if (error) {
        child.kill('SIGKILL');
        reject(error);
      } else resolvePromise();
    }
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolvePromise) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolvePromise();
    });
    child.kill('SIGTERM');
  });
}

function freePort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolvePromise(port));
    });
  });
}
