import { z } from 'zod';
import { PRIORITIES, parsePriority } from '@peregrine/alert';
import type { Priority } from '@peregrine/alert';

/**
 * The sensor's whole configuration (`peregrine sensor --config FILE`, YAML).
 * Command-line options override single keys. Every default sits next to its
 * key; docs/sensor.md's reference is generated from the `.describe()` texts.
 */

const priority = z.string().transform((text, ctx): Priority => {
  const p = parsePriority(text);
  if (p === undefined) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `unknown priority "${text}"; use one of ${PRIORITIES.join(', ')}` });
    return z.NEVER;
  }
  return p;
});

const ms = (what: string) => z.number().int().nonnegative().describe(what);
const positive = (what: string) => z.number().int().positive().describe(what);
const absolutePath = z.string().min(1).refine((p) => p.startsWith('/'), 'must be an absolute path (start with /)');

const stdoutSchema = z
  .object({
    enabled: z.boolean().default(true).describe('Print alerts on stdout (Falco `stdout_output`).'),
    format: z.enum(['text', 'json']).default('text').describe('`text`: Falco\'s `HH:MM:SS.nnnnnnnnn: Priority output` line; `json`: one Falco JSON alert per line.'),
    timeFormatIso8601: z.boolean().default(false).describe('Falco\'s `time_format_iso_8601` for text lines.'),
  })
  .strict();

const fileSchema = z
  .object({
    path: z.string().min(1).optional().describe('Append alerts to this file (its folder is created if missing). Absent: no file output.'),
    format: z.enum(['json', 'text']).default('json').describe('`json`: JSONL, one Falco JSON alert per line; `text`: Falco\'s text lines.'),
    fsyncIntervalMs: ms('Written lines reach the disk (fdatasync) at most this long after they were written; 0: after every write.').default(1000),
  })
  .strict();

const hubTlsSchema = z
  .object({
    caFile: z.string().min(1).optional().describe('PEM CA bundle that signed the hub\'s certificate (added to the system CAs).'),
    certFile: z.string().min(1).optional().describe('PEM client certificate when the hub requires mutual TLS (with keyFile).'),
    keyFile: z.string().min(1).optional().describe('PEM private key of certFile.'),
    checkCert: z.boolean().default(true).describe('Verify the hub\'s certificate and name. false is for tests only.'),
  })
  .strict()
  .superRefine((tls, ctx) => {
    if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: [tls.certFile === undefined ? 'certFile' : 'keyFile'], message: 'certFile and keyFile go together (mutual TLS)' });
    }
  });

const hubSchema = z
  .object({
    url: z
      .string()
      .url('must be an absolute URL such as http://127.0.0.1:2801')
      .refine((u) => /^https?:\/\//.test(u), 'must start with http:// or https://')
      .optional()
      .describe('The hub\'s base URL; alerts are posted to `<url>/v1/alerts`. Absent: no hub output.'),
    token: z.string().min(1).optional().describe('Bearer token (one of the hub\'s `auth.tokens`). `${env:NAME}` reads it from the environment.'),
    gzip: z.boolean().default(true).describe('gzip request bodies.'),
    tls: hubTlsSchema.optional().describe('TLS settings for an https:// hub.'),
    requestTimeoutMs: positive('A request without an answer by then counts as the hub being away.').default(10_000),
    maxBatchAlerts: positive('Most alerts per request.').default(1000),
    maxBatchBytes: positive('A batch closes once its JSON reaches this many bytes (the hub\'s default body limit is 10 MiB).').default(4 * 1024 * 1024),
    lingerMs: ms('An alert waits at most this long for others to share its request.').default(50),
    maxMemoryAlerts: positive('Alerts held in memory for a slow hub before newer ones go to the spool.').default(20_000),
    backoffInitialMs: positive('First retry delay; doubles per failed attempt, with jitter.').default(500),
    backoffMaxMs: positive('Upper bound of one retry delay.').default(30_000),
    retryAfterMaxMs: positive('The hub\'s Retry-After is honoured up to this.').default(300_000),
    spoolDir: z.string().min(1).default('/var/lib/peregrine/spool').describe('Folder of the on-disk spool where alerts wait while the hub is away (one per sensor; created if missing).'),
    spoolMaxBytes: positive('Bound of the spool on disk; past it the oldest alerts are dropped (counted, logged).').default(256 * 1024 * 1024),
    spoolWriteDelayMs: ms('While spooling, alerts emitted within this long share one write + fdatasync.').default(100),
  })
  .strict();

const engineSchema = (name: string) =>
  z
    .object({
      enabled: z.boolean().default(true).describe(`Ask ${name} for container metadata.`),
      sockets: z.array(absolutePath).default([]).describe(`${name} API unix sockets; empty: the defaults.`),
    })
    .strict();

const containersSchema = z
  .object({
    enabled: z.boolean().default(true).describe('Container metadata from the runtimes (container.name, image, k8s.*). false: container.id from cgroups only.'),
    engines: z
      .object({
        docker: engineSchema('the Docker Engine').default({}).describe('Docker Engine API (default socket /var/run/docker.sock).'),
        cri: engineSchema('the CRI runtime').default({}).describe('CRI gRPC API of containerd / cri-o (default sockets: containerd\'s, cri-o\'s, k3s\'s).'),
      })
      .strict()
      .default({})
      .describe('As Falco\'s container plugin `engines`.'),
    containerdNamespaces: z.array(z.string().min(1)).default(['default', 'k8s.io']).describe('containerd namespaces whose cgroups name plain containerd containers.'),
    pollIntervalMs: ms('How often the runtimes\' container lists are polled (new containers known before their first event); 0: never.').default(1000),
    maxEntries: positive('Containers remembered at most (least recently used go first).').default(4096),
    alertWaitMs: ms(
      'How long an alert of a container whose metadata is still being looked up waits for it (events never wait; alerts of the host and of known containers never wait; per container, alerts keep their order); 0: never wait.',
    ).default(2000),
  })
  .strict();

const stateSchema = z
  .object({
    maxProcesses: positive('Process table bound: past it the least recently active entries are dropped.').default(65_536),
    maxFdsPerProcess: positive('Fd slots kept per process; older ones are forgotten past this.').default(1024),
    purgeIntervalMs: positive('How often entries of processes that exited without an exit event are purged.').default(60_000),
  })
  .strict();

const probeSchema = z
  .object({
    ringBytes: z
      .number()
      .int()
      .min(4096)
      .refine((n) => (n & (n - 1)) === 0, 'must be a power of two')
      .default(8 * 1024 * 1024)
      .describe('Kernel ring buffer size in bytes (a power of two; Falco\'s default buffer is 8 MiB).'),
    batchBytes: z.number().int().min(65_536).default(1024 * 1024).describe('Size of one batch handed to JS.'),
    flushMs: positive('A partly filled batch is delivered once its first record is this old.').default(5),
    whenBehind: z.enum(['block', 'drop']).default('block').describe('When JS holds every batch: `block` (the kernel ring fills; kernel drops) or `drop` (user-space drops). Both are counted and reported.'),
  })
  .strict();

const exclusionsSchema = z
  .object({
    pids: z.array(z.number().int().positive()).default([]).describe('Processes whose events are dropped in the kernel (the sensor\'s own process always is).'),
    comms: z.array(z.string().min(1).max(15)).default([]).describe('Task names (comm, 15 characters) whose events are dropped in the kernel.'),
    pathPrefixes: z
      .array(
        z
          .object({
            prefix: absolutePath.describe('Absolute path prefix.'),
            syscall: z.string().min(1).optional().describe('Only for this syscall; absent: every path-taking syscall.'),
          })
          .strict(),
      )
      .default([])
      .describe('Events whose first path starts with a prefix are dropped in the kernel, e.g. `{prefix: /proc/}`.'),
  })
  .strict();

const dropsSchema = z
  .object({
    alert: z.boolean().default(true).describe('Emit Falco\'s internal alert `Falco internal: syscall event drop` (priority Debug) when events were dropped (Falco `syscall_event_drops.actions: [alert]`).'),
    log: z.boolean().default(true).describe('Log drops (Falco `actions: [log]`).'),
    rate: z.number().positive().default(1 / 30).describe('Drop alerts per second allowed in the long run (token bucket; Falco `syscall_event_drops.rate`).'),
    maxBurst: positive('Token bucket size (Falco `syscall_event_drops.max_burst`).').default(1),
  })
  .strict();

const metricsSchema = z
  .object({
    enabled: z.boolean().default(true).describe('Serve /metrics (Prometheus) and /healthz.'),
    host: z.string().min(1).default('127.0.0.1').describe('Address to bind (loopback by default; 0.0.0.0 for a Prometheus elsewhere).'),
    port: z.number().int().min(0).max(65535).default(8765).describe('TCP port; 0 picks a free one.'),
  })
  .strict();

export const sensorConfigSchema = z
  .object({
    rules: z
      .array(z.string().min(1))
      .default([])
      .describe('Rules files (or folders of them), loaded in order as Falco does. Empty: Peregrine\'s default rules (packages/rules/rules/peregrine_rules.yaml). `--rules` replaces this list.'),
    watchRules: z.boolean().default(true).describe('Reload the rules when one of the files changes (SIGHUP always reloads).'),
    ruleMatching: z.enum(['first', 'all']).default('first').describe('Falco `rule_matching`: report the first matching rule per event, or all.'),
    minimumPriority: priority.default('debug').describe('Falco `priority`: rules less severe are not loaded.'),
    hostname: z.string().min(1).optional().describe('`hostname` of alerts; default: the machine\'s.'),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info').describe('pino log level (logs go to stderr).'),
    outputs: z
      .object({
        stdout: stdoutSchema.default({}).describe('Alerts on stdout.'),
        file: fileSchema.default({}).describe('Alerts appended to a file.'),
        hub: hubSchema.default({}).describe('Alerts posted to a Peregrine hub (batches, gzip, TLS, retries, on-disk spool).'),
      })
      .strict()
      .default({}),
    containers: containersSchema.default({}).describe('Container metadata.'),
    state: stateSchema.default({}).describe('Bounds of the process and fd tables.'),
    probe: probeSchema.default({}).describe('The eBPF probe.'),
    exclusions: exclusionsSchema.default({}).describe('Events dropped in the kernel, never seen by the rules.'),
    drops: dropsSchema.default({}).describe('How dropped events are reported.'),
    metrics: metricsSchema.default({}).describe('Metrics and health endpoint.'),
  })
  .strict();

export type SensorConfigInput = z.input<typeof sensorConfigSchema>;
export type SensorConfig = z.output<typeof sensorConfigSchema>;
