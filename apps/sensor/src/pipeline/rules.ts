/**
 * Rules for syscall events: load files in order (as Falco does), compile them
 * against the syscall extractor, and derive the syscall set the probe must
 * capture (the rules' event types plus what state needs).
 */
import type { Priority } from '@peregrine/alert';
import { adaptiveSyscalls, DEFAULT_SYSCALLS } from '@peregrine/native';
import { compileRules, loadRuleFiles, type CompiledRules, type LoadedRules } from '@peregrine/rules';
import { hostname as osHostname } from 'node:os';
import type { SyscallEvent } from '../extract/syscall-event.ts';
import { syscallExtractor } from '../extract/syscall-extractor.ts';
import { createAlertRerenderer, type AlertRerenderer } from './container-hold.ts';

export interface SyscallRulesOptions {
  /** Hostname in alerts. */
  readonly hostname?: string;
  /** Report every matching rule (Falco rule_matching: all); default first. */
  readonly allMatches?: boolean;
  /** Falco's `priority`: rules less severe are not enabled. Default Debug (all). */
  readonly minimumPriority?: Priority;
}

export type SyscallRules = CompiledRules<SyscallEvent> & {
  /** Renders a rule's alert again from recorded values (alerts held for their container's metadata). */
  readonly rerenderer?: AlertRerenderer;
};

/** Loads and compiles rules files for syscall events; errors name the file, line and column. */
export function compileSyscallRules(files: readonly string[], opts: SyscallRulesOptions = {}): SyscallRules {
  return loadSyscallRules(files, opts).rules;
}

/** As compileSyscallRules, also returning what the loader found (warnings, counts). */
export function loadSyscallRules(files: readonly string[], opts: SyscallRulesOptions = {}): { rules: SyscallRules; loaded: LoadedRules } {
  const loaded = loadRuleFiles([...files]);
  const hostname = opts.hostname ?? osHostname();
  const compiled = compileRules(loaded, syscallExtractor(), {
    hostname,
    ruleMatching: opts.allMatches ? 'all' : 'first',
    minimumPriority: opts.minimumPriority,
  });
  const rules: SyscallRules = Object.assign(compiled, { rerenderer: createAlertRerenderer(loaded.rules, { hostname }) });
  return { rules, loaded };
}

export interface SyscallSet {
  /** Syscalls for the probe, in the probe's table order. */
  readonly syscalls: string[];
  /** Event types the rules use that this probe does not capture (their rules cannot fire). */
  readonly unsupported: string[];
}

/** The syscalls the probe must capture for these rules (Falco's adaptive syscall set). */
export function syscallsForRules(rules: SyscallRules): SyscallSet {
  if (rules.matchesAllEventTypes) return { syscalls: [...DEFAULT_SYSCALLS], unsupported: [] };
  return adaptiveSyscalls(rules.eventTypes);
}
