/**
 * The rules in force in a running sensor, and their reload: a new set is
 * loaded and compiled completely before it replaces the old one, so a broken
 * file (reported with file:line:col) leaves the old rules in force. The probe's
 * syscall set follows the rules (Falco's adaptive set) plus what the state
 * tables need.
 */
import { SYSCALL_BY_NAME, STATE_SYSCALLS, SYSCALLS } from '@peregrine/native';
import { RuleLoadError, formatDiagnostic, type Diagnostic } from '@peregrine/rules';
import { loadSyscallRules, syscallsForRules, type SyscallRules, type SyscallRulesOptions } from './rules.ts';

/**
 * Syscalls the process and fd tables need whatever the rules use, like
 * Falco's base set: opens name fds, close/dup* move them, sockets get their
 * ends from socket/connect/accept/listen. fork/exec/exit come from the sched
 * tracepoints. Names the probe does not capture (yet) are left out, and
 * @peregrine/native's STATE_SYSCALLS are always added.
 */
export const SENSOR_STATE_SYSCALLS: readonly string[] = [
  'open', 'openat', 'openat2', 'creat',
  'close', 'dup', 'dup2', 'dup3', 'fcntl',
  'socket', 'socketpair', 'connect', 'accept', 'accept4', 'listen', 'bind',
  'pipe', 'pipe2', 'chdir', 'fchdir', 'execve', 'execveat',
];

/** A rule whose event types the probe does not capture (in part or at all). */
export interface RuleCoverage {
  readonly rule: string;
  /** Event types of the rule the probe does not capture. */
  readonly missing: readonly string[];
  /** True when none of its event types is captured: it can never fire. */
  readonly never: boolean;
}

/** One loaded, compiled rule set with the probe's syscall set for it. */
export interface RuleSetVersion {
  /** 1 for the set loaded at start, +1 per successful reload. */
  readonly generation: number;
  readonly files: readonly string[];
  readonly rules: SyscallRules;
  /** Syscalls for the probe: the rules' + state's, in the probe's table order. */
  readonly syscalls: readonly string[];
  /** Event types the rules use that the probe does not capture. */
  readonly unsupported: readonly string[];
  /** Rules that cannot fire, or only partly, because of those. */
  readonly uncovered: readonly RuleCoverage[];
  readonly warnings: readonly string[];
  readonly loadedAt: Date;
}

export type ReloadResult =
  | { readonly ok: true; readonly version: RuleSetVersion; readonly syscallsChanged: boolean }
  | { readonly ok: false; readonly error: string; readonly diagnostics: readonly Diagnostic[]; readonly version: RuleSetVersion };

function stateSyscalls(): string[] {
  const wanted = new Set<string>([...STATE_SYSCALLS, ...SENSOR_STATE_SYSCALLS]);
  return SYSCALLS.map((s) => s.name).filter((n) => wanted.has(n) && SYSCALL_BY_NAME.has(n));
}

/** Compiles the files into a version; throws RuleLoadError (file:line:col) when they do not load. */
export function compileRuleSet(files: readonly string[], opts: SyscallRulesOptions, generation: number): RuleSetVersion {
  const { rules, loaded } = loadSyscallRules(files, opts);
  const set = syscallsForRules(rules);
  const state = new Set(stateSyscalls());
  const syscalls = SYSCALLS.map((s) => s.name).filter((n) => state.has(n) || set.syscalls.includes(n));
  const unsupported = new Set(set.unsupported);
  const uncovered: RuleCoverage[] = [];
  for (const r of rules.rules) {
    if (r.eventTypes === 'all') continue;
    const missing = [...r.eventTypes].filter((t) => unsupported.has(t));
    if (missing.length > 0) uncovered.push({ rule: r.name, missing, never: missing.length === r.eventTypes.size });
  }
  return {
    generation,
    files: [...files],
    rules,
    syscalls,
    unsupported: [...unsupported],
    uncovered,
    warnings: loaded.warnings.map(formatDiagnostic),
    loadedAt: new Date(),
  };
}

/** The current rule set of a running sensor and its reload. */
export class LiveRules {
  #current: RuleSetVersion;
  readonly #options: SyscallRulesOptions;
  #failedReloads = 0;

  private constructor(first: RuleSetVersion, options: SyscallRulesOptions) {
    this.#current = first;
    this.#options = options;
  }

  /** Loads the first set; throws RuleLoadError when the files do not load. */
  static load(files: readonly string[], options: SyscallRulesOptions = {}): LiveRules {
    return new LiveRules(compileRuleSet(files, options, 1), options);
  }

  get current(): RuleSetVersion {
    return this.#current;
  }

  get failedReloads(): number {
    return this.#failedReloads;
  }

  /**
   * Loads the files again (or `files`, when given). On success the new set
   * becomes current; on failure the old one stays and the error, with
   * file:line:col, is returned. Synchronous: the caller runs it between
   * batches, so no event is evaluated half by one set and half by the other.
   */
  reload(files: readonly string[] = this.#current.files): ReloadResult {
    const old = this.#current;
    try {
      const next = compileRuleSet(files, this.#options, old.generation + 1);
      this.#current = next;
      const syscallsChanged = next.syscalls.length !== old.syscalls.length || next.syscalls.some((s, i) => s !== old.syscalls[i]);
      return { ok: true, version: next, syscallsChanged };
    } catch (err) {
      this.#failedReloads++;
      if (err instanceof RuleLoadError) {
        const errors = err.diagnostics.filter((d) => d.severity === 'error');
        return { ok: false, error: errors.map(formatDiagnostic).join('\n') || err.message, diagnostics: err.diagnostics, version: old };
      }
      return { ok: false, error: (err as Error).message, diagnostics: [], version: old };
    }
  }
}
