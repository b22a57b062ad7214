/*
 * The sensor bench's load: one process looping over a mix of the syscalls the
 * stable rules watch, as fast as it can (or paced), for a number of seconds.
 *
 *   mix SECONDS PORT [--shadow-every-ms N] [--spawn-every N] [--no-flood]
 *
 * One cycle: 4 openat of a missing path (fail fast), 2 openat+close of
 * /etc/hostname (succeed), socket+connect to 127.0.0.1:PORT (nothing listens:
 * refused at once on loopback)+close, one execve of a missing path (fails).
 * Every --spawn-every cycles (default 100) a child is forked and execs
 * /bin/true (real exec/exit state changes). With --shadow-every-ms the process
 * also opens /etc/shadow for reading every N ms (each open raises the stable
 * rule "Read sensitive file untrusted": the latency probe); --no-flood does
 * only that. Raw syscalls through libc wrappers, no buffering in between.
 * Prints one JSON line of counts at the end.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts); /* vDSO: no syscall, not an event */
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: mix SECONDS PORT [--shadow-every-ms N] [--spawn-every N] [--no-flood]\n");
    return 2;
  }
  double seconds = atof(argv[1]);
  int port = atoi(argv[2]);
  long shadow_ms = 0, spawn_every = 100;
  int flood = 1;
  for (int i = 3; i < argc; i++) {
    if (!strcmp(argv[i], "--shadow-every-ms") && i + 1 < argc) shadow_ms = atol(argv[++i]);
    else if (!strcmp(argv[i], "--spawn-every") && i + 1 < argc) spawn_every = atol(argv[++i]);
    else if (!strcmp(argv[i], "--no-flood")) flood = 0;
    else {
      fprintf(stderr, "mix: unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  struct sockaddr_in to;
  memset(&to, 0, sizeof to);
  to.sin_family = AF_INET;
  to.sin_port = htons((unsigned short)port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  char *exec_argv[] = {"pg-bench-missing", NULL};
  char *exec_envp[] = {"PG_BENCH=1", NULL};
  char *true_argv[] = {"true", NULL};

  long cycles = 0, openat_calls = 0, close_calls = 0, sockets = 0, connects = 0, refused = 0, execs = 0, spawned = 0, shadow = 0;
  double start = now(), end = start + seconds, next_shadow = start;
  for (;;) {
    double t = now();
    if (t >= end) break;
    if (shadow_ms > 0 && t >= next_shadow) {
      int fd = openat(AT_FDCWD, "/etc/shadow", O_RDONLY);
      if (fd >= 0) close(fd);
      shadow++;
      next_shadow += shadow_ms / 1000.0;
      if (next_shadow < t) next_shadow = t + shadow_ms / 1000.0; /* fell behind: no burst to catch up */
    }
    if (!flood) {
      usleep(200);
      continue;
    }
    for (int k = 0; k < 4; k++) {
      openat(AT_FDCWD, "/nonexistent-pg-bench/x", O_RDONLY);
      openat_calls++;
    }
    for (int k = 0; k < 2; k++) {
      int fd = openat(AT_FDCWD, "/etc/hostname", O_RDONLY);
      openat_calls++;
      if (fd >= 0) {
        close(fd);
        close_calls++;
      }
    }
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockets++;
    if (s >= 0) {
      if (connect(s, (struct sockaddr *)&to, sizeof to) < 0) refused++;
      connects++;
      close(s);
      close_calls++;
    }
    execve("/nonexistent-pg-bench/prog", exec_argv, exec_envp);
    execs++;
    cycles++;
    if (spawn_every > 0 && cycles % spawn_every == 0) {
      pid_t pid = fork();
      if (pid == 0) {
        execve("/bin/true", true_argv, exec_envp);
        _exit(127);
      }
      if (pid > 0) {
        waitpid(pid, NULL, 0);
        spawned++;
      }
    }
  }
  printf("{\"op\":\"mix\",\"seconds\":%.3f,\"cycles\":%ld,\"openat\":%ld,\"close\":%ld,\"socket\":%ld,\"connect\":%ld,\"refused\":%ld,\"execve\":%ld,\"spawned\":%ld,\"shadow\":%ld}\n",
         now() - start, cycles, openat_calls, close_calls, sockets, connects, refused, execs, spawned, shadow);
  fflush(stdout);
  return 0;
}
