// Shared machinery of the test-server starters (Kafka, OpenSearch, the Lambda emulator,
// Redis Cluster): where cached artefacts and logs live, building a cache entry once under a
// lock, and running a server as its own process group so `stop()` leaves nothing behind.
import { spawn } from 'node:child_process';
import type { ChildProcess, StdioOptions } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is test/support/server-process.ts). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Built artefacts of the test servers (jars, classes, binaries): git-ignored, reused across runs. */
export const serversCacheDir = join(repoRoot, '.cache', 'servers');
/** One log file per started server. */
export const serverLogsDir = join(repoRoot, '.cache', 'logs');
/** Sources of the test servers (poms, Java mains, the Lambda runtime loop). */
export const serversSourceDir = join(repoRoot, 'test', 'servers');

/** Content hash of the inputs a cache entry is built from (files and extra strings). */
export function inputsHash(files: readonly string[], extra: readonly string[] = []): string {
  const hash = createHash('sha256');
  for (const file of files) hash.update(file).update('\0').update(readFileSync(file)).update('\0');
  for (const value of extra) hash.update(value).update('\0');
  return hash.digest('hex').slice(0, 16);
}

/**
 * Makes sure `dir` holds what `build` produces for inputs `hash`: builds only when the stamp
 * differs, under a lock so two test files starting at once do not build the same thing twice.
 */
export async function ensureBuilt(dir: string, hash: string, what: string, build: (dir: string) => Promise<void>): Promise<void> {
  const stamp = join(dir, '.stamp');
  const isCurrent = () => existsSync(stamp) && readFileSync(stamp, 'utf8') === hash;
  if (isCurrent()) return;
  await withLock(`${dir}.lock`, what, async () => {
    if (isCurrent()) return;
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    await build(dir);
    writeFileSync(stamp, hash);
  });
}

/** A directory lock (mkdir is atomic); a lock left by a dead process is taken over. */
async function withLock(lockDir: string, what: string, body: () => Promise<void>): Promise<void> {
  mkdirSync(dirname(lockDir), { recursive: true });
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    try {
      mkdirSync(lockDir);
      writeFileSync(join(lockDir, 'pid'), String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (lockHolderIsGone(lockDir)) {
        rmSync(lockDir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`waited 15 min for another process building ${what} (lock ${lockDir}); remove the lock if no build is running`);
      await sleep(250);
    }
  }
  try {
    await body();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

function lockHolderIsGone(lockDir: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(join(lockDir, 'pid'), 'utf8'));
  } catch {
    // Created but no pid yet: the holder is writing it right now, unless the lock is old.
    try {
      return Date.now() - statSync(lockDir).mtimeMs > 10_000;
    } catch {
      return true;
    }
  }
  if (!Number.isInteger(pid) || pid <= 0) return true;
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

/** Runs a build command to completion; on failure the error carries its output and how to retry. */
export function runCommand(command: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; what: string; fix?: string }): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd: options.cwd ?? repoRoot, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.length > 64_000) output = output.slice(-32_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', (error) => reject(new Error(`${options.what}: cannot run ${command} (${error.message})${options.fix ? `; ${options.fix}` : ''}`)));
    child.once('close', (code, signal) => {
      if (code === 0) resolvePromise(output);
      else reject(new Error(`${options.what} failed: ${command} ${args.join(' ')} exited with ${code ?? signal}\n${output.slice(-8_000)}${options.fix ? `\n${options.fix}` : ''}`));
    });
  });
}

/** Log file for one server instance; files older than a day are removed so the folder stays small. */
export function serverLogFile(name: string): string {
  mkdirSync(serverLogsDir, { recursive: true });
  const dayAgo = Date.now() - 24 * 3600_000;
  for (const entry of readdirSync(serverLogsDir)) {
    const path = join(serverLogsDir, entry);
    try {
      if (statSync(path).mtimeMs < dayAgo) rmSync(path, { force: true });
    } catch {
      // Removed by a concurrent run: fine.
    }
  }
  return join(serverLogsDir, `${name}.log`);
}

/** A server process started by `spawnServer`. */
export interface ServerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly logFile: string;
  /** Set when the process has exited (with the code or signal), for readiness loops. */
  exited(): string | undefined;
  /** SIGTERM to the whole process group, SIGKILL after `graceMs`; resolves once it is gone. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL to the whole process group. */
  kill(): Promise<void>;
}

const setpriv = '/usr/bin/setpriv';
const liveGroups = new Set<number>();
let exitHookInstalled = false;

/** Whatever happens to the test process, its servers' process groups are killed on the way out. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const pgid of liveGroups) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  });
}

export interface SpawnServerOptions {
  readonly args: readonly string[];
  readonly logFile: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /**
   * Give the process a stdin pipe that is never written: the JVM mains exit when it closes
   * (test/servers/java/testservers/ExitWithParent.java), i.e. when this process dies, even by SIGKILL.
   */
  readonly exitWithParentStdin?: boolean;
}

/**
 * Starts a server in its own process group with stdout and stderr appended to `logFile`.
 * The child does not keep this process alive: a test file that forgets `stop()` still ends,
 * and the exit hook kills the group.
 */
export function spawnServer(command: string, options: SpawnServerOptions): ServerProcess {
  installExitHook();
  const logFd = openSync(options.logFile, 'a');
  const stdio: StdioOptions = [options.exitWithParentStdin ? 'pipe' : 'ignore', logFd, logFd];
  // Servers without the stdin watchdog get SIGKILL from the kernel when this process dies,
  // even by SIGKILL (prctl PR_SET_PDEATHSIG through util-linux' setpriv, which then execs them).
  const [file, args] = !options.exitWithParentStdin && existsSync(setpriv) ? [setpriv, ['--pdeathsig', 'KILL', '--', command, ...options.args]] : [command, [...options.args]];
  const child = spawn(file, args, { cwd: options.cwd ?? repoRoot, env: options.env ?? process.env, stdio, detached: true });
  closeSync(logFd);
  let exitState: string | undefined;
  const gone = new Promise<void>((resolvePromise) => {
    child.once('exit', (code, signal) => {
      exitState = signal ?? `code ${code}`;
      resolvePromise();
    });
    child.once('error', (error) => {
      exitState = `spawn error: ${error.message}`;
      resolvePromise();
    });
  });
  const pgid = child.pid ?? 0;
  if (pgid > 0) liveGroups.add(pgid);
  (child.stdin as Socket | null)?.unref();
  child.unref();
  const signalGroup = (signal: NodeJS.Signals) => {
    if (pgid <= 0) return;
    try {
      process.kill(-pgid, signal);
    } catch {
      // The group is empty already.
    }
  };
  const finish = async () => {
    await gone;
    // The leader is gone; children it started (the Lambda runtime under the emulator) go too.
    signalGroup('SIGKILL');
    liveGroups.delete(pgid);
  };
  return {
    child,
    pid: pgid,
    logFile: options.logFile,
    exited: () => exitState,
    async stop(graceMs = 15_000) {
      if (exitState === undefined) {
        signalGroup('SIGTERM');
        const timer = setTimeout(() => signalGroup('SIGKILL'), graceMs);
        await gone;
        clearTimeout(timer);
      }
      await finish();
    },
    async kill() {
      if (exitState === undefined) signalGroup('SIGKILL');
      await finish();
    },
  };
}

/** The last lines of a server's log, for error messages. */
export function logTail(logFile: string, lines = 40): string {
  try {
    return readFileSync(logFile, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Polls `probe` until it returns a value; fails with the server's log tail if the process
 * exits or `timeoutMs` passes. The error names the server, the wait and where the log is.
 */
export async function waitForReady<T>(server: ServerProcess, what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    const exit = server.exited();
    if (exit !== undefined) throw new Error(`${what} exited (${exit}) before it was ready; log ${server.logFile}:\n${logTail(server.logFile)}`);
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline) {
      await server.kill();
      throw new Error(`${what} was not ready after ${Math.round(timeoutMs / 1000)} s${lastError ? ` (last probe: ${lastError})` : ''}; log ${server.logFile}:\n${logTail(server.logFile)}`);
    }
    await sleep(200);
  }
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export function acceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolvePromise(true);
    });
    socket.once('error', () => resolvePromise(false));
  });
}

/** Resident memory of a process in bytes (0 when it is gone), from /proc. */
export function residentBytes(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** CPU time (user + system) a process has used so far, in seconds (0 when it is gone), from /proc. */
export function cpuSeconds(pid: number): number {
  try {
    // Fields after the command name (which may hold spaces) start at "state"; utime, stime are 14th, 15th overall.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolvePromise) => setTimeout(resolvePromise, ms));
}

/** The `java` to run: $JAVA_HOME/bin/java when set, else the one on PATH. */
export function javaCommand(): string {
  return process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
}

/** The `javac` next to `java`. */
export function javacCommand(): string {
  return process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'javac') : 'javac';
}

/**
 * How a test server's JVM is tuned. `fast-start` (the default for tests): C1 JIT only and the
 * serial collector, which halves the CPU a start costs (measured: OpenSearch 15 → 6 CPU-s,
 * Kafka 7-8 → 5) at some cost in peak throughput. `throughput`: the JVM's defaults (C2, G1),
 * as in production; benchmarks that measure a sink against the server want this one.
 */
export type JvmTuning = 'fast-start' | 'throughput';

export function jvmTuningOptions(tuning: JvmTuning = 'fast-start'): string[] {
  return tuning === 'throughput' ? ['-XX:+UseG1GC'] : ['-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1'];
}

export const installJavaAndMaven = 'install Java 17 and Maven: apt-get install openjdk-17-jdk-headless maven (or run scripts/bootstrap.sh)';
