// SPDX-License-Identifier: GPL-2.0
/*
 * Peregrine's syscall probe. One BTF tracepoint on sys_exit does all syscall
 * work: arguments are still in the task's pt_regs at exit on x86_64, so no
 * sys_enter program or per-task stash is needed (Falco's modern probe made the
 * same move). Which syscalls are captured, and how each one's arguments are
 * read, is data in the pg_syscalls table that userspace fills from the loaded
 * rules; everything else returns after one array lookup.
 *
 * Records are built in a per-CPU scratch area and copied into the ring with
 * bpf_ringbuf_output; the layout is native/src/pg_event.h.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "pg_event.h"

char LICENSE[] SEC("license") = "GPL";

#define AT_FDCWD_INT (-100)
#define PG_OFF_MASK 16383          /* blobs start below 16 KiB ... */
#define PG_BUF_SIZE 32768          /* ... and each is at most 4 KiB + prefix */
#define PG_WALK_SIZE (PG_PATH_MAX + 512)
#define PG_WALK_DEPTH 40
#define PG_SOCKADDR_MAX 112

struct pg_scratch {
  __u8 buf[PG_BUF_SIZE];
  __u8 walk[PG_WALK_SIZE];
};

/* The record being built: its header's len, nblobs and flags are kept current as blobs are added. */
#define HDR(s) ((struct pg_event_header *)(s)->buf)

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 8 * 1024 * 1024); /* resized by userspace before load */
} pg_ring SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1); /* one per possible CPU, set by userspace before load */
  __type(key, __u32);
  __type(value, struct pg_scratch);
} pg_scratch_map SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, PG_MAX_SYSCALL_NR);
  __type(key, __u32);
  __type(value, struct pg_sc_desc);
} pg_syscalls SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct pg_counters);
} pg_counters SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __type(key, __u32);
  __type(value, __u8);
} pg_excluded_pids SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 256);
  __type(key, char[16]);
  __type(value, __u8);
} pg_excluded_comms SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, 1024);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct pg_prefix_key);
  __type(value, __u8);
} pg_excluded_prefixes SEC(".maps");

/* Set by userspace through the mmapped .bss; counts let the hot path skip empty filters. */
volatile __u32 pg_self_tgid;
volatile __u32 pg_npids;
volatile __u32 pg_ncomms;
volatile __u32 pg_nprefixes;
volatile __u32 pg_sched_mask; /* bit 0 fork, bit 1 exec, bit 2 exit */
/*
 * Wake the reader only once this much data is waiting: a wakeup per record
 * (the ring's default when the reader keeps up) costs an irq_work and a
 * context switch each, several times the cost of the record itself. The
 * reader also polls every flush interval, so small amounts still arrive.
 */
volatile __u64 pg_wakeup_bytes;
/*
 * Consumer position (+1, so 0 means "never") when the reader was last woken.
 * Until the reader has moved it, another wakeup only repeats one already on
 * its way: each costs a self-IPI and a cross-CPU wakeup (tens of µs in a VM,
 * measured ~25 ns per record at 64 KiB batches), so it is skipped.
 */
volatile __u64 pg_woken_cons;

static __always_inline struct pg_scratch *scratch(void)
{
  __u32 cpu = bpf_get_smp_processor_id();
  return bpf_map_lookup_elem(&pg_scratch_map, &cpu);
}

static __always_inline struct pg_counters *counters(void)
{
  __u32 zero = 0;
  return bpf_map_lookup_elem(&pg_counters, &zero);
}

/*
 * Header from the current task. Direct BTF loads instead of helper calls:
 * with retpolines and SRSO "safe RET" (common on cloud VMs) every helper
 * call costs tens of ns, and the header is on every record's path.
 */
static __always_inline void fill_header(struct pg_scratch *s, struct task_struct *t, __u16 kind, __u16 sc)
{
  struct pg_event_header *h = (struct pg_event_header *)s->buf;
  const struct cred *cred = t->cred;
  h->kind = kind;
  h->syscall = sc;
  h->ts_ns = bpf_ktime_get_boot_ns();
  h->tid = t->pid;
  h->pid = t->tgid;
  h->ppid = t->real_parent->tgid;
  /* Effective ids, as Falco's user.uid/group.gid (a setuid binary runs as its owner). */
  h->uid = cred->euid.val;
  h->gid = cred->egid.val;
  h->cgroup_id = t->cgroups->dfl_cgrp->kn->id;
  __builtin_memcpy(h->comm, t->comm, sizeof(h->comm));
  h->res = 0;
  h->len = PG_HEADER_SIZE;
  h->nblobs = 0;
  h->flags = 0;
}

/* Reserves room for a blob; returns its (bounded) offset or -1 when the record is full. */
static __always_inline int blob_start(struct pg_scratch *s)
{
  __u32 off = HDR(s)->len;
  if (off > PG_OFF_MASK) {
    HDR(s)->flags |= PG_HF_TRUNCATED;
    return -1;
  }
  return off & PG_OFF_MASK;
}

static __always_inline void blob_end(struct pg_scratch *s, __u32 off, __u16 tag, __u32 len)
{
  off &= PG_OFF_MASK;
  *(__u16 *)&s->buf[off] = tag;
  *(__u16 *)&s->buf[off + 2] = (__u16)len;
  HDR(s)->len = off + PG_BLOB_PREFIX + len;
  HDR(s)->nblobs++;
}

/* A NUL-terminated user string; returns the blob's data offset or -1. */
static __always_inline int add_user_str(struct pg_scratch *s, __u16 tag, const void *uptr)
{
  if (!uptr)
    return -1;
  int off = blob_start(s);
  if (off < 0)
    return -1;
  long n = bpf_probe_read_user_str(&s->buf[off + PG_BLOB_PREFIX], PG_PATH_MAX, uptr);
  if (n <= 0)
    return -1;
  if (n >= PG_PATH_MAX)
    HDR(s)->flags |= PG_HF_TRUNCATED;
  blob_end(s, off, tag, (__u32)(n - 1) & (PG_PATH_MAX - 1));
  return off + PG_BLOB_PREFIX;
}

static __always_inline void add_kernel_str(struct pg_scratch *s, __u16 tag, const void *kptr)
{
  if (!kptr)
    return;
  int off = blob_start(s);
  if (off < 0)
    return;
  long n = bpf_probe_read_kernel_str(&s->buf[off + PG_BLOB_PREFIX], PG_PATH_MAX, kptr);
  if (n <= 0)
    return;
  blob_end(s, off, tag, (__u32)(n - 1) & (PG_PATH_MAX - 1));
}

/* Bounded user memory (argv, env): NUL-separated strings copied as they are. */
static __always_inline void add_user_mem(struct pg_scratch *s, __u16 tag, __u64 start, __u64 end, __u32 max)
{
  if (!start || end <= start)
    return;
  int off = blob_start(s);
  if (off < 0)
    return;
  __u64 len = end - start;
  if (len > max) {
    len = max;
    HDR(s)->flags |= PG_HF_TRUNCATED;
  }
  len &= (PG_PATH_MAX * 2 - 1);
  if (len > PG_PATH_MAX)
    return;
  if (bpf_probe_read_user(&s->buf[off + PG_BLOB_PREFIX], len, (const void *)start) < 0)
    return;
  blob_end(s, off, tag, (__u32)len);
}

/*
 * Absolute path of a dentry, walked up to the root crossing mount points,
 * built right to left in s->walk and then copied into a blob. Stops (and
 * marks the record truncated) after PG_WALK_DEPTH components. The walk runs
 * under bpf_loop so the verifier checks one step, not every unrolled one.
 */
struct walk_ctx {
  struct pg_scratch *s;
  struct dentry *d;
  struct vfsmount *vm;
  struct mount *m;
  __u32 pos;
  __u32 done;
};

static long walk_step(__u32 i, struct walk_ctx *w)
{
  struct pg_scratch *s = w->s;
  if (!s)
    return 1;
  struct dentry *d = w->d;
  struct vfsmount *vm = w->vm;
  struct mount *m = w->m;
  struct dentry *root = BPF_CORE_READ(vm, mnt_root);
  struct dentry *parent = BPF_CORE_READ(d, d_parent);
  if (d == root) {
    struct mount *mp = BPF_CORE_READ(m, mnt_parent);
    if (mp == m || !mp) {
      w->done = 1;
      return 1;
    }
    w->d = BPF_CORE_READ(m, mnt_mountpoint);
    w->m = mp;
    w->vm = (void *)mp + bpf_core_field_offset(struct mount, mnt);
    return 0;
  }
  if (d == parent || !parent) {
    w->done = 1;
    return 1;
  }
  __u32 len = BPF_CORE_READ(d, d_name.len) & 255;
  const unsigned char *name = BPF_CORE_READ(d, d_name.name);
  __u32 pos = w->pos;
  if (pos < len + 1 || pos > PG_PATH_MAX)
    return 1;
  pos = (pos - len - 1) & (PG_PATH_MAX - 1);
  s->walk[pos] = '/';
  bpf_probe_read_kernel(&s->walk[pos + 1], len, name);
  w->pos = pos;
  w->d = parent;
  return 0;
}

__noinline int pg_add_dentry_path(struct pg_scratch *s, __u32 tag, __u64 dentry, __u64 vfsmount)
{
  /* A global function: the verifier checks it once, not once per call site. */
  if (!s || !dentry || !vfsmount)
    return 0;
  struct walk_ctx w = {
    .s = s,
    .d = (struct dentry *)dentry,
    .vm = (struct vfsmount *)vfsmount,
    .m = (void *)vfsmount - bpf_core_field_offset(struct mount, mnt),
    .pos = PG_PATH_MAX,
    .done = 0,
  };
  bpf_loop(PG_WALK_DEPTH, walk_step, &w, 0);
  if (!w.done)
    HDR(s)->flags |= PG_HF_TRUNCATED;
  __u32 pos = w.pos;
  if (pos >= PG_PATH_MAX) {
    pos = PG_PATH_MAX - 1;
    s->walk[pos] = '/';
  }
  int off = blob_start(s);
  if (off < 0)
    return 0;
  pos &= (PG_PATH_MAX - 1);
  __u32 n = PG_PATH_MAX - pos;
  if (n > PG_PATH_MAX)
    return 0;
  bpf_probe_read_kernel(&s->buf[off + PG_BLOB_PREFIX], n, &s->walk[pos]);
  blob_end(s, off, tag, n);
  return 0;
}

static __always_inline struct file *fd_file(struct task_struct *t, int fd)
{
  if (fd < 0)
    return 0;
  struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
  if (!fdt)
    return 0;
  unsigned int max = BPF_CORE_READ(fdt, max_fds);
  if ((unsigned int)fd >= max)
    return 0;
  struct file **fds = BPF_CORE_READ(fdt, fd);
  struct file *f = 0;
  bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
  return f;
}

static __always_inline void add_file_path(struct pg_scratch *s, __u16 tag, struct file *f)
{
  if (!f)
    return;
  struct dentry *d = BPF_CORE_READ(f, f_path.dentry);
  struct vfsmount *vm = BPF_CORE_READ(f, f_path.mnt);
  pg_add_dentry_path(s, tag, (__u64)d, (__u64)vm);
}

static __always_inline void add_cwd(struct pg_scratch *s, __u16 tag, struct task_struct *t)
{
  struct dentry *d = BPF_CORE_READ(t, fs, pwd.dentry);
  struct vfsmount *vm = BPF_CORE_READ(t, fs, pwd.mnt);
  pg_add_dentry_path(s, tag, (__u64)d, (__u64)vm);
}

static __always_inline void add_tuple(struct pg_scratch *s, struct task_struct *t, int fd)
{
  struct file *f = fd_file(t, fd);
  if (!f)
    return;
  struct socket *sock = BPF_CORE_READ(f, private_data);
  if (!sock || BPF_CORE_READ(sock, file) != f)
    return; /* not a socket */
  struct sock *sk = BPF_CORE_READ(sock, sk);
  if (!sk)
    return;
  int off = blob_start(s);
  if (off < 0)
    return;
  struct pg_tuple *tp = (struct pg_tuple *)&s->buf[off + PG_BLOB_PREFIX];
  __builtin_memset(tp, 0, sizeof(*tp));
  tp->family = BPF_CORE_READ(sk, __sk_common.skc_family);
  tp->proto = BPF_CORE_READ(sk, sk_protocol);
  tp->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
  tp->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
  if (tp->family == 2) {
    bpf_probe_read_kernel(tp->saddr, 4, __builtin_preserve_access_index(&sk->__sk_common.skc_rcv_saddr));
    bpf_probe_read_kernel(tp->daddr, 4, __builtin_preserve_access_index(&sk->__sk_common.skc_daddr));
  } else if (tp->family == 10) {
    bpf_probe_read_kernel(tp->saddr, 16, __builtin_preserve_access_index(&sk->__sk_common.skc_v6_rcv_saddr));
    bpf_probe_read_kernel(tp->daddr, 16, __builtin_preserve_access_index(&sk->__sk_common.skc_v6_daddr));
  }
  blob_end(s, off, PG_TAG_TUPLE, sizeof(*tp));
}

static __always_inline void add_user_bytes(struct pg_scratch *s, __u16 tag, __u64 uaddr, __u64 len)
{
  if (!uaddr || len == 0)
    return;
  if (len > PG_SOCKADDR_MAX)
    len = PG_SOCKADDR_MAX;
  int off = blob_start(s);
  if (off < 0)
    return;
  len &= 127;
  if (bpf_probe_read_user(&s->buf[off + PG_BLOB_PREFIX], len, (const void *)uaddr) < 0)
    return;
  blob_end(s, off, tag, (__u32)len);
}

/*
 * True when the first path is excluded by a prefix rule for this syscall. The
 * LPM key {u32 prefixlen, u8 id_hi, u8 id_lo, path…} is laid over the record
 * itself, in the 6 bytes just before PATH0's data (the end of args[5] and the
 * blob prefix), which are saved and restored around the lookup: the path is
 * not copied.
 */
static __always_inline int path_excluded(struct pg_scratch *s, __u16 sc, int data_off)
{
  const __u32 doff = PG_HEADER_SIZE + PG_BLOB_PREFIX; /* PATH0 is always the first blob */
  if (data_off != doff || s->buf[doff] != '/')
    return 0;
  __u32 len = *(__u16 *)&s->buf[PG_HEADER_SIZE + 2];
  if (len > PG_PREFIX_MAX)
    len = PG_PREFIX_MAX;
  __u64 saved = *(__u64 *)&s->buf[doff - 8];
  struct pg_prefix_key *k = (struct pg_prefix_key *)&s->buf[doff - 6];
  k->prefixlen = (2 + len) * 8;
  k->data[0] = sc >> 8;
  k->data[1] = sc & 0xff;
  int hit = bpf_map_lookup_elem(&pg_excluded_prefixes, k) != 0;
  *(__u64 *)&s->buf[doff - 8] = saved;
  return hit;
}

static __always_inline void submit(struct pg_scratch *s, struct pg_counters *c)
{
  struct pg_event_header *h = (struct pg_event_header *)s->buf;
  __u32 len = h->len;
  if (len > PG_BUF_SIZE - 1 || len < PG_HEADER_SIZE)
    return;
  /*
   * Checking the fill level is itself a helper call: do it every 16th record.
   * Past the threshold, wake the reader once per consumer position.
   */
  __u64 wake = BPF_RB_NO_WAKEUP;
  if ((c->n_evts & 15) == 0 && bpf_ringbuf_query(&pg_ring, BPF_RB_AVAIL_DATA) >= pg_wakeup_bytes) {
    __u64 cons = bpf_ringbuf_query(&pg_ring, BPF_RB_CONS_POS) + 1;
    if (cons != pg_woken_cons) {
      pg_woken_cons = cons;
      wake = BPF_RB_FORCE_WAKEUP;
    }
  }
  if (bpf_ringbuf_output(&pg_ring, s->buf, len & (PG_BUF_SIZE - 1), wake)) {
    c->n_drops_buffer++;
    return;
  }
  c->n_evts++;
  __u32 sc = h->syscall;
  if (sc < PG_SC_COUNT)
    c->n_by_syscall[sc]++;
}

/* The bytes of a comm word before its first NUL, the rest zeroed (older kernels leave stale bytes after it). */
static __always_inline __u64 comm_word(__u64 w)
{
  __u64 z = (w - 0x0101010101010101ULL) & ~w & 0x8080808080808080ULL;
  if (!z)
    return w;
  return w & (((z & -z) >> 7) - 1);
}

static __always_inline int self_excluded(struct pg_counters *c, __u32 tgid, struct task_struct *t)
{
  /* Our own process is the common exclusion: a compare, not a hash lookup. */
  if (tgid == pg_self_tgid || (pg_npids && bpf_map_lookup_elem(&pg_excluded_pids, &tgid))) {
    c->n_filtered_pid++;
    return 1;
  }
  if (pg_ncomms) {
    /* The key as userspace writes it (NUL-padded), from direct loads rather than bpf_get_current_comm. */
    __u64 comm[2];
    __builtin_memcpy(comm, t->comm, sizeof(comm));
    comm[0] = comm_word(comm[0]);
    comm[1] = comm[0] >> 56 ? comm_word(comm[1]) : 0;
    if (bpf_map_lookup_elem(&pg_excluded_comms, comm)) {
      c->n_filtered_comm++;
      return 1;
    }
  }
  return 0;
}

static __always_inline void add_path(struct pg_scratch *s, struct task_struct *t, struct pg_event_header *h,
                                     __u16 tag, __u16 base_tag, __u8 parg, __u8 darg, int *data_off)
{
  *data_off = -1;
  if (parg >= 6)
    return;
  int doff = add_user_str(s, tag, (const void *)h->args[parg]);
  *data_off = doff;
  if (doff < 0 || darg == PG_ARG_NONE)
    return;
  if (s->buf[doff & PG_OFF_MASK] == '/')
    return; /* absolute: nothing to resolve */
  int dirfd = AT_FDCWD_INT;
  if (darg < 6)
    dirfd = (int)h->args[darg];
  if (dirfd == AT_FDCWD_INT)
    add_cwd(s, base_tag, t);
  else
    add_file_path(s, base_tag, fd_file(t, dirfd));
}

SEC("tp_btf/sys_exit")
int BPF_PROG(pg_sys_exit, struct pt_regs *regs, long ret)
{
  __u32 nr = (__u32)regs->orig_ax;
  if (nr >= PG_MAX_SYSCALL_NR)
    return 0;
  struct pg_sc_desc *d = bpf_map_lookup_elem(&pg_syscalls, &nr);
  if (!d || !d->id)
    return 0;
  /*
   * fcntl is frequent and mostly irrelevant (F_GETFL, F_SETFL, locks): only the
   * commands that change the fd table reach the record, the rest are not even
   * counted as seen.
   */
  if (d->flags & PG_DESC_FCNTL) {
    __u64 cmd = regs->si;
    if (cmd != 0 /* F_DUPFD */ && cmd != 1030 /* F_DUPFD_CLOEXEC */ && cmd != 2 /* F_SETFD */)
      return 0;
  }
  struct pg_counters *c = counters();
  if (!c)
    return 0;
  c->n_seen++;
  struct task_struct *t = bpf_get_current_task_btf();
  if (self_excluded(c, t->tgid, t))
    return 0;
  struct pg_scratch *s = scratch();
  if (!s)
    return 0;
  __u16 sc = d->id;
  fill_header(s, t, PG_KIND_SYSCALL, sc);
  struct pg_event_header *h = (struct pg_event_header *)s->buf;
  h->res = ret;
  h->args[0] = regs->di;
  h->args[1] = regs->si;
  h->args[2] = regs->dx;
  h->args[3] = regs->r10;
  h->args[4] = regs->r8;
  h->args[5] = regs->r9;

  __u16 flags = d->flags;
  __u8 sock = d->sock;
  __u8 str_arg = d->str_arg;
  __u8 p0 = d->path_arg[0], p1 = d->path_arg[1];
  __u8 d0 = d->dirfd_arg[0], d1 = d->dirfd_arg[1];

  /* After a successful exec the caller's memory is gone; the EXEC record carries the image. */
  if (!((flags & PG_DESC_EXEC) && ret == 0)) {
    int doff;
    add_path(s, t, h, PG_TAG_PATH0, PG_TAG_BASE0, p0, d0, &doff);
    if (pg_nprefixes && path_excluded(s, sc, doff)) {
      c->n_filtered_path++;
      return 0;
    }
    add_path(s, t, h, PG_TAG_PATH1, PG_TAG_BASE1, p1, d1, &doff);
  }
  /* Plain path syscalls (the bulk: open*, mkdir, unlink…) need none of the extras: one test. */
  if ((flags & ~PG_DESC_EXEC) || sock != PG_SOCK_NONE || str_arg < 6) {
    if (str_arg < 6)
      add_user_str(s, PG_TAG_STR, (const void *)h->args[str_arg & 7]);
    if (flags & PG_DESC_ADDR_CONNECT)
      add_user_bytes(s, PG_TAG_SOCKADDR, h->args[1], h->args[2]);
    else if (flags & PG_DESC_ADDR_SENDTO)
      add_user_bytes(s, PG_TAG_SOCKADDR, h->args[4], h->args[5]);
    else if (flags & PG_DESC_ADDR_MSGHDR) {
      struct user_msghdr mh = {};
      if (h->args[1] && bpf_probe_read_user(&mh, sizeof(mh), (const void *)h->args[1]) == 0)
        add_user_bytes(s, PG_TAG_SOCKADDR, (__u64)mh.msg_name, mh.msg_namelen);
    } else if ((flags & PG_DESC_ADDR_ACCEPT) && ret >= 0 && h->args[2]) {
      int alen = 0;
      bpf_probe_read_user(&alen, sizeof(alen), (const void *)h->args[2]);
      if (alen > 0)
        add_user_bytes(s, PG_TAG_SOCKADDR, h->args[1], (__u64)alen);
    }
    else if ((flags & PG_DESC_ADDR_RECVFROM) && ret >= 0 && h->args[5]) {
      int alen = 0;
      bpf_probe_read_user(&alen, sizeof(alen), (const void *)h->args[5]);
      if (alen > 0)
        add_user_bytes(s, PG_TAG_SOCKADDR, h->args[4], (__u64)alen);
    }
    if (flags & PG_DESC_OPENHOW)
      add_user_bytes(s, PG_TAG_OPENHOW, h->args[2], 24);
    if (sock == PG_SOCK_ARG0)
      add_tuple(s, t, (int)h->args[0]);
    else if (sock == PG_SOCK_RET && ret >= 0)
      add_tuple(s, t, (int)ret);
    if (flags & PG_DESC_FDPATH)
      add_file_path(s, PG_TAG_FDPATH, fd_file(t, (int)h->args[0]));
    if ((flags & PG_DESC_PRCTL) && (h->args[0] == 15 /* PR_SET_NAME */ || h->args[0] == 16 /* PR_GET_NAME */))
      add_user_str(s, PG_TAG_STR, (const void *)h->args[1]);
    if (ret == 0) {
      /* At exit the task's cwd is already the new one: the record carries it resolved. */
      if (flags & PG_DESC_CWD)
        add_cwd(s, PG_TAG_CWD, t);
      if (flags & PG_DESC_FDS_ARG0)
        add_user_bytes(s, PG_TAG_FDS, h->args[0], sizeof(struct pg_fd_pair));
      else if (flags & PG_DESC_FDS_ARG3)
        add_user_bytes(s, PG_TAG_FDS, h->args[3], sizeof(struct pg_fd_pair));
    }
  }
  submit(s, c);
  return 0;
}

/*
 * The common start of the scheduler programs: enabled by `mask_bit`, counted,
 * the judged process (`judged_pid`, or the current one when 0) not excluded,
 * scratch space available. NULL: emit nothing. *task is the current task.
 */
static __always_inline struct pg_scratch *sched_begin(__u32 mask_bit, __u32 judged_pid, struct pg_counters **out,
                                                      struct task_struct **task)
{
  if (!(pg_sched_mask & mask_bit))
    return NULL;
  struct pg_counters *c = counters();
  if (!c)
    return NULL;
  c->n_seen++;
  struct task_struct *t = bpf_get_current_task_btf();
  if (self_excluded(c, judged_pid ? judged_pid : t->tgid, t))
    return NULL;
  *out = c;
  *task = t;
  return scratch();
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(pg_sched_fork, struct task_struct *parent, struct task_struct *child)
{
  struct pg_counters *c = NULL;
  struct task_struct *t = NULL;
  /* Judged by the child: an excluded process's new threads are excluded, its children are not. */
  struct pg_scratch *s = sched_begin(1, child->tgid, &c, &t);
  if (!s || !c || !t)
    return 0;
  fill_header(s, t, PG_KIND_FORK, 0);
  struct pg_event_header *h = (struct pg_event_header *)s->buf;
  /* The header describes the child; args[0..1] keep the parent's tid and pid. */
  h->args[0] = h->tid;
  h->args[1] = h->pid;
  h->args[2] = 0;
  h->args[3] = 0;
  h->args[4] = 0;
  h->args[5] = 0;
  h->tid = child->pid;
  h->pid = child->tgid;
  h->ppid = child->real_parent->tgid;
  h->res = child->pid;
  if (child->pid != child->tgid)
    HDR(s)->flags |= PG_HF_THREAD;
  submit(s, c);
  return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(pg_sched_exit, struct task_struct *p)
{
  struct pg_counters *c = NULL;
  struct task_struct *t = NULL;
  struct pg_scratch *s = sched_begin(4, 0, &c, &t);
  if (!s || !c || !t)
    return 0;
  fill_header(s, t, PG_KIND_EXIT, 0);
  struct pg_event_header *h = (struct pg_event_header *)s->buf;
  __builtin_memset(h->args, 0, sizeof(h->args));
  h->res = p->exit_code;
  if (p->pid != p->tgid)
    HDR(s)->flags |= PG_HF_THREAD;
  submit(s, c);
  return 0;
}

/*
 * Exec facts Falco's rules read from its execve `flags` (proc.is_exe_writable,
 * proc.is_exe_upper_layer, proc.is_exe_from_memfd) and its cgroups, computed
 * here the way the kernel decides them. All of this runs once per exec.
 */
#define PG_OVERLAYFS_MAGIC 0x794c7630
#define PG_SB_RDONLY 1
#define PG_S_IMMUTABLE 8
#define PG_CAP_DAC_OVERRIDE 1
#define PG_CAP_FOWNER 3
#define PG_UID_GID_INLINE_EXTENTS 5 /* UID_GID_MAP_MAX_BASE_EXTENTS */
#define PG_GROUP_SEARCH_STEPS 17    /* binary search over at most NGROUPS_MAX (65536) */

/* True when kernel id `id` has a mapping in the user namespace map (map_id_up() != -1). */
static __always_inline int id_mapped(struct uid_gid_map *map, __u32 id)
{
  __u32 n = BPF_CORE_READ(map, nr_extents);
  if (n > PG_UID_GID_INLINE_EXTENTS)
    return 1; /* extents kept out of line (sorted arrays): not followed; mapped is the safe answer */
  for (int j = 0; j < PG_UID_GID_INLINE_EXTENTS; j++) {
    if (j >= n)
      break;
    __u32 first = BPF_CORE_READ(map, extent[j].lower_first);
    __u32 count = BPF_CORE_READ(map, extent[j].count);
    if (id >= first && id - first < count)
      return 1;
  }
  return 0;
}

/* groups_search(): the supplementary groups are kept sorted. */
static __always_inline int in_groups(const struct cred *cred, __u32 gid)
{
  struct group_info *gi = BPF_CORE_READ(cred, group_info);
  if (!gi)
    return 0;
  __u32 lo = 0, hi = BPF_CORE_READ(gi, ngroups);
  for (int j = 0; j < PG_GROUP_SEARCH_STEPS; j++) {
    if (lo >= hi)
      break;
    __u32 mid = lo + (hi - lo) / 2;
    __u32 g = BPF_CORE_READ(gi, gid[mid].val);
    if (gid > g)
      lo = mid + 1;
    else if (gid < g)
      hi = mid;
    else
      return 1;
  }
  return 0;
}

/*
 * Could the task write its exe? The inode's owner counts as able (it may chmod
 * the file), then the mode bits of its group or of others, then
 * CAP_DAC_OVERRIDE / CAP_FOWNER when the inode's ids map into the task's user
 * namespace. A read-only mount or an immutable file is never writable. ACLs
 * and LSMs are not consulted.
 */
static __always_inline int exe_writable(const struct cred *cred, struct inode *ino)
{
  if (!ino)
    return 0;
  if (BPF_CORE_READ(ino, i_sb, s_flags) & PG_SB_RDONLY)
    return 0;
  if (BPF_CORE_READ(ino, i_flags) & PG_S_IMMUTABLE)
    return 0;
  if (!cred)
    return 0;
  __u32 iuid = BPF_CORE_READ(ino, i_uid.val);
  __u32 igid = BPF_CORE_READ(ino, i_gid.val);
  if (iuid == (__u32)-1 || igid == (__u32)-1)
    return 0;
  if (BPF_CORE_READ(cred, fsuid.val) == iuid)
    return 1;
  __u32 mode = BPF_CORE_READ(ino, i_mode);
  if (BPF_CORE_READ(cred, fsgid.val) == igid || in_groups(cred, igid))
    mode >>= 3;
  if (mode & 2) /* S_IWGRP or S_IWOTH after the shift */
    return 1;
  __u64 caps = 0;
  bpf_probe_read_kernel(&caps, sizeof(caps), __builtin_preserve_access_index(&cred->cap_effective));
  if (!(caps & ((1ULL << PG_CAP_DAC_OVERRIDE) | (1ULL << PG_CAP_FOWNER))))
    return 0;
  struct user_namespace *ns = BPF_CORE_READ(cred, user_ns);
  if (!ns)
    return 0;
  int uid_mapped = id_mapped(__builtin_preserve_access_index(&ns->uid_map), iuid);
  if ((caps & (1ULL << PG_CAP_DAC_OVERRIDE)) && uid_mapped && id_mapped(__builtin_preserve_access_index(&ns->gid_map), igid))
    return 1;
  return (caps & (1ULL << PG_CAP_FOWNER)) && uid_mapped;
}

/*
 * A global function: verified once, and keeps the exec program small. Global
 * functions take scalars, so the pointers come from probe reads, not the
 * trusted task pointer.
 */
__noinline __u32 pg_exe_flags(__u64 task_cred, __u64 exe_file)
{
  struct file *f = (struct file *)exe_file;
  if (!f)
    return 0;
  __u32 flags = 0;
  struct inode *fino = BPF_CORE_READ(f, f_inode);
  if (exe_writable((const struct cred *)task_cred, fino))
    flags |= PG_EXE_WRITABLE;
  struct dentry *d = BPF_CORE_READ(f, f_path.dentry);
  if (!d)
    return flags;
  if (BPF_CORE_READ(d, d_sb, s_magic) == PG_OVERLAYFS_MAGIC) {
    /*
     * struct ovl_inode (overlayfs is usually a module, absent from vmlinux BTF)
     * keeps its upper dentry right after the embedded VFS inode: present means
     * the file was written (or copied up) in the upper layer.
     */
    struct inode *vino = BPF_CORE_READ(d, d_inode);
    struct dentry *upper = 0;
    __u64 isize = bpf_core_type_size(struct inode);
    if (vino && isize)
      bpf_probe_read_kernel(&upper, sizeof(upper), (void *)vino + isize);
    flags |= (upper && BPF_CORE_READ(upper, d_inode)) ? PG_EXE_UPPER_LAYER : PG_EXE_LOWER_LAYER;
  }
  /* memfd_create files are pseudo dentries (their own parent) named "memfd:<name>". */
  if (BPF_CORE_READ(d, d_parent) == d) {
    char name[8] = {};
    bpf_probe_read_kernel(name, 6, BPF_CORE_READ(d, d_name.name));
    if (name[0] == 'm' && name[1] == 'e' && name[2] == 'm' && name[3] == 'f' && name[4] == 'd' && name[5] == ':')
      flags |= PG_EXE_FROM_MEMFD;
  }
  return flags;
}

/* kernfs_node's parent pointer was renamed to __parent in 6.15. */
struct kernfs_node___new {
  struct kernfs_node *__parent;
} __attribute__((preserve_access_index));
struct kernfs_node___old {
  struct kernfs_node *parent;
} __attribute__((preserve_access_index));

static __always_inline struct kernfs_node *kn_parent(struct kernfs_node *kn)
{
  struct kernfs_node___new *n = (void *)kn;
  if (bpf_core_field_exists(n->__parent))
    return BPF_CORE_READ(n, __parent);
  return BPF_CORE_READ((struct kernfs_node___old *)kn, parent);
}

struct cg_walk_ctx {
  struct pg_scratch *s;
  struct kernfs_node *kn;
  __u32 pos;
  __u32 done;
};

/* One cgroup path component, right to left into s->walk (the hierarchy's root has no parent and no name in the path). */
static long cg_walk_step(__u32 i, struct cg_walk_ctx *w)
{
  struct pg_scratch *s = w->s;
  struct kernfs_node *kn = w->kn; /* a local: CO-RE reads relocate kernel types, not cg_walk_ctx */
  if (!s || !kn)
    return 1;
  struct kernfs_node *parent = kn_parent(kn);
  if (!parent) {
    w->done = 1;
    return 1;
  }
  const char *name = BPF_CORE_READ(kn, name);
  /* Its length first, into the spare bytes past PG_PATH_MAX, then the bytes into place. */
  long n = bpf_probe_read_kernel_str(&s->walk[PG_PATH_MAX], 256, name);
  if (n <= 1) {
    w->kn = parent;
    return 0;
  }
  __u32 len = (__u32)(n - 1) & 255;
  __u32 pos = w->pos;
  if (pos < len + 1 || pos > PG_PATH_MAX)
    return 1; /* no room: the leading components are cut */
  pos = (pos - len - 1) & (PG_PATH_MAX - 1);
  s->walk[pos] = '/';
  bpf_probe_read_kernel(&s->walk[pos + 1], len, name);
  w->pos = pos;
  w->kn = parent;
  return 0;
}

/*
 * PG_TAG_CGROUP_PATH: the task's cgroup path in the hierarchy of the cpu
 * controller when that is a v1 hierarchy (on hybrid machines the v2 default
 * hierarchy is the root for every container: container runtimes place their
 * cgroups only in the v1 ones), else its cgroup v2 path.
 */
__noinline int pg_add_cgroup_path(struct pg_scratch *s, __u64 css_set)
{
  struct css_set *cs = (struct css_set *)css_set;
  if (!s || !cs)
    return 0;
  struct cgroup *dfl = BPF_CORE_READ(cs, dfl_cgrp);
  struct cgroup *cg = dfl;
  if (bpf_core_enum_value_exists(enum cgroup_subsys_id, cpu_cgrp_id)) {
    int id = bpf_core_enum_value(enum cgroup_subsys_id, cpu_cgrp_id);
    struct cgroup_subsys_state *css = BPF_CORE_READ(cs, subsys[id]);
    struct cgroup *v1 = css ? BPF_CORE_READ(css, cgroup) : 0;
    if (v1 && BPF_CORE_READ(v1, root) != BPF_CORE_READ(dfl, root))
      cg = v1;
  }
  struct cg_walk_ctx w = { .s = s, .kn = BPF_CORE_READ(cg, kn), .pos = PG_PATH_MAX, .done = 0 };
  if (!w.kn)
    return 0;
  bpf_loop(PG_CGROUP_DEPTH, cg_walk_step, &w, 0);
  if (!w.done)
    HDR(s)->flags |= PG_HF_TRUNCATED;
  __u32 pos = w.pos;
  if (pos >= PG_PATH_MAX) {
    pos = PG_PATH_MAX - 1; /* the hierarchy's root cgroup */
    s->walk[pos] = '/';
  }
  int off = blob_start(s);
  if (off < 0)
    return 0;
  pos &= (PG_PATH_MAX - 1);
  __u32 n = PG_PATH_MAX - pos;
  if (n > PG_PATH_MAX)
    return 0;
  bpf_probe_read_kernel(&s->buf[off + PG_BLOB_PREFIX], n, &s->walk[pos]);
  blob_end(s, off, PG_TAG_CGROUP_PATH, n);
  return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(pg_sched_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
  struct pg_counters *c = NULL;
  struct task_struct *t = NULL;
  struct pg_scratch *s = sched_begin(2, 0, &c, &t);
  if (!s || !c || !t)
    return 0;
  fill_header(s, t, PG_KIND_EXEC, 0);
  struct pg_event_header *h = (struct pg_event_header *)s->buf;
  __builtin_memset(h->args, 0, sizeof(h->args));
  h->args[0] = old_pid;

  add_kernel_str(s, PG_TAG_FILENAME, BPF_CORE_READ(bprm, filename));
  struct mm_struct *mm = BPF_CORE_READ(t, mm);
  add_user_mem(s, PG_TAG_ARGV, BPF_CORE_READ(mm, arg_start), BPF_CORE_READ(mm, arg_end), PG_ARGV_MAX);
  add_user_mem(s, PG_TAG_ENV, BPF_CORE_READ(mm, env_start), BPF_CORE_READ(mm, env_end), PG_ENV_MAX);
  add_cwd(s, PG_TAG_CWD, t);

  int off = blob_start(s);
  if (off >= 0) {
    struct pg_exec_info *xi = (struct pg_exec_info *)&s->buf[off + PG_BLOB_PREFIX];
    __builtin_memset(xi, 0, sizeof(*xi));
    if (bpf_core_field_exists(t->loginuid))
      xi->loginuid = BPF_CORE_READ(t, loginuid.val);
    struct tty_struct *tty = BPF_CORE_READ(t, signal, tty);
    if (tty) {
      __u32 major = BPF_CORE_READ(tty, driver, major);
      __u32 minor = BPF_CORE_READ(tty, driver, minor_start) + BPF_CORE_READ(tty, index);
      xi->tty = (major << 20) | (minor & 0xfffff);
    }
    xi->euid = BPF_CORE_READ(t, cred, euid.val);
    xi->egid = BPF_CORE_READ(t, cred, egid.val);
    struct pid *pg = BPF_CORE_READ(t, signal, pids[PIDTYPE_PGID]);
    xi->pgid = BPF_CORE_READ(pg, numbers[0].nr);
    struct pid *sid = BPF_CORE_READ(t, signal, pids[PIDTYPE_SID]);
    xi->sid = BPF_CORE_READ(sid, numbers[0].nr);
    const struct cred *cred = BPF_CORE_READ(t, cred);
    /* kernel_cap_t is a u64 since 6.3 and u32[2] before: the same 8 bytes on little-endian. */
    bpf_probe_read_kernel(&xi->cap_effective, 8, __builtin_preserve_access_index(&cred->cap_effective));
    bpf_probe_read_kernel(&xi->cap_permitted, 8, __builtin_preserve_access_index(&cred->cap_permitted));
    bpf_probe_read_kernel(&xi->cap_inheritable, 8, __builtin_preserve_access_index(&cred->cap_inheritable));
    struct file *exe = BPF_CORE_READ(mm, exe_file);
    xi->exe_flags = pg_exe_flags((__u64)cred, (__u64)exe);
    struct inode *ino = BPF_CORE_READ(exe, f_inode);
    if (ino) {
      xi->exe_ino = BPF_CORE_READ(ino, i_ino);
      xi->exe_dev = BPF_CORE_READ(ino, i_sb, s_dev);
      if (bpf_core_field_exists(ino->i_ctime_sec)) {
        xi->exe_ctime_sec = BPF_CORE_READ(ino, i_ctime_sec);
        xi->exe_mtime_sec = BPF_CORE_READ(ino, i_mtime_sec);
      }
    }
    blob_end(s, off, PG_TAG_EXECINFO, sizeof(*xi));
  }
  add_kernel_str(s, PG_TAG_CGROUP, BPF_CORE_READ(t, cgroups, dfl_cgrp, kn, name));
  pg_add_cgroup_path(s, (__u64)BPF_CORE_READ(t, cgroups));
  submit(s, c);
  return 0;
}
