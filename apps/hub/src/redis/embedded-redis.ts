import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { RedisUnavailableError } from '../errors.ts';

/** A `redis-server` child owned by this hub process. */
export interface EmbeddedRedis {
  /** Where it listens, without the password (for logs). */
  readonly url: string;
  /** Its `requirepass`: the configured redis.password, else random per start. */
  readonly password: string;
  /** `url` with the password, for hub processes that connect by URL alone (never log it). */
  readonly authUrl: string;
  readonly dataDir: string;
  stop(): Promise<void>;
}

export interface EmbeddedRedisOptions {
  /** Data folder (created); AOF and RDB files live here. */
  readonly dataDir: string;
  /** 0 picks a free loopback port. */
  readonly port: number;
  /** Password clients must give (redis.password when set); a random one when absent. */
  readonly password?: string;
  readonly logger: Logger;
}

const INSTALL_HINT = 'Install it (Debian/Ubuntu: `apt-get install redis-server`; macOS: `brew install redis`) or point the hub at a Redis with --redis URL / redis.url.';

/**
 * Starts `redis-server` on loopback with AOF on (`appendfsync everysec`), so
 * queued alerts survive a hub or Redis restart. Used when no Redis URL is
 * configured: one command gives a working hub.
 *
 * Other local users must not read or rewrite the queues and the dead-letter
 * set (that would bypass auth.tokens), so:
 * - clients must authenticate (`requirepass`, random 256 bits unless
 *   redis.password is set); loopback TCP with a password rather than a unix
 *   socket keeps the plain `redis://` URL that hub processes, tests and tools
 *   use, and has no 107-byte socket path limit on the data folder;
 * - the password reaches redis-server on its stdin (`redis-server -`), never
 *   on its command line, which every local user can read in /proc;
 * - the data folder is 0700 and redis-server runs under umask 077, so AOF and
 *   RDB files are 0600; files of a reused folder lose their group/other bits.
 */
export async function startEmbeddedRedis(options: EmbeddedRedisOptions): Promise<EmbeddedRedis> {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined) throw new RedisUnavailableError(`redis-server is not installed (no Redis URL configured, so the hub wanted to start one). ${INSTALL_HINT}`);
  const dataDir = resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const tightened = makePrivate(dataDir);
  if (tightened > 0) options.logger.warn({ dataDir, tightened }, 'embedded redis: removed group/other permissions from %d existing entries in the data folder', tightened);
  const port = options.port === 0 ? await freePort() : options.port;
  const password = options.password ?? randomBytes(32).toString('hex');
  const config = [
    `port ${port}`,
    'bind 127.0.0.1',
    `dir ${quoteConfig(dataDir)}`,
    'appendonly yes',
    'appendfsync everysec',
    'save ""',
    'protected-mode yes',
    'daemonize no',
    `requirepass ${quoteConfig(password)}`,
  ];
  // sh only sets the umask, then exec: the redis-server process is the child itself (signals, exit code, /proc).
  const child = spawn('/bin/sh', ['-c', 'umask 077 && exec redis-server -'], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin?.on('error', () => undefined);
  child.stdin?.end(`${config.join('\n')}\n`);
  let output = '';
  const collect = (chunk: Buffer) => {
    if (output.length < 8192) output += chunk.toString();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  await waitForReady(child, () => output, 10_000);
  options.logger.info({ port, dataDir }, 'started embedded redis-server (no Redis URL configured, password required, data folder 0700); data and AOF in %s', dataDir);
  return {
    url: `redis://127.0.0.1:${port}`,
    password,
    authUrl: `redis://:${encodeURIComponent(password)}@127.0.0.1:${port}`,
    dataDir,
    stop: () => stopChild(child),
  };
}

/**
 * The data folder 0700, and no group/other permission on anything in it
 * (an existing folder may hold AOF/RDB files written under a looser umask).
 * Symbolic links are left alone. Returns how many entries were changed.
 */
function makePrivate(dir: string): number {
  let changed = 0;
  const visit = (path: string, isRoot: boolean) => {
    const stat = lstatSync(path);
    if (stat.isSymbolicLink()) return;
    const want = isRoot ? 0o700 : stat.mode & 0o700;
    if ((stat.mode & 0o777) !== want) {
      chmodSync(path, want);
      if (!isRoot) changed++;
    }
    if (stat.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name), false);
  };
  visit(dir, true);
  return changed;
}

/** A redis.conf argument in double quotes (backslash, quote, CR and LF escaped). */
function quoteConfig(value: string): string {
  return `"${value.replace(/[\\"\n\r]/g, (c) => (c === '\n' ? '\\n' : c === '\r' ? '\\r' : `\\${c}`))}"`;
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
