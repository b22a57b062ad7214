/**
 * What must hold before the probe can load, checked up front so the user gets
 * one actionable message instead of a libbpf errno.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

export const CAP_DAC_OVERRIDE = 1;
export const CAP_DAC_READ_SEARCH = 2;
export const CAP_SYS_PTRACE = 19;
export const CAP_SYS_ADMIN = 21;
export const CAP_PERFMON = 38;
export const CAP_BPF = 39;
export const TRACEFS = '/sys/kernel/tracing';
export const BTF_PATH = '/sys/kernel/btf/vmlinux';

export interface HostFacts {
  readonly platform: string;
  readonly euid: number;
  /** CapEff from /proc/self/status. */
  readonly capEff: bigint;
  readonly btf: boolean;
  readonly tracefs: boolean;
}

export class ProbePreconditionError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`the eBPF probe cannot start:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ProbePreconditionError';
  }
}

const hasCap = (caps: bigint, cap: number): boolean => ((caps >> BigInt(cap)) & 1n) === 1n;

/** Pure check of gathered facts; returns one readable problem per failed precondition. */
export function findProblems(f: HostFacts): string[] {
  const problems: string[] = [];
  if (f.platform !== 'linux') return [`the probe needs Linux (this is ${f.platform})`];
  const bpfOk = hasCap(f.capEff, CAP_BPF) || hasCap(f.capEff, CAP_SYS_ADMIN);
  const perfOk = hasCap(f.capEff, CAP_PERFMON) || hasCap(f.capEff, CAP_SYS_ADMIN);
  if (!bpfOk || !perfOk) {
    const missing = [!bpfOk ? 'CAP_BPF' : '', !perfOk ? 'CAP_PERFMON' : ''].filter(Boolean).join(' and ');
    // Root without them means a container engine or a bounding set took them away: "run as root" would not help.
    problems.push(
      f.euid === 0
        ? `missing ${missing} (euid 0): root, but the capability bounding set or the container engine removed them; grant them, ` +
            `e.g. docker run --cap-add BPF --cap-add PERFMON (Docker >= 23; --privileged on older engines), ` +
            `securityContext.capabilities.add: [BPF, PERFMON] in Kubernetes, or setcap cap_bpf,cap_perfmon+ep "$(command -v node)" ` +
            `(CAP_SYS_ADMIN instead on kernels < 5.8)`
        : `missing ${missing} (euid ${f.euid}): run as root, or grant them, e.g. ` +
            `setcap cap_bpf,cap_perfmon+ep "$(command -v node)" or securityContext.capabilities.add: [BPF, PERFMON] in Kubernetes`,
    );
  }
  if (!f.btf) {
    problems.push(
      `no kernel BTF at ${BTF_PATH}: the CO-RE probe needs a kernel built with CONFIG_DEBUG_INFO_BTF=y (most distributions since 5.8); ` +
        `in a container, mount the host's /sys/kernel/btf there (read-only)`,
    );
  }
  if (!f.tracefs) {
    problems.push(
      `tracefs is not mounted at ${TRACEFS} and could not be mounted: run mount -t tracefs nodev ${TRACEFS}, ` +
        `or, in a container, mount the host's ${TRACEFS} there (read-only)`,
    );
  }
  return problems;
}

/**
 * What the sensor can do without, but not fully: a warning naming the missing
 * capabilities that cost fields. Reading /proc/<pid>/{exe,cwd,root,fd} of a
 * process owned by another user, or holding capabilities the sensor lacks (even
 * as root: PID 1), takes CAP_SYS_PTRACE (ptrace access mode read); listing the
 * fd folder of another user's process takes CAP_DAC_READ_SEARCH (or DAC_OVERRIDE).
 */
export function findLimitations(f: HostFacts): string[] {
  if (f.platform !== 'linux') return [];
  const missing = [
    hasCap(f.capEff, CAP_SYS_PTRACE) ? '' : 'CAP_SYS_PTRACE',
    hasCap(f.capEff, CAP_DAC_READ_SEARCH) || hasCap(f.capEff, CAP_DAC_OVERRIDE) ? '' : 'CAP_DAC_READ_SEARCH',
  ].filter(Boolean);
  if (missing.length === 0) return [];
  const names = missing.map((m) => m.slice(4));
  return [
    `missing ${missing.join(' and ')}: the sensor runs, but cannot read the /proc entries (exe, cwd, root, fd) of processes ` +
      `owned by other users or holding capabilities it lacks (PID 1, most daemons), so their alerts lack what those give (proc.exepath, proc.cwd, fd.name of files opened before the sensor started, ` +
      `user names inside their containers); grant ${missing.length === 1 ? 'it' : 'them'}, e.g. docker run ${names.map((n) => `--cap-add ${n}`).join(' ')} ` +
      `or securityContext.capabilities.add: [${names.join(', ')}] in Kubernetes`,
  ];
}

function readCapEff(): bigint {
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
    return m ? BigInt(`0x${m[1]}`) : 0n;
  } catch {
    return 0n;
  }
}

/** True when /proc/self/mountinfo lists a tracefs mount at TRACEFS (readable without privileges). */
export function tracefsMounted(mountinfo?: string): boolean {
  let text = mountinfo;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/mountinfo', 'utf8');
    } catch {
      return false;
    }
  }
  return text.split('\n').some((line) => {
    const fields = line.split(' ');
    const sep = fields.indexOf('-');
    return fields[4] === TRACEFS && sep > 0 && fields[sep + 1] === 'tracefs';
  });
}

/** Mounts tracefs when it is absent and we are allowed to; returns whether it is there now. */
export function ensureTracefs(): boolean {
  if (tracefsMounted()) return true;
  if (!existsSync(TRACEFS)) return false;
  const r = spawnSync('mount', ['-t', 'tracefs', 'nodev', TRACEFS], { stdio: 'ignore' });
  return r.status === 0 && tracefsMounted();
}

export function gatherFacts(): HostFacts {
  const euid = typeof process.geteuid === 'function' ? process.geteuid() : -1;
  return {
    platform: process.platform,
    euid,
    capEff: readCapEff(),
    btf: existsSync(BTF_PATH),
    tracefs: process.platform === 'linux' ? ensureTracefs() : false,
  };
}

export function assertPreconditions(): void {
  const problems = findProblems(gatherFacts());
  if (problems.length > 0) throw new ProbePreconditionError(problems);
}
