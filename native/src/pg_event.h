/*
 * Peregrine raw event layout, version 2. This header is the single definition
 * shared by the eBPF probe (native/bpf/probe.bpf.c), the addon
 * (native/src/addon.cc) and, mirrored field for field, the TypeScript decoder
 * (native/ts/layout.ts). Capture files store these records unchanged, so any
 * change here must bump PG_EVENT_LAYOUT_VERSION and the decoder together.
 *
 * A record is a fixed 120-byte header followed by `nblobs` blobs. A blob is a
 * 4-byte prefix {u16 tag, u16 len} and `len` bytes (strings carry no NUL).
 * Every multi-byte field is little-endian (the probe writes host order and
 * only little-endian hosts are supported).
 */
#ifndef PG_EVENT_H
#define PG_EVENT_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/*
 * Version 2 extends version 1 without changing any byte of it: more syscall
 * ids (after PG_SC_CLOSE), tags 16-17, pg_exec_info grown at its end and new
 * PG_DESC_* bits. A v2 decoder therefore reads v1 records as they are; a v1
 * decoder would refuse the new ids, hence the bump.
 */
#define PG_EVENT_LAYOUT_VERSION 2

/* Record kinds. */
#define PG_KIND_SYSCALL 1 /* a syscall's exit: args, return value, blobs */
#define PG_KIND_EXEC 2    /* sched_process_exec: the new image (state) */
#define PG_KIND_FORK 3    /* sched_process_fork: header describes the child */
#define PG_KIND_EXIT 4    /* sched_process_exit: res is the exit code */

/*
 * Portable syscall ids (the raw numbers differ per architecture; userspace
 * maps them). Keep in sync with SYSCALLS in native/ts/layout.ts.
 */
enum pg_syscall {
  PG_SC_NONE = 0,
  PG_SC_OPEN, PG_SC_OPENAT, PG_SC_OPENAT2, PG_SC_CREAT,
  PG_SC_MKDIR, PG_SC_MKDIRAT, PG_SC_RMDIR, PG_SC_UNLINK, PG_SC_UNLINKAT,
  PG_SC_CHMOD, PG_SC_FCHMODAT, PG_SC_FCHMOD,
  PG_SC_RENAME, PG_SC_RENAMEAT, PG_SC_RENAMEAT2,
  PG_SC_LINK, PG_SC_LINKAT, PG_SC_SYMLINK, PG_SC_SYMLINKAT,
  PG_SC_EXECVE, PG_SC_EXECVEAT,
  PG_SC_CONNECT, PG_SC_ACCEPT, PG_SC_ACCEPT4, PG_SC_SENDTO, PG_SC_RECVFROM,
  PG_SC_SENDMSG, PG_SC_RECVMSG, PG_SC_LISTEN, PG_SC_SOCKET,
  PG_SC_DUP, PG_SC_DUP2, PG_SC_DUP3,
  PG_SC_BPF, PG_SC_PTRACE, PG_SC_SETNS, PG_SC_SETUID, PG_SC_UNSHARE,
  PG_SC_USERFAULTFD, PG_SC_INIT_MODULE, PG_SC_FINIT_MODULE, PG_SC_CLOSE,
  /* Layout version 2. */
  PG_SC_FCNTL, PG_SC_CHDIR, PG_SC_FCHDIR, PG_SC_PIPE, PG_SC_PIPE2, PG_SC_SOCKETPAIR,
  PG_SC_MEMFD_CREATE, PG_SC_BIND, PG_SC_SETGID, PG_SC_SETREUID, PG_SC_SETREGID,
  PG_SC_SETRESUID, PG_SC_SETRESGID, PG_SC_MOUNT, PG_SC_UMOUNT2, PG_SC_PRCTL,
  PG_SC_PIDFD_OPEN, PG_SC_PIDFD_GETFD, PG_SC_PROCESS_VM_READV, PG_SC_PROCESS_VM_WRITEV,
  PG_SC_COUNT
};

/* Blob tags. */
#define PG_TAG_PATH0 1     /* first path argument as passed (user string) */
#define PG_TAG_PATH1 2     /* second path argument as passed */
#define PG_TAG_BASE0 3     /* absolute dir PATH0 is relative to (dirfd or cwd); only for relative paths */
#define PG_TAG_BASE1 4     /* same for PATH1 */
#define PG_TAG_SOCKADDR 5  /* user sockaddr bytes (connect/sendto/sendmsg addr, accept peer) */
#define PG_TAG_TUPLE 6     /* struct pg_tuple from the kernel socket */
#define PG_TAG_FILENAME 7  /* exec: the filename the kernel executed */
#define PG_TAG_ARGV 8      /* exec: argv, NUL-separated, bounded */
#define PG_TAG_ENV 9       /* exec: environment, NUL-separated, bounded */
#define PG_TAG_CWD 10      /* exec: absolute working directory */
#define PG_TAG_EXECINFO 11 /* exec: struct pg_exec_info */
#define PG_TAG_CGROUP 12   /* exec: leaf name of the task's cgroup v2 */
#define PG_TAG_STR 13      /* a plain user string argument (module params) */
#define PG_TAG_FDPATH 14   /* absolute path of the file behind arg0's fd */
#define PG_TAG_OPENHOW 15  /* openat2: struct open_how {u64 flags, mode, resolve} */
#define PG_TAG_CGROUP_PATH 16 /* exec: cgroup path (from its hierarchy's root) of the cpu controller's hierarchy, v1 or v2 */
#define PG_TAG_FDS 17      /* pipe/pipe2/socketpair: struct pg_fd_pair the kernel filled in */

/* Header flags. */
#define PG_HF_TRUNCATED 1 /* a bounded blob was cut short */
#define PG_HF_THREAD 2    /* fork/exit: a thread, not a process leader */

struct pg_event_header {
  __u32 len;        /* 0: total record bytes, header included */
  __u16 kind;       /* 4: PG_KIND_* */
  __u16 syscall;    /* 6: enum pg_syscall (PG_KIND_SYSCALL only) */
  __u64 ts_ns;      /* 8: CLOCK_BOOTTIME nanoseconds */
  __u32 tid;        /* 16 */
  __u32 pid;        /* 20: thread group id */
  __u32 ppid;       /* 24: real parent's thread group id */
  __u32 uid;        /* 28: effective uid (Falco's user.uid) */
  __u32 gid;        /* 32: effective gid */
  __u16 nblobs;     /* 36 */
  __u16 flags;      /* 38: PG_HF_* */
  __s64 res;        /* 40: return value (-errno on failure), exit code for EXIT */
  __u64 cgroup_id;  /* 48: cgroup v2 id */
  char comm[16];    /* 56 */
  __u64 args[6];    /* 72: raw syscall arguments as the registers held them */
};                  /* 120 */

#define PG_HEADER_SIZE 120
#define PG_BLOB_PREFIX 4

struct pg_tuple {   /* PG_TAG_TUPLE, 40 bytes */
  __u16 family;     /* AF_INET=2, AF_INET6=10, AF_UNIX=1 */
  __u16 sport;      /* local port, host order */
  __u16 dport;      /* remote port, host order */
  __u16 proto;      /* IPPROTO_* */
  __u8 saddr[16];   /* local address (first 4 bytes for IPv4) */
  __u8 daddr[16];   /* remote address */
};

/*
 * PG_TAG_EXECINFO, 88 bytes. Layout v1 records carry only the first 64 (up
 * to cap_effective): fields are only ever appended, and a decoder reads those
 * the blob's length covers.
 */
struct pg_exec_info {
  __u32 loginuid;
  __u32 tty;        /* (major << 20) | minor of the controlling tty; 0 = none */
  __u32 euid;
  __u32 egid;
  __u32 pgid;
  __u32 sid;
  __u64 exe_ino;
  __u32 exe_dev;
  __u32 pad;
  __s64 exe_ctime_sec;
  __s64 exe_mtime_sec;
  __u64 cap_effective;
  __u64 cap_permitted;   /* 64: layout v2 from here */
  __u64 cap_inheritable;
  __u32 exe_flags;       /* PG_EXE_*: Falco's execve `flags` (same bit values) */
  __u32 pad_end;
};

/* pg_exec_info.exe_flags (the bit values of Falco's PPM_EXE_*). */
#define PG_EXE_WRITABLE 1     /* the exe is writable by the process's fs uid/gid (owner, mode, groups, caps) */
#define PG_EXE_UPPER_LAYER 2  /* the exe is on an overlayfs upper layer (written in the container) */
#define PG_EXE_FROM_MEMFD 4   /* the exe is a memfd_create file (fileless execution) */
#define PG_EXE_LOWER_LAYER 8  /* the exe is on an overlayfs lower layer (from the image) */

struct pg_fd_pair { /* PG_TAG_FDS, 8 bytes */
  __s32 fd0;
  __s32 fd1;
};

/* What the probe does for one raw syscall number; userspace fills the table. */
#define PG_ARG_NONE 0xff   /* no such argument */
#define PG_ARG_CWD 0xfe    /* path is relative to the cwd (no dirfd argument) */
#define PG_SOCK_NONE 0
#define PG_SOCK_ARG0 1      /* tuple of the socket in arg0 */
#define PG_SOCK_RET 2       /* tuple of the socket returned (accept) */
#define PG_DESC_EXEC 1      /* success: skip path reads (old mm is gone) */
#define PG_DESC_FDPATH 2    /* emit PG_TAG_FDPATH for arg0 */
#define PG_DESC_ADDR_CONNECT 4   /* sockaddr at arg1, len arg2 */
#define PG_DESC_ADDR_SENDTO 8    /* sockaddr at arg4, len arg5 */
#define PG_DESC_ADDR_MSGHDR 16   /* msghdr at arg1 -> msg_name */
#define PG_DESC_ADDR_ACCEPT 32   /* sockaddr at arg1, len *arg2 (filled by the kernel) */
#define PG_DESC_ADDR_RECVFROM 64 /* sockaddr at arg4, len *arg5 (filled by the kernel) */
#define PG_DESC_OPENHOW 128      /* struct open_how at arg2 */
#define PG_DESC_CWD 256          /* success: emit PG_TAG_CWD, the cwd after the call (chdir/fchdir) */
#define PG_DESC_FDS_ARG0 512     /* success: emit PG_TAG_FDS from the int[2] at arg0 (pipe, pipe2) */
#define PG_DESC_FDS_ARG3 1024    /* success: emit PG_TAG_FDS from the int[2] at arg3 (socketpair) */
#define PG_DESC_FCNTL 2048       /* only fd-state commands (F_DUPFD, F_DUPFD_CLOEXEC, F_SETFD); others are not seen */
#define PG_DESC_PRCTL 4096       /* PR_SET_NAME / PR_GET_NAME: the name at arg1 as PG_TAG_STR */

struct pg_sc_desc {
  __u16 id;          /* enum pg_syscall; 0 = not interesting */
  __u8 path_arg[2];  /* arg index of a user path, PG_ARG_NONE */
  __u8 dirfd_arg[2]; /* arg index of its dirfd, PG_ARG_CWD, PG_ARG_NONE (never resolve) */
  __u8 sock;         /* PG_SOCK_* */
  __u8 str_arg;      /* arg index of a plain user string, PG_ARG_NONE */
  __u16 flags;       /* PG_DESC_* */
  __u16 pad;
};

/* Per-CPU kernel counters (map pg_counters). */
struct pg_counters {
  __u64 n_seen;          /* interesting syscall exits and sched events reaching the probe */
  __u64 n_evts;          /* records written to the ring */
  __u64 n_drops_buffer;  /* ring full: the record was lost */
  __u64 n_filtered_pid;
  __u64 n_filtered_comm;
  __u64 n_filtered_path;
  __u64 n_by_syscall[PG_SC_COUNT]; /* records written per syscall id (0 = sched records) */
};

/* Path prefix exclusion key (LPM trie): data = {u8 id_hi, u8 id_lo, path bytes}. */
#define PG_PREFIX_MAX 126
struct pg_prefix_key {
  __u32 prefixlen;
  __u8 data[2 + PG_PREFIX_MAX];
};

#define PG_MAX_SYSCALL_NR 512
#define PG_PATH_MAX 4096
#define PG_ARGV_MAX 4096
#define PG_ENV_MAX 2048
#define PG_CGROUP_DEPTH 32 /* components of a cgroup path walked (deeper: leading ones cut, record truncated) */

#endif
