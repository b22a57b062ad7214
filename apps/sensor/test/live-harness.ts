/**
 * A live sensor for acceptance tests: the real probe (ProbeSource) over state
 * seeded from /proc (liveContext), optionally with a real ContainerRegistry,
 * rules compiled from the given files, and an in-memory AlertOutput. The
 * probe captures the syscalls the rules need (syscallsForRules) plus those
 * that keep the fd table right.
 *
 * The probe sees the whole machine, so each alert is recorded with where it
 * came from (the event's pid and its ancestors' pids, its container): an
 * action started by the test is matched by its pid being the event's process
 * or one of its ancestors; an action inside a container (started through the
 * runtime, not our child) by its container id and a unique marker in its
 * command line. Waiting is deadline polling; nothing asserts on time.
 */
import { spawn } from 'node:child_process';
import type { Alert } from '@peregrine/alert';
import { SYSCALL_BY_NAME } from '@peregrine/native';
import { pino } from 'pino';
import { CriMetadataProvider, DockerMetadataProvider, type ContainerMetadataProvider, type LookupResult } from '../src/containers/index.ts';
import { ContainerRegistry } from '../src/containers/registry.ts';
import type { SyscallEvent } from '../src/extract/syscall-event.ts';
import type { AlertOutput } from '../src/output/types.ts';
import { createEvaluator } from '../src/pipeline/evaluate.ts';
import { compileSyscallRules, syscallsForRules, type SyscallRules } from '../src/pipeline/rules.ts';
import { liveContext } from '../src/sources/context.ts';
import { ProbeSource } from '../src/sources/probe-source.ts';

/** Syscalls the fd table needs beyond what rules ask for (names the probe does not know are left out). */
const FD_STATE_SYSCALLS = [
  'open', 'openat', 'openat2', 'creat', 'close', 'dup', 'dup2', 'dup3', 'fcntl', 'socket', 'socketpair', 'accept', 'accept4', 'connect',
  'pipe', 'pipe2', 'memfd_create', 'chdir', 'fchdir',
];

/** An alert plus the event it came from. */
export interface RecordedAlert {
  readonly alert: Alert;
  readonly pid: number;
  /** The event's process pid first, then its ancestors' (as the process table knows them). */
  readonly lineage: readonly number[];
  readonly containerId: string;
  readonly cmdline: string;
}

type Provenance = Omit<RecordedAlert, 'alert'>;

/**
 * The in-memory AlertOutput: keeps every alert in the order the outputs get
 * them, tagged with where its event came from. Provenance is taken when the
 * rule matches (the event is gone once an alert has waited for its
 * container's metadata) and found again by the alert's uuid, which waiting
 * keeps.
 */
class MemoryOutput implements AlertOutput {
  readonly recorded: RecordedAlert[] = [];
  readonly #raised = new Map<string, Provenance>();
  emitted = 0;

  raised(alert: Alert, e: SyscallEvent): void {
    const lineage = [e.proc.pid];
    for (const a of e.ctx.processes.ancestors(e.proc)) lineage.push(a.pid);
    const p = e.proc;
    this.#raised.set(alert.uuid, { pid: e.raw.pid, lineage, containerId: e.containerId, cmdline: [p.name, ...p.args].join(' ') });
  }

  emit(alert: Alert): void {
    this.emitted++;
    const from = this.#raised.get(alert.uuid);
    if (!from) throw new Error(`MemoryOutput: alert ${alert.uuid} (${alert.rule}) was emitted but never raised`);
    this.#raised.delete(alert.uuid);
    this.recorded.push({ alert, ...from });
  }

  async flush(): Promise<void> {}
  async close(): Promise<void> {}
  stats(): Record<string, number> {
    return { emitted: this.emitted };
  }
}

export interface LiveHarnessOptions {
  /** Rules files, loaded in order. */
  readonly rules: readonly string[];
  /** Container runtimes' sockets: a real ContainerRegistry is built over them. */
  readonly containers?: { readonly dockerSockets?: readonly string[]; readonly criSockets?: readonly string[] };
  /** Falco rule_matching: all (every matching rule alerts). @defaultValue true, so one action's rules do not hide each other */
  readonly allMatches?: boolean;
  /**
   * A slow runtime: every metadata answer of the real providers (list and inspect) is held back
   * until the promise this returns settles (a timer, or a gate the test opens).
   */
  readonly answerDelay?: () => Promise<void>;
  /** How long an alert waits for its container's metadata (the sensor's containers.alertWaitMs). @defaultValue 2000 */
  readonly alertWaitMs?: number;
}

/** A real provider whose every answer waits for `delay()`. */
class SlowProvider implements ContainerMetadataProvider {
  constructor(
    readonly inner: ContainerMetadataProvider,
    readonly delay: () => Promise<void>,
  ) {}
  get name(): string {
    return this.inner.name;
  }
  async list(): Promise<string[] | undefined> {
    const r = await this.inner.list();
    await this.delay();
    return r;
  }
  async inspect(id: string): Promise<LookupResult> {
    const r = await this.inner.inspect(id);
    await this.delay();
    return r;
  }
  close(): void {
    this.inner.close();
  }
}

/** Who an action is: a child of ours (its pid) or a process in a container (id + marker in its command line). */
export type ActionMatch =
  | { readonly pid: number }
  | { readonly containerId: string; readonly marker: string };

export interface ActionRun {
  readonly pid: number;
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export class LiveHarness {
  readonly rules: SyscallRules;
  readonly syscalls: readonly string[];
  readonly registry: ContainerRegistry | undefined;
  readonly source: ProbeSource;
  readonly #output: MemoryOutput;
  readonly #evaluator: ReturnType<typeof createEvaluator>;

  private constructor(
    rules: SyscallRules,
    syscalls: string[],
    registry: ContainerRegistry | undefined,
    source: ProbeSource,
    output: MemoryOutput,
    evaluator: ReturnType<typeof createEvaluator>,
  ) {
    this.rules = rules;
    this.syscalls = syscalls;
    this.registry = registry;
    this.source = source;
    this.#output = output;
    this.#evaluator = evaluator;
  }

  /** What the wait for container metadata did so far. */
  get holdStats() {
    return this.#evaluator.hold?.stats();
  }

  static start(opts: LiveHarnessOptions): LiveHarness {
    const rules = compileSyscallRules(opts.rules, { allMatches: opts.allMatches ?? true });
    const set = syscallsForRules(rules);
    const wanted = new Set([...set.syscalls, ...FD_STATE_SYSCALLS.filter((s) => SYSCALL_BY_NAME.has(s))]);
    const syscalls = [...SYSCALL_BY_NAME.keys()].filter((s) => wanted.has(s));
    const c = opts.containers;
    const delay = opts.answerDelay;
    const providers: ContainerMetadataProvider[] | undefined =
      c && delay !== undefined
        ? [
            ...(c.criSockets ?? []).map((s) => new SlowProvider(new CriMetadataProvider(s), delay)),
            ...(c.dockerSockets ?? []).map((s) => new SlowProvider(new DockerMetadataProvider(s), delay)),
          ]
        : undefined;
    const registry = c
      ? new ContainerRegistry({
          engines: { docker: { sockets: [...(c.dockerSockets ?? [])] }, cri: { sockets: [...(c.criSockets ?? [])] } },
          providers,
          logger: pino({ level: 'silent' }),
        })
      : undefined;
    const output = new MemoryOutput();
    let source: ProbeSource;
    try {
      source = ProbeSource.open({ syscalls, context: liveContext({ containers: registry }) });
    } catch (err) {
      void registry?.close();
      throw err;
    }
    const evaluator = createEvaluator(rules, [output], {
      containers: registry,
      hold: { maxWaitMs: opts.alertWaitMs ?? 2000 },
      onRaised: (alert, event) => output.raised(alert, event),
    });
    source.start(evaluator.onEvent);
    return new LiveHarness(rules, syscalls, registry, source, output, evaluator);
  }

  /** Every alert so far, with provenance. */
  get recorded(): readonly RecordedAlert[] {
    return this.#output.recorded;
  }

  /** Alerts of `rule` raised by the action. */
  alertsFor(rule: string, who: ActionMatch): RecordedAlert[] {
    return this.#output.recorded.filter((r) => r.alert.rule === rule && matches(r, who));
  }

  /** Every alert raised by the action, any rule. */
  alertsOf(who: ActionMatch): RecordedAlert[] {
    return this.#output.recorded.filter((r) => matches(r, who));
  }

  /**
   * Polls until `rule` has alerted for the action at least `count` times or
   * the deadline passes; returns what it has (the caller asserts on it, with
   * the action's other alerts in the message when there are none).
   */
  async waitFor(rule: string, who: ActionMatch, opts: { count?: number; timeoutMs?: number } = {}): Promise<RecordedAlert[]> {
    const count = opts.count ?? 1;
    const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
    for (;;) {
      const hits = this.alertsFor(rule, who);
      if (hits.length >= count || Date.now() > deadline) return hits;
      await sleep(25);
    }
  }

  /** Lets events already in flight reach the rules (the probe flushes its batches on a short timer). */
  async settle(ms = 500): Promise<void> {
    await sleep(ms);
  }

  /** What the action raised, for assertion messages. */
  describe(who: ActionMatch): string {
    const mine = this.alertsOf(who).map((r) => `${r.alert.rule}: ${r.alert.output}`);
    const s = this.source.stats();
    return `alerts of this action: ${mine.length ? `\n  ${mine.join('\n  ')}` : 'none'}\n(probe: ${JSON.stringify(s.probe)}; walk: ${JSON.stringify(s.walk)})`;
  }

  async close(): Promise<void> {
    this.source.close();
    this.#evaluator.drain();
    await this.registry?.close();
  }
}

function matches(r: RecordedAlert, who: ActionMatch): boolean {
  if ('pid' in who) return r.lineage.includes(who.pid);
  return r.containerId === who.containerId && r.cmdline.includes(who.marker);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs a command as a child of this process and waits for it to end; its pid identifies its alerts. */
export function runAction(command: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<ActionRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    if (opts.input !== undefined) {
      child.stdin?.on('error', () => {}); // a command that exits without reading its input
      child.stdin?.end(opts.input);
    }
    child.on('close', (code) => {
      if (child.pid === undefined) return reject(new Error(`${command}: no pid`));
      resolve({ pid: child.pid, exitCode: code, stdout, stderr });
    });
  });
}

/** The values of output_fields that a test compares, as strings (Falco prints every value as text). */
export function fieldText(alert: Alert, key: string): string | undefined {
  const v = alert.output_fields[key];
  if (v === undefined) return undefined;
  if (v === null) return '<NA>';
  return Array.isArray(v) ? v.join(',') : String(v);
}

/** What the container helpers need of the test environment (testkit's ContainerRuntimes). */
export interface ContainerEnv {
  readonly containerdSocket: string;
  readonly docker: { ok(method: string, path: string, body?: unknown): Promise<unknown> } | undefined;
}

/**
 * `docker exec` through the Engine API; with `tty` the runtime gives the
 * process a pseudo-terminal (as `docker exec -it` does). Waits for its end.
 */
export async function dockerExec(env: ContainerEnv, containerId: string, cmd: readonly string[], opts: { tty?: boolean; timeoutMs?: number } = {}): Promise<number> {
  const docker = env.docker;
  if (!docker) throw new Error('dockerExec: the environment has no dockerd');
  const tty = opts.tty === true;
  const created = (await docker.ok('POST', `/containers/${containerId}/exec`, { Cmd: [...cmd], Tty: tty, AttachStdout: false, AttachStderr: false })) as { Id: string };
  await docker.ok('POST', `/exec/${created.Id}/start`, { Detach: true, Tty: tty });
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  for (;;) {
    const state = (await docker.ok('GET', `/exec/${created.Id}/json`)) as { Running: boolean; ExitCode: number | null };
    if (!state.Running) return state.ExitCode ?? -1;
    if (Date.now() > deadline) throw new Error(`docker exec ${cmd.join(' ')} still running after ${opts.timeoutMs ?? 15_000} ms`);
    await sleep(50);
  }
}

let execCounter = 0;

/**
 * An exec into a CRI container through containerd (`ctr task exec`, namespace
 * k8s.io, the same runc exec path a kubelet's exec takes); with `tty` it runs
 * under `script` so ctr has a terminal to hand the process, as `kubectl exec -it`.
 */
export async function criExec(env: ContainerEnv, containerId: string, cmd: readonly string[], opts: { tty?: boolean } = {}): Promise<ActionRun> {
  const execId = `pg-exec-${process.pid}-${++execCounter}`;
  const ctr = ['ctr', '--address', env.containerdSocket, '-n', 'k8s.io', 'task', 'exec', ...(opts.tty ? ['--tty'] : []), '--exec-id', execId, containerId, ...cmd];
  if (!opts.tty) return runAction(ctr[0], ctr.slice(1));
  const quoted = ctr.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return runAction('script', ['-qec', quoted, '/dev/null']);
}
