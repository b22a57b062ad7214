/**
 * The running sensor: probe → state → rules → outputs, with reload, drop
 * reporting, metrics and health. `Sensor.start(config)` brings it all up in
 * that order (outputs before the probe, so the first alert has somewhere to
 * go); `close()` detaches the probe first, then flushes the outputs.
 */
import { watch, statSync, type FSWatcher } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { basename, dirname, resolve } from 'node:path';
import pino from 'pino';
import type { Logger } from 'pino';
import type { Alert } from '@peregrine/alert';
import { bootEpochNs, findLimitations, gatherFacts } from '@peregrine/native';
import { rulesFilesOf } from './config/load.ts';
import type { SensorConfig } from './config/schema.ts';
import { ContainerRegistry } from './containers/index.ts';
import { DropMonitor } from './drop-alert.ts';
import { SensorMetrics, startMetricsServer, type Health, type SensorSnapshot } from './metrics.ts';
import { FileOutput, HubOutput, StdoutOutput, type AlertOutput, type OutputLogger } from './output/index.ts';
import { LiveRules, type ReloadResult, type RuleSetVersion } from './pipeline/live-rules.ts';
import { SwappableEvaluator } from './pipeline/swappable-evaluator.ts';
import { liveContext } from './sources/context.ts';
import { ProbeSource } from './sources/probe-source.ts';

/** Changes to a rules file within this long are one reload (editors write in several steps). */
export const RULES_WATCH_DEBOUNCE_MS = 300;

export interface SensorStartOptions {
  readonly config: SensorConfig;
  /** Default: pino at config.logLevel on stderr, or appended to `logFile`. */
  readonly logger?: Logger;
  readonly logFile?: string;
  /** Outputs in addition to the configured ones (tests, embedding). */
  readonly extraOutputs?: readonly AlertOutput[];
  /** Where the stdout output writes (default process.stdout). */
  readonly stdout?: NodeJS.WritableStream;
  /** Pids whose events are dropped in the kernel, besides config.exclusions.pids (e.g. a hub child). */
  readonly excludePids?: readonly number[];
}

export type ReloadTrigger = 'SIGHUP' | 'rules file changed' | 'request';

function outputLogger(logger: Logger): OutputLogger {
  return { info: (m) => logger.info(m), warn: (m) => logger.warn(m), error: (m) => logger.error(m) };
}

/** Logs what a rule set leaves uncovered: rules that cannot fire on this probe. */
function logCoverage(logger: Logger, v: RuleSetVersion): void {
  for (const w of v.warnings) logger.warn(`rules: ${w}`);
  const never = v.uncovered.filter((u) => u.never);
  const partly = v.uncovered.filter((u) => !u.never);
  if (never.length > 0) {
    logger.warn(
      { rules: never.map((u) => u.rule), eventTypes: [...new Set(never.flatMap((u) => u.missing))] },
      `${never.length} rule(s) cannot fire: the probe does not capture their event types (${never.map((u) => `"${u.rule}": ${u.missing.join(', ')}`).join('; ')})`,
    );
  }
  if (partly.length > 0) {
    logger.info(
      { rules: partly.map((u) => u.rule) },
      `${partly.length} rule(s) fire on part of their event types only (not captured: ${[...new Set(partly.flatMap((u) => u.missing))].join(', ')})`,
    );
  }
}

export class Sensor {
  readonly logger: Logger;
  readonly metrics: SensorMetrics;
  readonly hostname: string;
  #metricsServer: Awaited<ReturnType<typeof startMetricsServer>> | undefined;
  readonly #reloadListeners: Array<(r: ReloadResult, trigger: ReloadTrigger) => void> = [];
  readonly #watchers: FSWatcher[] = [];
  #watchTimer: NodeJS.Timeout | undefined;
  #purgeTimer: NodeJS.Timeout | undefined;
  #drops: DropMonitor | undefined;
  #closing: Promise<void> | undefined;
  #lastBatchAt = 0;

  private constructor(
    readonly config: SensorConfig,
    readonly rules: LiveRules,
    readonly source: ProbeSource,
    readonly evaluator: SwappableEvaluator,
    readonly outputs: ReadonlyMap<string, AlertOutput>,
    readonly containers: ContainerRegistry | undefined,
    logger: Logger,
    metrics: SensorMetrics,
    hostname: string,
  ) {
    this.logger = logger;
    this.metrics = metrics;
    this.hostname = hostname;
  }

  /**
   * Loads the rules (RuleLoadError: file:line:col), opens the outputs, the
   * container registry and the probe (ProbePreconditionError when root or BTF
   * is missing), then starts evaluation, drop reporting, metrics and the
   * rules watcher. Anything opened is closed again if a later step fails.
   */
  static async start(opts: SensorStartOptions): Promise<Sensor> {
    const { config } = opts;
    const logger =
      opts.logger ??
      pino(
        { name: 'sensor', level: config.logLevel, redact: ['*.token'] },
        opts.logFile === undefined ? pino.destination(2) : pino.destination({ dest: opts.logFile, append: true, mkdir: true }),
      );
    const hostname = config.hostname ?? osHostname();
    const files = rulesFilesOf(config).map((f) => resolve(f));
    const rules = LiveRules.load(files, { hostname, allMatches: config.ruleMatching === 'all', minimumPriority: config.minimumPriority });
    const first = rules.current;
    logger.info({ files, rules: first.rules.rules.length, syscalls: first.syscalls }, `loaded ${first.rules.rules.length} rule(s) from ${files.join(', ')}`);
    logCoverage(logger, first);
    for (const limitation of findLimitations(gatherFacts())) logger.warn(`capabilities: ${limitation}`);

    const opened: Array<{ close(): unknown }> = [];
    const outputs = new Map<string, AlertOutput>();
    try {
      const olog = outputLogger(logger);
      const o = config.outputs;
      if (o.stdout.enabled) outputs.set('stdout', new StdoutOutput({ format: o.stdout.format, timeFormatIso8601: o.stdout.timeFormatIso8601, stream: opts.stdout, logger: olog }));
      if (o.file.path !== undefined) {
        await mkdir(dirname(resolve(o.file.path)), { recursive: true });
        outputs.set('file', await FileOutput.open({ path: o.file.path, format: o.file.format, fsyncIntervalMs: o.file.fsyncIntervalMs, logger: olog }));
      }
      if (o.hub.url !== undefined) {
        const h = o.hub;
        outputs.set(
          'hub',
          await HubOutput.open({
            url: h.url!,
            token: h.token,
            gzip: h.gzip,
            tls: h.tls,
            requestTimeoutMs: h.requestTimeoutMs,
            maxBatchAlerts: h.maxBatchAlerts,
            maxBatchBytes: h.maxBatchBytes,
            lingerMs: h.lingerMs,
            maxMemoryAlerts: h.maxMemoryAlerts,
            backoffInitialMs: h.backoffInitialMs,
            backoffMaxMs: h.backoffMaxMs,
            retryAfterMaxMs: h.retryAfterMaxMs,
            spoolDir: h.spoolDir,
            spoolMaxBytes: h.spoolMaxBytes,
            spoolWriteDelayMs: h.spoolWriteDelayMs,
            logger: olog,
          }),
        );
      }
      (opts.extraOutputs ?? []).forEach((out, i) => outputs.set(`extra${i}`, out));
      for (const out of outputs.values()) opened.push(out);

      let containers: ContainerRegistry | undefined;
      if (config.containers.enabled) {
        const c = config.containers;
        containers = new ContainerRegistry({
          engines: { docker: c.engines.docker, cri: c.engines.cri },
          containerdNamespaces: c.containerdNamespaces,
          pollIntervalMs: c.pollIntervalMs,
          maxEntries: c.maxEntries,
          logger: logger.child({ name: 'containers' }),
        });
        opened.push(containers);
        // The first poll runs in the background: a slow runtime socket must not hold the probe back.
        void containers.start().catch((err: unknown) => logger.warn({ err }, 'container runtimes: first poll failed'));
      }

      const exclude = {
        self: true,
        pids: [...config.exclusions.pids, ...(opts.excludePids ?? [])],
        comms: config.exclusions.comms,
        pathPrefixes: config.exclusions.pathPrefixes,
      };
      const source = ProbeSource.open({
        syscalls: first.syscalls,
        ringBytes: config.probe.ringBytes,
        batchBytes: config.probe.batchBytes,
        flushMs: config.probe.flushMs,
        whenBehind: config.probe.whenBehind,
        exclude,
        context: liveContext({ containers, maxProcesses: config.state.maxProcesses, maxFds: config.state.maxFdsPerProcess }),
      });
      opened.push(source);

      let sensor: Sensor | undefined;
      const metrics = new SensorMetrics(() => sensor!.snapshot());
      const evaluator = new SwappableEvaluator(first.rules, [...outputs.values()], {
        onAlert: (a: Alert) => metrics.observeAlert(a),
        onBatch: (t) => {
          metrics.batchSeconds.observe(t.seconds);
          metrics.batchEvents.observe(t.events);
          if (sensor) sensor.#lastBatchAt = Date.now();
        },
      }, { containers, hold: { maxWaitMs: config.containers.alertWaitMs } });
      sensor = new Sensor(config, rules, source, evaluator, outputs, containers, logger, metrics, hostname);
      source.start(evaluator.onEvent);
      await sensor.#startServices();
      return sensor;
    } catch (err) {
      for (const o of opened.reverse()) {
        try {
          await o.close();
        } catch {
          // already failing; the first error is the one to report
        }
      }
      throw err;
    }
  }

  async #startServices(): Promise<void> {
    const { config, logger } = this;
    this.#drops = new DropMonitor({
      read: () => {
        const s = this.source.stats().probe;
        return { events: s.kernel.events, kernelDrops: s.kernel.dropsBuffer, userDrops: s.user.drops };
      },
      hostname: this.hostname,
      alert: config.drops.alert,
      log: config.drops.log,
      rate: config.drops.rate,
      maxBurst: config.drops.maxBurst,
      emit: (a) => this.evaluator.emit(a),
      logger,
    });
    const purgeEvery = config.state.purgeIntervalMs;
    this.#purgeTimer = setInterval(() => this.#purge(purgeEvery), purgeEvery);
    this.#purgeTimer.unref();
    if (config.watchRules) this.#watchRules();
    if (config.metrics.enabled) {
      this.#metricsServer = await startMetricsServer(this.metrics, () => this.health(), config.metrics.host, config.metrics.port);
      logger.info({ url: this.#metricsServer.url }, `metrics on ${this.#metricsServer.url}/metrics, health on ${this.#metricsServer.url}/healthz`);
    }
    logger.info(
      { outputs: [...this.outputs.keys()], syscalls: this.rules.current.syscalls.length, hostname: this.hostname },
      `sensor running: ${this.rules.current.syscalls.length} syscalls captured, outputs ${[...this.outputs.keys()].join(', ') || '(none)'}`,
    );
  }

  /** The metrics/health base URL, when the server runs. */
  get metricsUrl(): string | undefined {
    return this.#metricsServer?.url;
  }

  /** Calls `listener` after every reload attempt (successful or not). */
  onReload(listener: (result: ReloadResult, trigger: ReloadTrigger) => void): void {
    this.#reloadListeners.push(listener);
  }

  /**
   * Loads the rules files again. On success the new rules apply from the next
   * batch and the probe's syscall set follows them; on failure (logged with
   * file:line:col) the rules in force stay. The probe keeps running throughout.
   */
  reload(trigger: ReloadTrigger = 'request'): ReloadResult {
    const result = this.rules.reload();
    if (result.ok) {
      this.evaluator.swap(result.version.rules);
      if (result.syscallsChanged && !this.source.closed) this.source.setSyscalls(result.version.syscalls);
      this.metrics.reloads.inc({ result: 'ok' });
      this.logger.info(
        { trigger, generation: result.version.generation, rules: result.version.rules.rules.length, syscalls: result.version.syscalls },
        `rules reloaded (${trigger}): ${result.version.rules.rules.length} rule(s)${result.syscallsChanged ? ', syscall set changed' : ''}`,
      );
      logCoverage(this.logger, result.version);
    } else {
      this.metrics.reloads.inc({ result: 'failed' });
      this.logger.error({ trigger }, `rules reload (${trigger}) failed; the previous rules stay in force:\n${result.error}`);
    }
    for (const l of this.#reloadListeners) l(result, trigger);
    return result;
  }

  /** Watches each rules file's folder (an editor or `mv` replaces the file, which a watch on the file itself would lose). */
  #watchRules(): void {
    const targets = new Map<string, Set<string> | 'any'>();
    for (const f of this.rules.current.files) {
      let isDir = false;
      try {
        isDir = statSync(f).isDirectory();
      } catch {
        // a missing file was already reported by the load
      }
      if (isDir) targets.set(f, 'any');
      else {
        const dir = dirname(f);
        const names = targets.get(dir);
        if (names === 'any') continue;
        targets.set(dir, (names ?? new Set<string>()).add(basename(f)));
      }
    }
    for (const [dir, names] of targets) {
      try {
        const w = watch(dir, { persistent: false }, (_event, filename) => {
          const name = filename?.toString();
          if (names !== 'any' && (name === undefined || !names.has(name))) return;
          if (names === 'any' && name !== undefined && !/\.ya?ml$/.test(name)) return;
          clearTimeout(this.#watchTimer);
          this.#watchTimer = setTimeout(() => this.reload('rules file changed'), RULES_WATCH_DEBOUNCE_MS);
          this.#watchTimer.unref();
        });
        w.on('error', (err) => this.logger.warn({ err, dir }, 'rules watch failed; SIGHUP still reloads'));
        this.#watchers.push(w);
      } catch (err) {
        this.logger.warn({ err, dir }, `cannot watch ${dir} for rules changes; SIGHUP still reloads`);
      }
    }
  }

  /** Drops entries of processes that exited without an exit event (missed under drops). */
  #purge(idleMs: number): void {
    try {
      const nowBootNs = Number(BigInt(Date.now()) * 1_000_000n - bootEpochNs());
      const purged = this.source.context.processes.purgeIdle(nowBootNs - idleMs * 1e6, (pid) => {
        try {
          statSync(`/proc/${pid}`);
          return true;
        } catch {
          return false;
        }
      });
      if (purged > 0) this.logger.debug({ purged }, 'purged state of processes gone without an exit event');
    } catch (err) {
      this.logger.warn({ err }, 'state purge failed');
    }
  }

  /** Counters for metrics, read at scrape time. */
  snapshot(): SensorSnapshot {
    let eventsByType: Record<string, number> = {};
    let kernelDrops = 0;
    let userDrops = 0;
    let malformed = 0;
    if (!this.source.closed) {
      const s = this.source.stats();
      eventsByType = { ...s.probe.kernel.bySyscall };
      kernelDrops = s.probe.kernel.dropsBuffer;
      userDrops = s.probe.user.drops;
      malformed = s.walk.malformed;
    }
    const t = this.source.context.processes.stats();
    const outputs: Record<string, Record<string, number>> = {};
    for (const [name, out] of this.outputs) outputs[name] = out.stats();
    const v = this.rules.current;
    return {
      eventsByType,
      eventsEvaluated: this.evaluator.stats.events,
      kernelDrops,
      userDrops,
      malformedRecords: malformed,
      processes: t.processes,
      fds: t.fds,
      evictedProcesses: t.evictedProcesses,
      containers: this.containers?.stats(),
      outputs,
      rulesLoaded: v.rules.rules.length,
      rulesGeneration: v.generation,
      reloadFailures: this.rules.failedReloads,
    };
  }

  /** /healthz: ok while the probe runs. */
  health(): Health {
    const v = this.rules.current;
    const hub = this.outputs.get('hub')?.stats();
    return {
      ok: !this.source.closed && this.#closing === undefined,
      probe: this.source.closed ? 'closed' : 'running',
      rules: { generation: v.generation, loaded: v.rules.rules.length, files: v.files, failedReloads: this.rules.failedReloads },
      events: this.evaluator.stats.events,
      alerts: this.evaluator.stats.alerts,
      lastBatchSecondsAgo: this.#lastBatchAt === 0 ? null : (Date.now() - this.#lastBatchAt) / 1000,
      ...(hub ? { spool: { alerts: hub.spoolAlerts ?? 0, bytes: hub.spoolBytes ?? 0, oldestAgeSeconds: hub.spoolOldestAgeSeconds ?? 0 } } : {}),
    };
  }

  /** Detaches the probe (no BPF program or link left), then flushes and closes outputs, registry and server. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    clearTimeout(this.#watchTimer);
    clearInterval(this.#purgeTimer);
    for (const w of this.#watchers) w.close();
    this.#drops?.check();
    this.#drops?.close();
    this.source.close();
    // Alerts still waiting for container metadata go out as they are, before the outputs close.
    this.evaluator.drainHeld();
    const problems: unknown[] = [];
    for (const [name, out] of this.outputs) {
      try {
        await out.close();
      } catch (err) {
        problems.push(err);
        this.logger.error({ err, output: name }, `closing the ${name} output failed`);
      }
    }
    await this.containers?.close();
    await this.#metricsServer?.close();
    if (problems.length > 0) throw problems[0];
  }
}
