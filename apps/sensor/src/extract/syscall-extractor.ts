/**
 * The rules engine's FieldExtractor over syscall events (live or replayed): the fields the
 * raw records carry directly (evt.*, proc.* from exec records and headers,
 * fd.* for path-taking and socket syscalls, user.*) and nothing invented. A
 * field the capture cannot answer is `undefined` (Falco's "missing").
 */
import type { FieldAccessor, FieldExtractor, FieldRef, FieldValue } from '@peregrine/rules';
import { errnoText } from './falco-args.ts';
import type { SyscallEvent } from './syscall-event.ts';
import type { ProcessInfo } from '../state/process-table.ts';

const missing: FieldAccessor<SyscallEvent> = () => undefined;

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

/** A container id from a cgroup name holding a 64-hex runtime id; short form like Falco. */
export function containerIdOf(cgroup: string | undefined): string {
  const m = cgroup ? /([0-9a-f]{64})/.exec(cgroup) : null;
  return m ? m[1].slice(0, 12) : 'host';
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

function ancestorField(
  pick: (p: ProcessInfo) => FieldValue,
  field: FieldRef,
): FieldAccessor<SyscallEvent> {
  if (field.arg !== undefined) {
    const level = Number(field.arg);
    if (!Number.isInteger(level) || level < 0) return missing;
    return (e) => {
      if (level === 0) return pick(e.proc);
      const chain = e.ctx.processes.ancestors(e.proc, level);
      return chain.length >= level ? pick(chain[level - 1]) : undefined;
    };
  }
  return (e) => {
    const out: Array<string | number> = [];
    for (const a of e.ctx.processes.ancestors(e.proc)) {
      const v = pick(a);
      if (typeof v === 'string' || typeof v === 'number') out.push(v);
    }
    return out;
  };
}

const parentOf = (e: SyscallEvent): ProcessInfo | undefined => e.ctx.processes.get(e.proc.ppid);

export function syscallExtractor(): FieldExtractor<SyscallEvent> {
  return {
    accessor(field: FieldRef): FieldAccessor<SyscallEvent> {
      const arg = field.arg;
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
        case 'evt.is_open_write':
        case 'evt.is_open_exec':
          return (e) => {
            const t = e.raw.type;
            if (t !== 'open' && t !== 'openat' && t !== 'openat2' && t !== 'creat') return false;
            const flags = t === 'creat' ? 0x41 : t === 'openat2' ? (e.raw.openHow?.flags ?? 0) : t === 'open' ? e.raw.args[1] : e.raw.args[2];
            const acc = flags & 3;
            if (field.name === 'evt.is_open_read') return acc === 0 || acc === 2;
            if (field.name === 'evt.is_open_write') return acc === 1 || acc === 2 || (flags & 0x200) !== 0;
            return false; // O_EXEC does not exist on Linux; Falco derives it from mode bits we do not carry
          };

        case 'proc.pid':
        case 'proc.vpid':
          return (e) => e.raw.pid;
        case 'thread.tid':
        case 'proc.tid':
        case 'thread.vtid':
          return (e) => e.raw.tid;
        case 'proc.ppid':
          return (e) => e.proc.ppid;
        case 'proc.name':
          return (e) => e.proc.name;
        case 'proc.exe':
          return (e) => e.proc.exe;
        case 'proc.exepath':
          return (e) => e.proc.exepath;
        case 'proc.cmdline':
          return (e) => cmdline(e.proc);
        case 'proc.args':
          return (e) => (e.proc.fromExec ? e.proc.args.join(' ') : undefined);
        case 'proc.cwd':
          return (e) => (e.proc.cwd === undefined ? undefined : e.proc.cwd.endsWith('/') ? e.proc.cwd : `${e.proc.cwd}/`);
        case 'proc.tty':
          return (e) => e.proc.tty;
        case 'proc.env':
          if (arg !== undefined) return (e) => envValue(e.proc, arg);
          return (e) => e.proc.env?.join(' ');
        case 'proc.exe_ino':
          return (e) => e.proc.exeIno;
        case 'proc.vpgid':
        case 'proc.pgid':
          return (e) => e.proc.pgid;
        case 'proc.sid':
          return (e) => e.proc.sid;
        case 'proc.is_vpgid_leader':
          return (e) => (e.proc.pgid === undefined ? undefined : e.proc.pgid === e.proc.pid);
        case 'proc.pname':
          return (e) => parentOf(e)?.name;
        case 'proc.pcmdline':
          return (e) => cmdline(parentOf(e));
        case 'proc.pexe':
          return (e) => parentOf(e)?.exe;
        case 'proc.pexepath':
          return (e) => parentOf(e)?.exepath;
        case 'proc.aname':
          return ancestorField((p) => p.name, field);
        case 'proc.apid':
          return ancestorField((p) => p.pid, field);
        case 'proc.aexe':
          return ancestorField((p) => p.exe, field);
        case 'proc.aexepath':
          return ancestorField((p) => p.exepath, field);
        case 'proc.acmdline':
          return ancestorField((p) => cmdline(p), field);

        case 'user.uid':
          return (e) => e.raw.uid;
        case 'user.name':
          return (e) => e.ctx.users.get(e.raw.uid);
        case 'user.loginuid':
          return (e) => loginuid(e.proc);
        case 'user.loginname':
          return (e) => {
            const l = loginuid(e.proc);
            return l === undefined ? undefined : l === -1 ? '' : e.ctx.users.get(l);
          };
        case 'group.gid':
          return (e) => e.raw.gid;
        case 'group.name':
          return (e) => e.ctx.groups.get(e.raw.gid);

        case 'fd.num':
          return (e) => e.fd?.num;
        case 'fd.name':
          return (e) => e.fd?.name;
        case 'fd.nameraw':
          return (e) => e.fd?.nameraw;
        case 'fd.directory':
          return (e) => {
            const f = e.fd;
            if (!f?.isFile) return undefined;
            if (f.typechar === 'd') return f.name;
            const i = f.name.lastIndexOf('/');
            return i <= 0 ? '/' : f.name.slice(0, i);
          };
        case 'fd.filename':
          return (e) => {
            const f = e.fd;
            if (!f?.isFile || f.typechar === 'd') return undefined;
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
            const p = e.raw.tuple?.proto;
            return p === 6 ? 'tcp' : p === 17 ? 'udp' : p === undefined ? undefined : 'raw';
          };
        case 'fd.lip':
        case 'fd.rip':
        case 'fd.sip':
        case 'fd.cip':
        case 'fd.lport':
        case 'fd.rport':
        case 'fd.sport':
        case 'fd.cport':
          return socketField(field.name);

        case 'fs.path.name':
          return (e) => e.resolvedPath;
        case 'fs.path.source':
          return (e) => (e.raw.path0 !== undefined && e.raw.path1 !== undefined ? e.args.oldpath?.text ?? e.args.target?.text : undefined);
        case 'fs.path.target':
          return (e) => (e.raw.path1 !== undefined ? e.args.newpath?.text ?? e.args.linkpath?.text : undefined);

        case 'container.id':
          return (e) => containerIdOf(e.proc.cgroup);
        case 'container.name':
          return (e) => (containerIdOf(e.proc.cgroup) === 'host' ? 'host' : undefined);
        default:
          return missing;
      }
    },
  };
}

function socketField(name: string): FieldAccessor<SyscallEvent> {
  return (e) => {
    const t = e.raw.tuple;
    const sa = e.raw.sockaddr;
    if (!t && !sa) return undefined;
    const type = e.raw.type;
    const serverIsLocal = type === 'accept' || type === 'accept4' || type === 'listen' || type === 'recvfrom' || type === 'recvmsg';
    let remoteAddr = t?.remoteAddr;
    let remotePort = t?.remotePort;
    if (sa && (remotePort === undefined || remotePort === 0)) {
      remoteAddr = sa.addr;
      remotePort = sa.port;
    }
    const local = { ip: t?.localAddr, port: t?.localPort };
    const remote = { ip: remoteAddr, port: remotePort };
    const server = serverIsLocal ? local : remote;
    const client = serverIsLocal ? remote : local;
    switch (name) {
      case 'fd.lip': return local.ip;
      case 'fd.rip': return remote.ip;
      case 'fd.sip': return server.ip;
      case 'fd.cip': return client.ip;
      case 'fd.lport': return local.port;
      case 'fd.rport': return remote.port;
      case 'fd.sport': return server.port;
      default: return client.port;
    }
  };
}
