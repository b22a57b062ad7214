import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The load generator for the throughput phases: wrk (C, one thread). A Node
 * client cost ~180 µs of CPU per request on this class of VM, as much as the
 * server under test, and shared its 2 cores; wrk costs a small fraction.
 */
export function requireWrk(): void {
  const probe = spawnSync('wrk', ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined) throw new Error('bench/hub needs wrk as its load generator: apt-get install wrk (scripts/bootstrap.sh installs it with the other Debian packages)');
}

export interface WrkResult {
  readonly requests: number;
  /** Answers other than 2xx/3xx, plus socket errors. */
  readonly failed: number;
  readonly seconds: number;
}

/** Writes a wrk Lua script that POSTs `bodies` in turn (JSON). */
export function postScript(dir: string, name: string, bodies: readonly string[]): string {
  const path = join(dir, `${name}.lua`);
  const quoted = bodies.map((b) => `[==[${b}]==]`).join(',\n');
  writeFileSync(
    path,
    `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nlocal bodies = {\n${quoted}\n}\nlocal i = 0\nrequest = function()\n  i = i % #bodies + 1\n  return wrk.format(nil, nil, nil, bodies[i])\nend\n`,
  );
  return path;
}

/** Runs wrk for `seconds` with `connections` keep-alive connections on one thread. */
export function runWrk(url: string, script: string, connections: number, seconds: number): Promise<WrkResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '10s', '-s', script, url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      const requests = /(\d+) requests in ([\d.]+)(ms|s|m)/.exec(out);
      if (code !== 0 || requests === null) return reject(new Error(`wrk failed (${code}):\n${out}`));
      const unit = requests[3] === 'ms' ? 0.001 : requests[3] === 'm' ? 60 : 1;
      const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
      const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      const socketErrors = socket === null ? 0 : socket.slice(1).reduce((n, x) => n + Number(x), 0);
      resolve({ requests: Number(requests[1]), failed: non2xx + socketErrors, seconds: Number(requests[2]) * unit });
    });
  });
}
