/*
 * Test helper: performs exactly the syscalls named on its command line, in
 * order, through syscall(2) so libc cannot substitute a different one, and
 * prints one JSON line per call: {"op":..,"ret":..} with ret = -errno on
 * failure. The first line gives the helper's own pid/tid/ppid.
 *
 *   sysc chdir /tmp/x openat cwd rel.txt 0x241 0644 close 3 ...
 *
 * Directory arguments ("DIR") are `cwd` (AT_FDCWD), `fd:N`, or `dir:PATH`
 * (opened O_PATH|O_DIRECTORY first; that open is reported as op "diropen").
 * A numeric argument `last` stands for the latest positive result (an fd).
 * `flood N PATH` calls openat+close N times (for the flood test and bench);
 * `flood-secs S PATH` does the same for S seconds. Calls that return two fds
 * (pipe, pipe2, socketpair) print them as two extra {"op":"fd"} lines.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

static long last_positive = -1; /* the argument "last" means the latest positive result (an fd) */

static long report(const char *op, long r)
{
  long v = r < 0 ? -errno : r;
  if (v > 0)
    last_positive = v;
  printf("{\"op\":\"%s\",\"ret\":%ld}\n", op, v);
  fflush(stdout);
  return v;
}

static void report_fds(const int fds[2])
{
  printf("{\"op\":\"fd\",\"ret\":%d}\n{\"op\":\"fd\",\"ret\":%d}\n", fds[0], fds[1]);
  fflush(stdout);
}

static long num(const char *s) { return strcmp(s, "last") == 0 ? last_positive : strtol(s, NULL, 0); }

static int dirfd_of(const char *spec)
{
  if (strcmp(spec, "cwd") == 0)
    return AT_FDCWD;
  if (strncmp(spec, "fd:", 3) == 0)
    return (int)num(spec + 3);
  if (strncmp(spec, "dir:", 4) == 0)
    return (int)report("diropen", syscall(SYS_openat, AT_FDCWD, spec + 4, O_PATH | O_DIRECTORY | O_CLOEXEC, 0));
  fprintf(stderr, "bad dir spec %s\n", spec);
  exit(2);
}

static struct sockaddr_in loopback(int port)
{
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
  printf("{\"pid\":%ld,\"tid\":%ld,\"ppid\":%ld}\n", (long)getpid(), (long)syscall(SYS_gettid), (long)getppid());
  fflush(stdout);
  /* Marker: tests start matching calls after close(-4242) (the loader's own calls come before). */
  syscall(SYS_close, -4242);
  int i = 1;
#define NEED(n)                                                   \
  do {                                                            \
    if (i + (n) >= argc) {                                        \
      fprintf(stderr, "%s needs %d arguments\n", argv[i], (n));   \
      return 2;                                                   \
    }                                                             \
  } while (0)
  while (i < argc) {
    const char *op = argv[i];
    if (!strcmp(op, "chdir")) {
      NEED(1);
      report(op, syscall(SYS_chdir, argv[i + 1]));
      i += 2;
    } else if (!strcmp(op, "open")) {
      NEED(3);
      report(op, syscall(SYS_open, argv[i + 1], num(argv[i + 2]), num(argv[i + 3])));
      i += 4;
    } else if (!strcmp(op, "openat")) {
      NEED(4);
      int d = dirfd_of(argv[i + 1]);
      report(op, syscall(SYS_openat, d, argv[i + 2], num(argv[i + 3]), num(argv[i + 4])));
      i += 5;
    } else if (!strcmp(op, "openat2")) {
      NEED(5);
      int d = dirfd_of(argv[i + 1]);
      struct open_how how;
      memset(&how, 0, sizeof(how));
      how.flags = num(argv[i + 3]);
      how.mode = num(argv[i + 4]);
      how.resolve = num(argv[i + 5]);
      report(op, syscall(SYS_openat2, d, argv[i + 2], &how, sizeof(how)));
      i += 6;
    } else if (!strcmp(op, "creat")) {
      NEED(2);
      report(op, syscall(SYS_creat, argv[i + 1], num(argv[i + 2])));
      i += 3;
    } else if (!strcmp(op, "mkdir")) {
      NEED(2);
      report(op, syscall(SYS_mkdir, argv[i + 1], num(argv[i + 2])));
      i += 3;
    } else if (!strcmp(op, "mkdirat")) {
      NEED(3);
      int d = dirfd_of(argv[i + 1]);
      report(op, syscall(SYS_mkdirat, d, argv[i + 2], num(argv[i + 3])));
      i += 4;
    } else if (!strcmp(op, "rmdir")) {
      NEED(1);
      report(op, syscall(SYS_rmdir, argv[i + 1]));
      i += 2;
    } else if (!strcmp(op, "unlink")) {
      NEED(1);
      report(op, syscall(SYS_unlink, argv[i + 1]));
      i += 2;
    } else if (!strcmp(op, "unlinkat")) {
      NEED(3);
      int d = dirfd_of(argv[i + 1]);
      report(op, syscall(SYS_unlinkat, d, argv[i + 2], num(argv[i + 3])));
      i += 4;
    } else if (!strcmp(op, "chmod")) {
      NEED(2);
      report(op, syscall(SYS_chmod, argv[i + 1], num(argv[i + 2])));
      i += 3;
    } else if (!strcmp(op, "fchmod")) {
      NEED(2);
      report(op, syscall(SYS_fchmod, num(argv[i + 1]), num(argv[i + 2])));
      i += 3;
    } else if (!strcmp(op, "fchmodat")) {
      NEED(3);
      int d = dirfd_of(argv[i + 1]);
      report(op, syscall(SYS_fchmodat, d, argv[i + 2], num(argv[i + 3])));
      i += 4;
    } else if (!strcmp(op, "rename")) {
      NEED(2);
      report(op, syscall(SYS_rename, argv[i + 1], argv[i + 2]));
      i += 3;
    } else if (!strcmp(op, "renameat")) {
      NEED(4);
      int a = dirfd_of(argv[i + 1]);
      int b = dirfd_of(argv[i + 3]);
      report(op, syscall(SYS_renameat, a, argv[i + 2], b, argv[i + 4]));
      i += 5;
    } else if (!strcmp(op, "renameat2")) {
      NEED(5);
      int a = dirfd_of(argv[i + 1]);
      int b = dirfd_of(argv[i + 3]);
      report(op, syscall(SYS_renameat2, a, argv[i + 2], b, argv[i + 4], num(argv[i + 5])));
      i += 6;
    } else if (!strcmp(op, "link")) {
      NEED(2);
      report(op, syscall(SYS_link, argv[i + 1], argv[i + 2]));
      i += 3;
    } else if (!strcmp(op, "linkat")) {
      NEED(5);
      int a = dirfd_of(argv[i + 1]);
      int b = dirfd_of(argv[i + 3]);
      report(op, syscall(SYS_linkat, a, argv[i + 2], b, argv[i + 4], num(argv[i + 5])));
      i += 6;
    } else if (!strcmp(op, "symlink")) {
      NEED(2);
      report(op, syscall(SYS_symlink, argv[i + 1], argv[i + 2]));
      i += 3;
    } else if (!strcmp(op, "symlinkat")) {
      NEED(3);
      int d = dirfd_of(argv[i + 2]);
      report(op, syscall(SYS_symlinkat, argv[i + 1], d, argv[i + 3]));
      i += 4;
    } else if (!strcmp(op, "close")) {
      NEED(1);
      report(op, syscall(SYS_close, num(argv[i + 1])));
      i += 2;
    } else if (!strcmp(op, "dup")) {
      NEED(1);
      report(op, syscall(SYS_dup, num(argv[i + 1])));
      i += 2;
    } else if (!strcmp(op, "dup2")) {
      NEED(2);
      report(op, syscall(SYS_dup2, num(argv[i + 1]), num(argv[i + 2])));
      i += 3;
    } else if (!strcmp(op, "dup3")) {
      NEED(3);
      report(op, syscall(SYS_dup3, num(argv[i + 1]), num(argv[i + 2]), num(argv[i + 3])));
      i += 4;
    } else if (!strcmp(op, "socket")) {
      NEED(3);
      report(op, syscall(SYS_socket, num(argv[i + 1]), num(argv[i + 2]), num(argv[i + 3])));
      i += 4;
    } else if (!strcmp(op, "tcp")) {
      /* tcp: a listener, a client connect, accept4, listen reported; prints ports. */
      int srv = socket(AF_INET, SOCK_STREAM, 0);
      struct sockaddr_in a = loopback(0);
      bind(srv, (struct sockaddr *)&a, sizeof(a));
      report("listen", syscall(SYS_listen, srv, 7));
      socklen_t al = sizeof(a);
      getsockname(srv, (struct sockaddr *)&a, &al);
      printf("{\"op\":\"port\",\"ret\":%d}\n", ntohs(a.sin_port));
      int cli = socket(AF_INET, SOCK_STREAM, 0);
      report("connect", syscall(SYS_connect, cli, &a, sizeof(a)));
      struct sockaddr_in peer;
      socklen_t pl = sizeof(peer);
      report("accept4", syscall(SYS_accept4, srv, &peer, &pl, SOCK_CLOEXEC));
      struct sockaddr_in bad = loopback(1);
      int cli2 = socket(AF_INET, SOCK_STREAM, 0);
      report("connect", syscall(SYS_connect, cli2, &bad, sizeof(bad)));
      report("accept", syscall(SYS_accept, -1, NULL, NULL));
      i += 1;
    } else if (!strcmp(op, "udp")) {
      /* udp: sendto, recvfrom, sendmsg, recvmsg between two loopback sockets. */
      int s1 = socket(AF_INET, SOCK_DGRAM, 0), s2 = socket(AF_INET, SOCK_DGRAM, 0);
      struct sockaddr_in a = loopback(0);
      bind(s2, (struct sockaddr *)&a, sizeof(a));
      socklen_t al = sizeof(a);
      getsockname(s2, (struct sockaddr *)&a, &al);
      printf("{\"op\":\"port\",\"ret\":%d}\n", ntohs(a.sin_port));
      report("sendto", syscall(SYS_sendto, s1, "ping", 4, 0, &a, sizeof(a)));
      char buf[16];
      struct sockaddr_in from;
      socklen_t fl = sizeof(from);
      report("recvfrom", syscall(SYS_recvfrom, s2, buf, sizeof(buf), 0, &from, &fl));
      struct iovec iov = {.iov_base = "pong", .iov_len = 4};
      struct msghdr mh;
      memset(&mh, 0, sizeof(mh));
      mh.msg_name = &a;
      mh.msg_namelen = sizeof(a);
      mh.msg_iov = &iov;
      mh.msg_iovlen = 1;
      report("sendmsg", syscall(SYS_sendmsg, s1, &mh, 0));
      struct iovec riov = {.iov_base = buf, .iov_len = sizeof(buf)};
      struct msghdr rh;
      memset(&rh, 0, sizeof(rh));
      rh.msg_name = &from;
      rh.msg_namelen = sizeof(from);
      rh.msg_iov = &riov;
      rh.msg_iovlen = 1;
      report("recvmsg", syscall(SYS_recvmsg, s2, &rh, 0));
      i += 1;
    } else if (!strcmp(op, "bpf")) {
      /* An invalid command: fails with EINVAL without touching anything. */
      char attr[128];
      memset(attr, 0, sizeof(attr));
      report(op, syscall(SYS_bpf, 9999, attr, sizeof(attr)));
      i += 1;
    } else if (!strcmp(op, "ptrace")) {
      NEED(2);
      report(op, syscall(SYS_ptrace, num(argv[i + 1]), num(argv[i + 2]), 0, 0));
      i += 3;
    } else if (!strcmp(op, "setns")) {
      NEED(2);
      report(op, syscall(SYS_setns, num(argv[i + 1]), num(argv[i + 2])));
      i += 3;
    } else if (!strcmp(op, "setuid")) {
      NEED(1);
      report(op, syscall(SYS_setuid, num(argv[i + 1])));
      i += 2;
    } else if (!strcmp(op, "unshare")) {
      NEED(1);
      report(op, syscall(SYS_unshare, num(argv[i + 1])));
      i += 2;
    } else if (!strcmp(op, "userfaultfd")) {
      NEED(1);
      report(op, syscall(SYS_userfaultfd, num(argv[i + 1])));
      i += 2;
    } else if (!strcmp(op, "init_module")) {
      /* A 16-byte image that is not an ELF module: always refused. */
      static const char img[16] = "not-a-module";
      report(op, syscall(SYS_init_module, img, sizeof(img), "pg_param=1"));
      i += 1;
    } else if (!strcmp(op, "finit_module")) {
      NEED(1);
      report(op, syscall(SYS_finit_module, num(argv[i + 1]), "pg_param=2", 0));
      i += 2;
    } else if (!strcmp(op, "fcntl")) {
      NEED(3);
      report(op, syscall(SYS_fcntl, num(argv[i + 1]), num(argv[i + 2]), num(argv[i + 3])));
      i += 4;
    } else if (!strcmp(op, "fchdir")) {
      NEED(1);
      report(op, syscall(SYS_fchdir, num(argv[i + 1])));
      i += 2;
    } else if (!strcmp(op, "pipe")) {
      int fds[2] = {-1, -1};
      if (report(op, syscall(SYS_pipe, fds)) == 0)
        report_fds(fds);
      i += 1;
    } else if (!strcmp(op, "pipe2")) {
      NEED(1);
      int fds[2] = {-1, -1};
      if (report(op, syscall(SYS_pipe2, fds, num(argv[i + 1]))) == 0)
        report_fds(fds);
      i += 2;
    } else if (!strcmp(op, "socketpair")) {
      NEED(2);
      int fds[2] = {-1, -1};
      if (report(op, syscall(SYS_socketpair, num(argv[i + 1]), num(argv[i + 2]), 0, fds)) == 0)
        report_fds(fds);
      i += 3;
    } else if (!strcmp(op, "memfd_create")) {
      NEED(2);
      report(op, syscall(SYS_memfd_create, argv[i + 1], num(argv[i + 2])));
      i += 3;
    } else if (!strcmp(op, "bind")) {
      /* bind a new UDP socket to 127.0.0.1:0 */
      int fd = socket(AF_INET, SOCK_DGRAM, 0);
      struct sockaddr_in a = loopback(0);
      report(op, syscall(SYS_bind, fd, &a, sizeof(a)));
      i += 1;
    } else if (!strcmp(op, "setgid")) {
      NEED(1);
      report(op, syscall(SYS_setgid, num(argv[i + 1])));
      i += 2;
    } else if (!strcmp(op, "setreuid") || !strcmp(op, "setregid")) {
      NEED(2);
      report(op, syscall(!strcmp(op, "setreuid") ? SYS_setreuid : SYS_setregid, num(argv[i + 1]), num(argv[i + 2])));
      i += 3;
    } else if (!strcmp(op, "setresuid") || !strcmp(op, "setresgid")) {
      NEED(3);
      report(op, syscall(!strcmp(op, "setresuid") ? SYS_setresuid : SYS_setresgid, num(argv[i + 1]), num(argv[i + 2]),
                         num(argv[i + 3])));
      i += 4;
    } else if (!strcmp(op, "mount")) {
      /* mount SRC DIR TYPE FLAGS */
      NEED(4);
      report(op, syscall(SYS_mount, argv[i + 1], argv[i + 2], argv[i + 3], num(argv[i + 4]), NULL));
      i += 5;
    } else if (!strcmp(op, "umount2")) {
      NEED(2);
      report(op, syscall(SYS_umount2, argv[i + 1], num(argv[i + 2])));
      i += 3;
    } else if (!strcmp(op, "prctl-setname")) {
      NEED(1);
      report("prctl", syscall(SYS_prctl, PR_SET_NAME, argv[i + 1], 0, 0, 0));
      i += 2;
    } else if (!strcmp(op, "prctl")) {
      NEED(2);
      report(op, syscall(SYS_prctl, num(argv[i + 1]), num(argv[i + 2]), 0, 0, 0));
      i += 3;
    } else if (!strcmp(op, "pidfd_open")) {
      NEED(2);
      report(op, syscall(SYS_pidfd_open, num(argv[i + 1]), num(argv[i + 2])));
      i += 3;
    } else if (!strcmp(op, "pidfd_getfd")) {
      NEED(3);
      report(op, syscall(SYS_pidfd_getfd, num(argv[i + 1]), num(argv[i + 2]), num(argv[i + 3])));
      i += 4;
    } else if (!strcmp(op, "process_vm_readv") || !strcmp(op, "process_vm_writev")) {
      /* PID: copy 8 bytes between two buffers of this process (through PID when it is us) */
      NEED(1);
      static char src[8] = "pg-vm-rw", dst[8];
      struct iovec local = {.iov_base = dst, .iov_len = sizeof(dst)};
      struct iovec remote = {.iov_base = src, .iov_len = sizeof(src)};
      long nr = !strcmp(op, "process_vm_readv") ? SYS_process_vm_readv : SYS_process_vm_writev;
      report(op, syscall(nr, num(argv[i + 1]), &local, 1, &remote, 1, 0));
      i += 2;
    } else if (!strcmp(op, "memfd-exec")) {
      /* memfd-exec PATH ARGS...: copy PATH into a memfd and execveat it (AT_EMPTY_PATH); must come last. */
      NEED(1);
      int mfd = (int)report("memfd_create", syscall(SYS_memfd_create, "pg-fileless", 0));
      int in = open(argv[i + 1], O_RDONLY | O_CLOEXEC);
      char buf[65536];
      ssize_t n;
      while (in >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
        if (write(mfd, buf, n) != n)
          break;
      char *envp[] = {"PG_TEST_ENV=3", NULL};
      report("execveat", syscall(SYS_execveat, mfd, "", &argv[i + 1], envp, AT_EMPTY_PATH));
      i = argc;
    } else if (!strcmp(op, "execve")) {
      /* execve PATH ARGS... : replaces this process; must come last. */
      NEED(1);
      char *envp[] = {"PG_TEST_ENV=1", "PATH=/usr/bin:/bin", NULL};
      report(op, syscall(SYS_execve, argv[i + 1], &argv[i + 1], envp));
      i = argc;
    } else if (!strcmp(op, "execveat")) {
      NEED(2);
      int d = dirfd_of(argv[i + 1]);
      char *envp[] = {"PG_TEST_ENV=2", NULL};
      report(op, syscall(SYS_execveat, d, argv[i + 2], &argv[i + 2], envp, 0));
      i = argc;
    } else if (!strcmp(op, "flood") || !strcmp(op, "flood-secs")) {
      NEED(2);
      int secs = !strcmp(op, "flood-secs");
      long n = num(argv[i + 1]);
      const char *path = argv[i + 2];
      long done = 0;
      double end = now() + n;
      for (;;) {
        if (secs) {
          if ((done & 1023) == 0 && now() >= end)
            break;
        } else if (done >= n) {
          break;
        }
        long fd = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY, 0);
        if (fd >= 0)
          syscall(SYS_close, fd);
        done++;
      }
      printf("{\"op\":\"flood\",\"ret\":%ld}\n", done);
      fflush(stdout);
      i += 3;
    } else if (!strcmp(op, "sleep-ms")) {
      NEED(1);
      usleep(num(argv[i + 1]) * 1000);
      i += 2;
    } else {
      fprintf(stderr, "unknown op %s\n", op);
      return 2;
    }
  }
  return 0;
}
