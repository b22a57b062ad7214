/**
 * The rules engine's FieldExtractor over syscall events (live or replayed):
 * evt.*, proc.*, thread.*, user.*, group.*, fd.*, fs.path.*, container.* and
 * k8s.* with libsinsp's semantics, read from the raw record and the state
 * tables. Accessors are built once per field reference at compile time; per
 * event each is one closure call that reads the tables (nothing is copied).
 * A field the sensor cannot know is `undefined` (Falco's missing / <NA>):
 * see CANNOT_KNOW for the ones that are always missing on this probe.
 */
import type { FieldAccessor, FieldExtractor, FieldRef, FieldValue } from '@peregrine/rules';
import type { ContainerInfo } from '../containers/index.ts';
import type { FdView, SyscallEvent } from './syscall-event.ts';
import type { ProcessInfo } from '../state/process-table.ts';
import { errnoText } from './falco-args.ts';

/**
 * Fields the upstream rules use that this probe and sensor cannot answer;
 * they always extract as missing, never a guess. Why, per field:
 */
export const CANNOT_KNOW: Readonly<Record<string, string>> = {
  // No DNS tracking: Falco fills these from its own resolver of observed names.
  'fd.cip.name': 'no DNS name tracking',
  'fd.sip.name': 'no DNS name tracking',
  'fd.lip.name': 'no DNS name tracking',
  'fd.rip.name': 'no DNS name tracking',
};

const missing: FieldAccessor<SyscallEvent> = () => undefined;

/** Falco's execve `flags` bits (PPM_EXE_*), as the probe reports them at exec. */
const EXE_WRITABLE = 1;
const EXE_UPPER_LAYER = 2;
const EXE_FROM_MEMFD = 4;

/** True when the extractor answers this field at all (not a field it has never heard of). */
export function extractorKnows(field: FieldRef): boolean {
  return CANNOT_KNOW[field.name] === undefined && syscallExtractor().accessor(field) !== missing;
}

function cmdline(p: ProcessInfo | undefined): string | undefined {
  if (!p) return undefined;
  return p.args.length > 0 ? `${p.name} ${p.args.join(' ')}` : p.name;
}

function loginuid(p: ProcessInfo): number | undefined {
  if (p.loginuid === undefined) return undefined;
  return p.loginuid === 0xffffffff ? -1 : p.loginuid;
}

function envValue(p: ProcessInfo, name: string): string | undefined {
  const prefix = `${name}=`;
  const hit = p.env?.find((e) => e.startsWith(prefix));
  return hit === undefined ? undefined : hit.slice(prefix.length);
}

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** Falco's evt.time: HH:MM:SS.nnnnnnnnn (UTC here; Falco prints local time). */
function timeText(epochNs: bigint): string {
  const d = new Date(Number(epochNs / 1000000n));
  const ns = (epochNs % 1000000000n).toString().padStart(9, '0');
  return `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}.${ns}`;
}

/** Linux capability names by bit, as libsinsp prints them. */
const CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW',
  'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD',
  'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG',
  'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/** A capability set as libsinsp prints it: names separated by spaces. */
export function capsText(set: bigint | undefined): string | undefined {
  if (set === undefined) return undefined;
  const names: string[] = [];
  for (let i = 0; i < CAPS.length; i++) if ((set >> BigInt(i)) & 1n) names.push(CAPS[i]);
  return names.join(' ');
}

function ancestorField(pick: (p: ProcessInfo, e: SyscallEvent) => FieldValue, field: FieldRef): FieldAccessor<SyscallEvent> {
  if (field.arg !== undefined) {
    const level = Number(field.arg);
    if (!Number.isInteger(level) || level < 0) return missing;
    return (e) => {
      const a = level === 0 ? e.proc : e.ctx.processes.ancestor(e.proc, level);
      return a === undefined ? undefined : pick(a, e);
    };
  }
  return (e) => {
    const out: Array<string | number> = [];
    for (const a of e.ctx.processes.ancestors(e.proc)) {
      const v = pick(a, e);
      if (typeof v === 'string' || typeof v === 'number') out.push(v);
    }
    return out;
  };
}

/** proc.exepath: canonical (symlinks resolved) on a live machine; the exec path as recorded in a capture. */
function exepathOf(p: ProcessInfo, e: SyscallEvent): string | undefined {
  const facts = e.ctx.procFacts;
  if (!facts || p.exepath === undefined) return p.exepath;
  // An ancestor's container is the event's for this purpose: only host processes are resolved on the host.
  return facts.canonicalExepath(p, p.containerId ?? e.containerId, () => e.ctx.processes.values());
}

const parentOf = (e: SyscallEvent): ProcessInfo | undefined => e.ctx.processes.get(e.proc.ppid);

/** libsinsp's open flag bits: O_RDONLY/O_WRONLY/O_RDWR, O_CREAT. */
function openFlags(e: SyscallEvent): number | undefined {
  const r = e.raw;
  switch (r.type) {
    case 'open': return r.args[1];
    case 'openat': return r.args[2];
    case 'openat2': return r.openHow?.flags ?? 0;
    case 'creat': return 0x241;
    default: return undefined;
  }
}

function openMode(e: SyscallEvent): number {
  const r = e.raw;
  switch (r.type) {
    case 'open': return r.args[2];
    case 'openat': return r.args[3];
    case 'openat2': return r.openHow?.mode ?? 0;
    case 'creat': return r.args[1];
    default: return 0;
  }
}

/** The session leader: the process whose pid is the sid, else the eldest ancestor in the same session. */
function sessionLeader(e: SyscallEvent): ProcessInfo | undefined {
  const p = e.proc;
  if (p.sid === undefined) return undefined;
  if (p.sid === p.pid) return p;
  const leader = e.ctx.processes.get(p.sid);
  if (leader) return leader;
  let eldest: ProcessInfo | undefined;
  for (const a of e.ctx.processes.ancestors(p, 64)) {
    if (a.sid !== p.sid) break;
    eldest = a;
  }
  return eldest;
}

function inContainer(e: SyscallEvent): boolean {
  return e.containerId !== 'host';
}

/** A pid as seen in the process's own namespace: the host pid on the host; /proc's NSpid in a container. */
function vpidOf(e: SyscallEvent, host: number, pick: 'vpid' | 'vpgid'): number | undefined {
  if (!inContainer(e)) return host;
  return e.ctx.procFacts?.status(e.proc)?.[pick];
}

function socketEnd(name: string): FieldAccessor<SyscallEvent> {
  return (e) => {
    const s = e.fd?.socket;
    if (!s) return undefined;
    const serverIsLocal = s.localIsServer;
    switch (name) {
      case 'lip': return s.localAddr;
      case 'rip': return s.remoteAddr;
      case 'sip': return serverIsLocal ? s.localAddr : s.remoteAddr;
      case 'cip': return serverIsLocal ? s.remoteAddr : s.localAddr;
      case 'lport': return s.localPort;
      case 'rport': return s.remotePort;
      case 'sport': return serverIsLocal ? s.localPort : s.remotePort;
      default: return serverIsLocal ? s.remotePort : s.localPort;
    }
  };
}

function isIp(f: FdView | undefined): boolean {
  return f?.type === 'ipv4' || f?.type === 'ipv6';
}

function containerField(pick: (c: ContainerInfo) => FieldValue): FieldAccessor<SyscallEvent> {
  return (e) => {
    const c = e.container;
    return c === undefined ? undefined : pick(c);
  };
}

function k8sField(pick: (c: ContainerInfo) => FieldValue): FieldAccessor<SyscallEvent> {
  // Outside a pod (host, plain containers) the k8s fields are missing, as in Falco.
  return (e) => {
    const c = e.container;
    return c === undefined || c.podName === undefined ? undefined : pick(c);
  };
}

export function syscallExtractor(): FieldExtractor<SyscallEvent> {
  return {
    accessor(field: FieldRef): FieldAccessor<SyscallEvent> {
      const arg = field.arg;
      if (CANNOT_KNOW[field.name] !== undefined) return missing;
      switch (field.name) {
        case 'evt.type':
          return (e) => e.raw.type;
        case 'evt.dir':
          return () => '<';
        case 'evt.num':
          return (e) => e.num;
        case 'evt.res':
          return (e) => errnoText(e.raw.res);
        case 'evt.rawres':
          return (e) => e.raw.res;
        case 'evt.failed':
          return (e) => e.raw.res < 0;
        case 'evt.rawtime':
          return (e) => e.epochNs;
        case 'evt.time':
          return (e) => timeText(e.epochNs);
        case 'evt.hostname':
          return (e) => e.ctx.hostname;
        case 'evt.arg':
          if (arg === undefined) return missing;
          return (e) => e.args[arg]?.text;
        case 'evt.rawarg':
          if (arg === undefined) return missing;
          return (e) => e.args[arg]?.raw;
        case 'evt.args':
          return (e) =>
            Object.entries(e.args)
              .filter(([, v]) => v !== undefined)
              .map(([k, v]) => `${k}=${v?.text}`)
              .join(' ');
        case 'evt.is_open_read':
          // libsinsp: the open's access mode includes reading (O_RDONLY or O_RDWR).
          return (e) => {
            const f = openFlags(e);
            return f === undefined ? false : (f & 3) === 0 || (f & 3) === 2;
          };
        case 'evt.is_open_write':
          return (e) => {
            const f = openFlags(e);
            return f === undefined ? false : (f & 3) === 1 || (f & 3) === 2;
          };
        case 'evt.is_open_exec':
          // libsinsp: a file created (O_CREAT / creat) with an execute bit in its mode.
          return (e) => {
            const f = openFlags(e);
            return f === undefined ? false : (f & 0x40) !== 0 && (openMode(e) & 0o111) !== 0;
          };

        case 'proc.pid':
          return (e) => e.raw.pid;
        case 'proc.vpid':
          return (e) => vpidOf(e, e.raw.pid, 'vpid');
        case 'thread.tid':
        case 'proc.tid':
          return (e) => e.raw.tid;
        case 'thread.vtid':
          // Only the main thread's namespace id is known (from /proc/<pid>/status).
          return (e) => (!inContainer(e) ? e.raw.tid : e.raw.tid === e.raw.pid ? vpidOf(e, e.raw.pid, 'vpid') : undefined);
        case 'proc.ppid':
          return (e) => e.proc.ppid;
        case 'proc.name':
          return (e) => e.proc.name;
        case 'proc.exe':
          return (e) => e.proc.exe;
        case 'proc.exepath':
          return (e) => exepathOf(e.proc, e);
        case 'proc.cmdline':
          return (e) => cmdline(e.proc);
        case 'proc.args':
          return (e) => (e.proc.fromExec ? e.proc.args.join(' ') : undefined);
        case 'proc.cmdnargs':
          return (e) => (e.proc.fromExec ? e.proc.args.length : undefined);
        case 'proc.cmdlenargs':
          return (e) => (e.proc.fromExec ? e.proc.args.reduce((n, a) => n + a.length, 0) : undefined);
        case 'proc.cwd':
          return (e) => (e.proc.cwd === undefined ? undefined : e.proc.cwd.endsWith('/') ? e.proc.cwd : `${e.proc.cwd}/`);
        case 'proc.tty':
          return (e) => e.proc.tty;
        case 'proc.env':
          if (arg !== undefined) return (e) => envValue(e.proc, arg);
          return (e) => e.proc.env?.join(' ');
        case 'proc.exe_ino':
          return (e) => e.proc.exeIno;
        case 'proc.exe_ino.ctime':
          return (e) => (e.proc.exeCtimeSec === undefined ? undefined : BigInt(e.proc.exeCtimeSec) * 1000000000n);
        case 'proc.exe_ino.mtime':
          return (e) => (e.proc.exeMtimeSec === undefined ? undefined : BigInt(e.proc.exeMtimeSec) * 1000000000n);
        case 'proc.exe_ino.ctime_duration_proc_start':
          // ns between the image's last status change and the process start (clone time).
          return (e) => {
            const p = e.proc;
            if (p.exeCtimeSec === undefined || p.startNs === undefined) return undefined;
            return e.ctx.bootEpochNs + BigInt(Math.round(p.startNs)) - BigInt(p.exeCtimeSec) * 1000000000n;
          };
        case 'proc.duration':
          return (e) => (e.proc.startNs === undefined ? undefined : Math.max(0, Math.round(e.raw.tsNs - e.proc.startNs)));
        case 'proc.vpgid':
          return (e) => (e.proc.pgid === undefined ? undefined : vpidOf(e, e.proc.pgid, 'vpgid'));
        case 'proc.pgid':
          return (e) => e.proc.pgid;
        case 'proc.sid':
          return (e) => e.proc.sid;
        case 'proc.is_vpgid_leader':
          return (e) => (e.proc.pgid === undefined ? undefined : e.proc.pgid === e.proc.pid);
        case 'proc.is_sid_leader':
          return (e) => (e.proc.sid === undefined ? undefined : e.proc.sid === e.proc.pid);
        case 'proc.sname':
          return (e) => sessionLeader(e)?.name;
        // The kernel's exe flags at exec (layout v2) first; /proc on demand for older records and seeded processes.
        case 'proc.is_exe_from_memfd':
          return (e) => (e.proc.exeFlags !== undefined ? (e.proc.exeFlags & EXE_FROM_MEMFD) !== 0 : e.ctx.procFacts?.exeFromMemfd(e.proc));
        case 'proc.is_exe_writable':
          return (e) => (e.proc.exeFlags !== undefined ? (e.proc.exeFlags & EXE_WRITABLE) !== 0 : e.ctx.procFacts?.exeWritable(e.proc));
        case 'proc.is_exe_upper_layer':
          return (e) => (e.proc.exeFlags !== undefined ? (e.proc.exeFlags & EXE_UPPER_LAYER) !== 0 : e.ctx.procFacts?.exeUpperLayer(e.proc, e.containerId));
        case 'proc.pname':
          return (e) => parentOf(e)?.name;
        case 'proc.pcmdline':
          return (e) => cmdline(parentOf(e));
        case 'proc.pexe':
          return (e) => parentOf(e)?.exe;
        case 'proc.pexepath':
          return (e) => {
            const parent = parentOf(e);
            return parent === undefined ? undefined : exepathOf(parent, e);
          };
        case 'proc.aname':
          return ancestorField((p) => p.name, field);
        case 'proc.apid':
          return ancestorField((p) => p.pid, field);
        case 'proc.aexe':
          return ancestorField((p) => p.exe, field);
        case 'proc.aexepath':
          return ancestorField((p, e) => exepathOf(p, e), field);
        case 'proc.acmdline':
          return ancestorField((p) => cmdline(p), field);

        case 'thread.cap_effective':
          return (e) => capsText(e.proc.capEffective ?? e.ctx.procFacts?.status(e.proc)?.capEffective);
        case 'thread.cap_permitted':
          return (e) => capsText(e.proc.capPermitted ?? e.ctx.procFacts?.status(e.proc)?.capPermitted);
        case 'thread.cap_inheritable':
          return (e) => capsText(e.proc.capInheritable);

        case 'user.uid':
          return (e) => e.raw.uid;
        case 'user.name':
          return (e) => e.ctx.names.userName(e.proc, e.containerId, e.raw.uid);
        case 'user.loginuid':
          return (e) => loginuid(e.proc);
        case 'user.loginname':
          return (e) => {
            const l = loginuid(e.proc);
            return l === undefined ? undefined : l === -1 ? '' : e.ctx.names.userName(e.proc, e.containerId, l);
          };
        case 'group.gid':
          return (e) => e.raw.gid;
        case 'group.name':
          return (e) => e.ctx.names.groupName(e.proc, e.containerId, e.raw.gid);

        case 'fd.num':
          return (e) => e.fd?.num;
        case 'fd.name':
          return (e) => e.fd?.name;
        case 'fd.nameraw':
          return (e) => (e.fd?.isFile ? e.fd.nameraw ?? e.fd.name : undefined);
        case 'fd.directory':
          return (e) => {
            const f = e.fd;
            if (!f?.isFile || f.name === undefined) return undefined;
            if (f.type === 'directory') return f.name;
            const i = f.name.lastIndexOf('/');
            return i <= 0 ? '/' : f.name.slice(0, i);
          };
        case 'fd.filename':
          return (e) => {
            const f = e.fd;
            if (!f?.isFile || f.type === 'directory' || f.name === undefined) return undefined;
            return f.name.slice(f.name.lastIndexOf('/') + 1);
          };
        case 'fd.typechar':
          return (e) => e.fd?.typechar;
        case 'fd.type':
          return (e) => e.fd?.type;
        case 'fd.sockfamily':
          return (e) => {
            const t = e.fd?.type;
            return t === 'ipv4' || t === 'ipv6' ? 'ip' : t === 'unix' ? 'unix' : undefined;
          };
        case 'fd.l4proto':
          return (e) => {
            const f = e.fd;
            if (!isIp(f)) return undefined;
            const p = f?.socket?.proto;
            return p === 6 ? 'tcp' : p === 17 ? 'udp' : p === 1 || p === 58 ? 'icmp' : p === undefined ? undefined : 'raw';
          };
        case 'fd.connected':
          return (e) => (isIp(e.fd) || e.fd?.type === 'unix' ? e.fd?.connected === true : undefined);
        case 'fd.name_changed':
          return (e) => e.fd?.nameChanged ?? false;
        case 'fd.lip':
        case 'fd.lnet':
          return socketEnd('lip');
        case 'fd.rip':
        case 'fd.rnet':
          return socketEnd('rip');
        // Filter-only "either end" fields read the server end first, like the field-map events.
        case 'fd.sip':
        case 'fd.snet':
        case 'fd.ip':
        case 'fd.net':
          return socketEnd('sip');
        case 'fd.cip':
        case 'fd.cnet':
          return socketEnd('cip');
        case 'fd.lport':
          return socketEnd('lport');
        case 'fd.rport':
          return socketEnd('rport');
        case 'fd.sport':
        case 'fd.port':
          return socketEnd('sport');
        case 'fd.cport':
          return socketEnd('cport');
        case 'fd.is_server':
          return (e) => e.fd?.socket?.localIsServer;

        case 'fs.path.name':
          return (e) => e.resolvedPath;
        case 'fs.path.source':
          return (e) => (e.raw.path0 !== undefined && e.raw.path1 !== undefined ? e.args.oldpath?.text ?? e.args.target?.text : undefined);
        case 'fs.path.target':
          return (e) => (e.raw.path1 !== undefined ? e.args.newpath?.text ?? e.args.linkpath?.text : undefined);

        case 'container.id':
          return (e) => e.containerId;
        case 'container.full_id':
          return (e) => (e.containerId === 'host' ? 'host' : e.container?.fullId);
        case 'container.name':
          return (e) => (e.containerId === 'host' ? 'host' : e.container?.name);
        case 'container.type':
          return (e) => (e.containerId === 'host' ? undefined : e.container?.type);
        case 'container.image':
          return containerField((c) => c.image);
        case 'container.image.repository':
          return containerField((c) => c.imageRepository);
        case 'container.image.tag':
          return containerField((c) => c.imageTag);
        case 'container.privileged':
          return containerField((c) => c.privileged);
        case 'container.start_ts':
          return containerField((c) => c.startTs);
        case 'container.label':
          if (arg === undefined) return missing;
          return containerField((c) => c.labels?.[arg]);

        case 'k8s.pod.name':
          return k8sField((c) => c.podName);
        case 'k8s.ns.name':
          return k8sField((c) => c.podNamespace);
        case 'k8s.pod.uid':
        case 'k8s.pod.id':
          return k8sField((c) => c.podUid);
        case 'k8s.pod.sandbox_id':
          return k8sField((c) => c.podSandboxId?.slice(0, 12));
        case 'k8s.pod.full_sandbox_id':
          return k8sField((c) => c.podSandboxId);
        case 'k8s.pod.label':
          if (arg === undefined) return missing;
          return k8sField((c) => c.podLabels?.[arg]);
        case 'k8s.pod.labels':
          return k8sField((c) => (c.podLabels ? Object.entries(c.podLabels).map(([k, v]) => `${k}:${v}`).join(', ') : undefined));
        default:
          return missing;
      }
    },
  };
}
