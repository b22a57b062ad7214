/**
 * The names `evt.type` may be compared with. libs accepts the event table's
 * names and every syscall name it knows (generic syscall events); anything
 * else is "unknown event type X" at load time, which catches typos such as
 * `evt.type = opnat` that would otherwise make a rule silently never fire.
 */
import { RULE_EVENT_TYPES, SYSCALL_NAMES } from './table.generated.ts';

/** libs event-table names that are not (or not only) syscall names. */
const INTERNAL_EVENT_NAMES = [
  'syscall',
  'procexit',
  'switch',
  'signaldeliver',
  'procinfo',
  'container',
  'notification',
  'infra',
  'page_fault',
  'cpu_hotplug',
  'drop',
  'sysdigevent',
  'pluginevent',
  'asyncevent',
  'tracer',
  'mesos',
  'k8s',
  'scapevent',
  'send',
  'recv',
  'pread',
  'pwrite',
  'llseek',
  'umount',
  'signalfd',
  'eventfd',
  'inotify_init',
  'pipe',
  'stat64',
  'lstat64',
  'fstat64',
  'fcntl64',
  'mmap2',
  'socketcall',
  'old_select',
  'oldselect',
  'setresuid32',
  'setresgid32',
  'setuid32',
  'setgid32',
  'getuid32',
  'geteuid32',
  'getgid32',
  'getegid32',
  'getresuid32',
  'getresgid32',
  'chown32',
  'lchown32',
  'fchown32',
  'sendfile64',
  'openat2',
  'clone3',
];

const KNOWN: ReadonlySet<string> = new Set([...SYSCALL_NAMES, ...RULE_EVENT_TYPES, ...INTERNAL_EVENT_NAMES]);

/** True when `name` is an event or syscall name libs knows (`evt.type = name` compiles). */
export function isKnownEventType(name: string): boolean {
  return KNOWN.has(name);
}

/** Every known event type name, sorted. */
export function knownEventTypes(): string[] {
  return [...KNOWN].sort();
}
