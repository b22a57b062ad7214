/**
 * The synthetic event mix for bench/rules: field-map events shaped like a busy
 * Kubernetes node's syscall stream. Deterministic (seeded) so runs compare.
 *
 * Mix (share of events):
 *   35% openat/open reads and writes (mostly /proc, /usr/lib, /tmp; a few /etc/shadow)
 *   15% execve (sh/bash/python/curl/…; half in containers; varied parents)
 *   10% connect (IPv4 to cluster and public addresses)
 *    5% sendto / sendmsg
 *    5% dup2, 2% ptrace, 3% socket, 2% symlinkat/linkat
 *   23% close/read/write/mmap/futex (types no stable rule asks for)
 */
import { fieldMapEvent, type FieldMapEvent, type FieldMapValue } from '@peregrine/rules';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 0x100000000;
  };
}

const PATHS = ['/proc/self/status', '/usr/lib/x86_64-linux-gnu/libc.so.6', '/tmp/build.log', '/etc/hosts', '/etc/shadow', '/var/log/app.log', '/home/app/.bashrc', '/dev/shm/x'];
const PROCS = ['bash', 'sh', 'python3', 'node', 'curl', 'nginx', 'java', 'cat', 'sshd', 'kubelet', 'containerd', 'nc'];
const PARENTS = [['bash', 'sshd', 'systemd'], ['runc:[1:CHILD]', 'containerd-shim', 'systemd'], ['node', 'bash', 'containerd-shim'], ['httpd', 'systemd'], ['kubelet', 'systemd']];
const IDLE_TYPES = ['close', 'read', 'write', 'mmap', 'futex'];

export function makeEvents(count: number, seed = 42): FieldMapEvent[] {
  const r = rng(seed);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const events: FieldMapEvent[] = [];
  for (let i = 0; i < count; i++) {
    const name = pick(PROCS);
    const ancestors = pick(PARENTS);
    const inContainer = r() < 0.5;
    const base: Record<string, unknown> = {
      'evt.num': i + 1,
      'evt.time': 1_750_000_000_000_000_000n + BigInt(i) * 1000n,
      'proc.name': name,
      'proc.exe': name,
      'proc.exepath': `/usr/bin/${name}`,
      'proc.cmdline': `${name} -c id`,
      'proc.args': '-c id',
      'proc.pname': ancestors[0],
      'proc.pcmdline': `${ancestors[0]}`,
      'proc.aname': ancestors,
      'proc.pid': 1000 + (i % 5000),
      'proc.tty': r() < 0.1 ? 34816 : 0,
      'proc.cwd': '/app/',
      'user.name': r() < 0.7 ? 'root' : 'app',
      'user.uid': 0,
      'user.loginuid': -1,
      'container.id': inContainer ? 'a1b2c3d4e5f6' : 'host',
      'container.name': inContainer ? 'web' : 'host',
      'container.image.repository': inContainer ? 'docker.io/library/nginx' : null,
      'k8s.ns.name': inContainer ? 'default' : null,
      'k8s.pod.name': inContainer ? 'web-7d4b9' : null,
    };
    const x = r();
    let fields: Record<string, unknown>;
    if (x < 0.35) {
      const path = pick(PATHS);
      const writeOpen = r() < 0.3;
      fields = {
        ...base,
        'evt.type': r() < 0.9 ? 'openat' : 'open',
        'evt.is_open_read': !writeOpen,
        'evt.is_open_write': writeOpen,
        'evt.arg.flags': writeOpen ? 'O_WRONLY|O_CREAT' : 'O_RDONLY',
        'fd.typechar': 'f',
        'fd.num': 3,
        'fd.name': path,
        'fd.directory': path.slice(0, path.lastIndexOf('/')) || '/',
        'fd.filename': path.slice(path.lastIndexOf('/') + 1),
        'evt.res': 'SUCCESS',
        'evt.rawres': 3,
      };
    } else if (x < 0.5) {
      fields = { ...base, 'evt.type': 'execve', 'evt.res': 'SUCCESS', 'evt.rawres': 0 };
    } else if (x < 0.6) {
      fields = {
        ...base, 'evt.type': 'connect', 'fd.typechar': '4', 'fd.l4proto': 'tcp', 'fd.sip': r() < 0.5 ? '10.96.0.1' : '93.184.216.34',
        'fd.sport': r() < 0.5 ? 443 : 22, 'fd.ip': '10.96.0.1', 'fd.connected': true, 'evt.rawres': 0, 'evt.res': 'SUCCESS', 'fd.name': '10.0.0.5:40000->10.96.0.1:443',
      };
    } else if (x < 0.65) {
      fields = { ...base, 'evt.type': r() < 0.5 ? 'sendto' : 'sendmsg', 'fd.typechar': '4', 'fd.l4proto': 'udp', 'fd.connected': false, 'fd.name_changed': false, 'evt.rawres': 10 };
    } else if (x < 0.7) {
      fields = { ...base, 'evt.type': 'dup2', 'fd.typechar': '4', 'fd.num': 1, 'evt.rawres': 1 };
    } else if (x < 0.72) {
      fields = { ...base, 'evt.type': 'ptrace', 'evt.arg.request': 'PTRACE_PEEKDATA', 'evt.rawres': 0 };
    } else if (x < 0.75) {
      fields = { ...base, 'evt.type': 'socket', 'evt.arg.domain': 'AF_INET', 'evt.rawres': 4 };
    } else if (x < 0.77) {
      fields = { ...base, 'evt.type': r() < 0.5 ? 'symlinkat' : 'linkat', 'evt.arg.target': '/tmp/a', 'evt.arg.linkpath': '/tmp/b', 'evt.rawres': 0 };
    } else {
      fields = { ...base, 'evt.type': pick(IDLE_TYPES), 'fd.num': 3, 'evt.rawres': 0 };
    }
    // Absent fields are absent keys; built without `delete` so objects keep fast properties.
    const present: Record<string, FieldMapValue> = {};
    for (const k of Object.keys(fields)) if (fields[k] !== null) present[k] = fields[k] as FieldMapValue;
    events.push(fieldMapEvent(present));
  }
  return events;
}
