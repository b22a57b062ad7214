import { pino } from 'pino';
import type { Logger } from 'pino';
import { matchCgroupPath, matchProcCgroup, DEFAULT_CONTAINERD_NAMESPACES } from './cgroup.ts';
import type { CgroupMatch } from './cgroup.ts';
import { CriMetadataProvider } from './cri.ts';
import { DockerMetadataProvider } from './docker.ts';
import { HOST_CONTAINER, shortContainerId } from './types.ts';
import type { ContainerInfo, ContainerMetadataProvider, ContainerType } from './types.ts';

/** Default sockets, as the container plugin's. */
export const DEFAULT_DOCKER_SOCKETS: readonly string[] = ['/var/run/docker.sock'];
export const DEFAULT_CRI_SOCKETS: readonly string[] = [
  '/run/containerd/containerd.sock',
  '/run/crio/crio.sock',
  '/run/k3s/containerd/containerd.sock',
  '/run/host-containerd/containerd.sock',
];

export interface EngineSockets {
  /** @defaultValue true */
  readonly enabled?: boolean;
  /** Empty or missing: the defaults. */
  readonly sockets?: readonly string[];
}

export interface ContainerRegistryOptions {
  /** `engines.docker.sockets` and `engines.cri.sockets`, like the container plugin's config. */
  readonly engines?: { readonly docker?: EngineSockets; readonly cri?: EngineSockets };
  /** Use these providers instead of the engines' sockets (tests, other runtimes). */
  readonly providers?: readonly ContainerMetadataProvider[];
  /** containerd namespaces whose `/<ns>/<name>` cgroups are plain containerd containers. @defaultValue ['default', 'k8s.io'] */
  readonly containerdNamespaces?: readonly string[];
  /** How often the runtimes' container lists are polled to learn new containers early and notice dead ones; 0 = never. @defaultValue 1000 */
  readonly pollIntervalMs?: number;
  /** Containers remembered at most (least recently used go first). @defaultValue 4096 */
  readonly maxEntries?: number;
  /** How long a container stays after its runtime stops listing it (late events of its last processes). @defaultValue 30000 */
  readonly exitedTtlMs?: number;
  /** First retry delay of a failed or empty lookup; doubles up to retryMaxMs. @defaultValue 500 */
  readonly retryInitialMs?: number;
  /** @defaultValue 30000 */
  readonly retryMaxMs?: number;
  /** Scheduled retries per container before it waits for the next `info()`/poll to ask again. @defaultValue 8 */
  readonly maxScheduledRetries?: number;
  /** Labels with longer values are left out (the plugin's `label_max_len`). @defaultValue 100 */
  readonly labelMaxLength?: number;
  readonly logger?: Logger;
}

export interface ContainerRegistryStats {
  readonly entries: number;
  readonly known: number;
  readonly lookups: number;
  readonly lookupFailures: number;
  readonly polls: number;
  readonly pollFailures: number;
}

interface Entry {
  readonly id: string;
  fullId: string;
  typeHint: Exclude<ContainerType, 'host'>;
  info: ContainerInfo | undefined;
  inFlight: boolean;
  attempts: number;
  lastAttemptAt: number;
  retryTimer: NodeJS.Timeout | undefined;
  failureLogged: boolean;
  goneSince: number | undefined;
  waiters: Array<(info: ContainerInfo | undefined) => void>;
}

/**
 * Containers seen by the sensor: `container.id` from a cgroup path
 * (synchronously, no I/O) and metadata from the runtimes' APIs (asynchronously,
 * cached). Nothing here ever blocks an event:
 *
 * - `idForCgroup()` answers from the path alone and, the first time it sees a
 *   container, starts a metadata lookup;
 * - `info()` returns what is cached (undefined until the lookup lands);
 * - a lookup that fails (runtime error, timeout) or finds nothing is retried
 *   with backoff; a failure is logged once per container;
 * - a poll of the runtimes' container lists (every second by default, cheap:
 *   one `GET /containers/json` / `ListContainers` per socket) learns new
 *   containers as soon as they exist, usually before their first process does
 *   anything, so the first alert of a new container already finds its metadata,
 *   and notices containers that are gone: they expire `exitedTtlMs` later;
 * - `whenKnown(id, ms)` lets a caller that wants to (e.g. the pipeline holding
 *   an alert — not an event — of a container's very first moments) wait a
 *   bounded time for the lookup.
 */
export class ContainerRegistry {
  private readonly entries = new Map<string, Entry>();
  private readonly cgroupIds = new Map<string, string>();
  private readonly providers: readonly ContainerMetadataProvider[];
  private readonly namespaces: readonly string[];
  private readonly logger: Logger;
  private readonly maxEntries: number;
  private readonly exitedTtlMs: number;
  private readonly retryInitialMs: number;
  private readonly retryMaxMs: number;
  private readonly maxScheduledRetries: number;
  private readonly pollIntervalMs: number;
  private pollTimer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private closed = false;
  private readonly absentLogged = new Set<string>();
  private readonly pollFailureLogged = new Set<string>();
  private counters = { lookups: 0, lookupFailures: 0, polls: 0, pollFailures: 0 };

  constructor(options: ContainerRegistryOptions = {}) {
    const labelMaxLength = options.labelMaxLength ?? 100;
    this.providers = options.providers ?? [
      ...socketsOf(options.engines?.cri, DEFAULT_CRI_SOCKETS).map((s) => new CriMetadataProvider(s, { labelMaxLength })),
      ...socketsOf(options.engines?.docker, DEFAULT_DOCKER_SOCKETS).map((s) => new DockerMetadataProvider(s, { labelMaxLength })),
    ];
    this.namespaces = options.containerdNamespaces ?? DEFAULT_CONTAINERD_NAMESPACES;
    this.logger = options.logger ?? pino({ name: 'containers', level: 'warn' });
    this.maxEntries = options.maxEntries ?? 4096;
    this.exitedTtlMs = options.exitedTtlMs ?? 30_000;
    this.retryInitialMs = options.retryInitialMs ?? 500;
    this.retryMaxMs = options.retryMaxMs ?? 30_000;
    this.maxScheduledRetries = options.maxScheduledRetries ?? 8;
    this.pollIntervalMs = options.pollIntervalMs ?? 1_000;
  }

  /** Starts the periodic poll (the first round at once); resolves after that first round. */
  async start(): Promise<void> {
    if (this.pollIntervalMs > 0 && !this.pollTimer && !this.closed) {
      this.pollTimer = setInterval(() => void this.poll(), this.pollIntervalMs);
      this.pollTimer.unref();
    }
    await this.poll();
  }

  /** `container.id` for one cgroup path (one hierarchy's): the 12-character id or `host`. Starts a lookup for a new container. */
  idForCgroup(cgroupPath: string): string {
    const cached = this.cgroupIds.get(cgroupPath);
    if (cached !== undefined) return cached;
    const id = this.remember(matchCgroupPath(cgroupPath, { containerdNamespaces: this.namespaces }));
    if (this.cgroupIds.size >= this.maxEntries) this.cgroupIds.delete(this.cgroupIds.keys().next().value as string);
    this.cgroupIds.set(cgroupPath, id);
    return id;
  }

  /** `container.id` for a whole `/proc/<pid>/cgroup` text (first matching line, as the plugin). */
  idForProcCgroup(procCgroupText: string): string {
    return this.remember(matchProcCgroup(procCgroupText, { containerdNamespaces: this.namespaces }));
  }

  /** What is known about a container now; never waits. `host` gives the host pseudo-container. */
  info(id: string): ContainerInfo | undefined {
    if (id === 'host') return HOST_CONTAINER;
    const entry = this.touch(id) ?? this.add(id, id, 'containerd');
    if (!entry.info) void this.maybeLookup(entry);
    return entry.info;
  }

  /** The runtime type known so far (from the metadata, else from the cgroup layout). */
  typeOf(id: string): ContainerType | undefined {
    if (id === 'host') return 'host';
    const entry = this.entries.get(id);
    return entry?.info?.type ?? entry?.typeHint;
  }

  /** Resolves with the metadata when it lands, or undefined after `timeoutMs`. */
  whenKnown(id: string, timeoutMs: number): Promise<ContainerInfo | undefined> {
    const now = this.info(id);
    if (now) return Promise.resolve(now);
    const entry = this.entries.get(id)!;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        entry.waiters = entry.waiters.filter((w) => w !== done);
        resolve(undefined);
      }, timeoutMs);
      const done = (info: ContainerInfo | undefined) => {
        clearTimeout(timer);
        resolve(info);
      };
      entry.waiters.push(done);
    });
  }

  /** One poll round now (what the timer does every pollIntervalMs); resolves once the new containers it found are looked up. */
  poll(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.polling ??= this.pollOnce().finally(() => {
      this.polling = undefined;
    });
    return this.polling;
  }

  stats(): ContainerRegistryStats {
    let known = 0;
    for (const entry of this.entries.values()) if (entry.info) known++;
    return { entries: this.entries.size, known, ...this.counters };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    await this.polling?.catch(() => undefined);
    for (const entry of this.entries.values()) {
      if (entry.retryTimer) clearTimeout(entry.retryTimer);
      this.settle(entry);
    }
    for (const provider of this.providers) provider.close();
  }

  private remember(match: CgroupMatch | undefined): string {
    if (!match) return 'host';
    const entry = this.touch(match.id);
    if (entry) {
      if (entry.fullId.length < match.fullId.length) entry.fullId = match.fullId;
      return match.id;
    }
    void this.maybeLookup(this.add(match.id, match.fullId, match.type));
    return match.id;
  }

  private add(id: string, fullId: string, typeHint: Exclude<ContainerType, 'host'>): Entry {
    const entry: Entry = {
      id,
      fullId,
      typeHint,
      info: undefined,
      inFlight: false,
      attempts: 0,
      lastAttemptAt: 0,
      retryTimer: undefined,
      failureLogged: false,
      goneSince: undefined,
      waiters: [],
    };
    this.entries.set(id, entry);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.values().next().value as Entry;
      this.drop(oldest);
    }
    return entry;
  }

  /** Marks an entry as recently used (Map order is the LRU order). */
  private touch(id: string): Entry | undefined {
    const entry = this.entries.get(id);
    if (entry) {
      this.entries.delete(id);
      this.entries.set(id, entry);
    }
    return entry;
  }

  private drop(entry: Entry): void {
    this.entries.delete(entry.id);
    if (entry.retryTimer) clearTimeout(entry.retryTimer);
    this.settle(entry);
  }

  private settle(entry: Entry): void {
    const waiters = entry.waiters;
    entry.waiters = [];
    for (const w of waiters) w(entry.info);
  }

  /** Starts a lookup unless one runs, one is scheduled, or the last failed one is too recent. */
  private maybeLookup(entry: Entry): Promise<void> | undefined {
    if (this.closed || entry.inFlight || entry.retryTimer || entry.info) return undefined;
    if (entry.attempts > 0 && Date.now() - entry.lastAttemptAt < this.backoff(entry.attempts)) return undefined;
    return this.lookup(entry);
  }

  private backoff(attempts: number): number {
    return Math.min(this.retryMaxMs, this.retryInitialMs * 2 ** Math.max(0, attempts - 1));
  }

  private async lookup(entry: Entry): Promise<void> {
    entry.inFlight = true;
    entry.attempts++;
    entry.lastAttemptAt = Date.now();
    this.counters.lookups++;
    const errors: string[] = [];
    let found: ContainerInfo | undefined;
    for (const provider of this.ordered(entry.typeHint)) {
      try {
        const result = await provider.inspect(entry.fullId);
        if (result.kind === 'found') {
          found = result.info;
          break;
        }
        if (result.kind === 'absent' && !this.absentLogged.has(provider.name)) {
          this.absentLogged.add(provider.name);
          this.logger.debug({ provider: provider.name }, 'container runtime socket not present; skipping it until it appears');
        }
      } catch (error) {
        errors.push((error as Error).message);
      }
    }
    entry.inFlight = false;
    if (!this.entries.has(entry.id) || this.closed) return;
    if (found) {
      entry.info = found;
      entry.typeHint = found.type === 'host' ? entry.typeHint : found.type;
      if (entry.failureLogged) this.logger.info({ containerId: entry.id }, 'container metadata found after earlier failures');
      this.settle(entry);
      return;
    }
    if (errors.length > 0) {
      this.counters.lookupFailures++;
      if (!entry.failureLogged) {
        entry.failureLogged = true;
        this.logger.warn({ containerId: entry.id, errors }, 'container metadata lookup failed; retrying with backoff (logged once per container)');
      }
    }
    if (entry.attempts <= this.maxScheduledRetries) {
      entry.retryTimer = setTimeout(() => {
        entry.retryTimer = undefined;
        if (this.entries.has(entry.id) && !entry.info) void this.lookup(entry);
      }, this.backoff(entry.attempts));
      entry.retryTimer.unref();
    }
  }

  /** Providers most likely to know this layout first (a /docker/<id> path asks Docker before CRI). */
  private ordered(typeHint: Exclude<ContainerType, 'host'>): ContainerMetadataProvider[] {
    const dockerFirst = typeHint === 'docker';
    const isDocker = (p: ContainerMetadataProvider) => p instanceof DockerMetadataProvider || p.name.startsWith('docker:');
    return [...this.providers].sort((a, b) => (isDocker(a) === isDocker(b) ? 0 : isDocker(a) === dockerFirst ? -1 : 1));
  }

  private async pollOnce(): Promise<void> {
    this.counters.polls++;
    const listed = new Set<string>();
    const started: Array<Promise<void>> = [];
    let allAnswered = true;
    for (const provider of this.providers) {
      let ids: string[] | undefined;
      try {
        ids = await provider.list();
        this.pollFailureLogged.delete(provider.name);
      } catch (error) {
        allAnswered = false;
        this.counters.pollFailures++;
        if (!this.pollFailureLogged.has(provider.name)) {
          this.pollFailureLogged.add(provider.name);
          this.logger.warn({ provider: provider.name, error: (error as Error).message }, 'cannot list containers; retrying every poll (logged once until it works again)');
        }
        continue;
      }
      for (const fullId of ids ?? []) {
        const id = shortContainerId(fullId);
        listed.add(id);
        const entry = this.entries.get(id) ?? this.add(id, fullId, provider.name.startsWith('docker:') ? 'docker' : 'containerd');
        entry.goneSince = undefined;
        if (entry.fullId.length < fullId.length) entry.fullId = fullId;
        const lookup = this.maybeLookup(entry);
        if (lookup) started.push(lookup);
      }
    }
    // A poll round ends when the containers it discovered are described (lookups never throw).
    await Promise.all(started);
    if (this.closed) return;
    // Expire containers no runtime lists any more (only when every runtime answered: an outage is not a death).
    const now = Date.now();
    if (!allAnswered) return;
    for (const entry of [...this.entries.values()]) {
      if (listed.has(entry.id) || !entry.info) continue;
      entry.goneSince ??= now;
      if (now - entry.goneSince >= this.exitedTtlMs) this.drop(entry);
    }
  }
}

function socketsOf(engine: EngineSockets | undefined, defaults: readonly string[]): readonly string[] {
  if (engine?.enabled === false) return [];
  return engine?.sockets && engine.sockets.length > 0 ? engine.sockets : defaults;
}
