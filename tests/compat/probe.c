/* probe: a small static program that tries one thing from inside a compatibility box
 * and reports whether it worked. Exit 0 = the attempt succeeded, 1 = it failed (errno
 * printed), 2 = usage. Used by the escape battery (box_escape_test.cpp): every attempt
 * there must fail or be contained.
 *
 *   probe caps | status | syscall NR [ARGS] | open PATH [r|w] | write PATH TEXT
 *   probe mount | umount PATH | chroot | ptrace PID | kill PID | setns PATH
 *   probe keyctl | bpf | perf | userfaultfd | unshare (+ write /) | mknod | reboot | kexec
 *   probe init_module | open_by_handle_at | tiocsti | clock_settime | swapon
 *   probe socket-raw | socket-packet | int80 | x32 | exe-overwrite | forkbomb | forks N
 *   probe memhog MIB | fill PATH | sethostname NAME | hostname | cpu SECONDS
 *   probe socketflood N | acctflood N   (N distinct denied calls: supervisor memory)
 *   probe inotify N   (holds up to N inotify instances until stdin reaches EOF)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static int report(const char* what, long rc) {
  if (rc < 0) {
    printf("%s: failed: %s\n", what, strerror(errno));
    return 1;
  }
  printf("%s: succeeded (%ld)\n", what, rc);
  return 0;
}

static int status_field(const char* field) {
  FILE* f = fopen("/proc/self/status", "r");
  char line[256];
  int found = 0;
  if (!f) return 1;
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, field, strlen(field))) {
      fputs(line, stdout);
      found = 1;
    }
  fclose(f);
  return !found;
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const char* c = argv[1];
  const char* a = argc > 2 ? argv[2] : "";
  if (!strcmp(c, "caps")) {
    /* exit 0 only if every capability set is empty */
    FILE* f = fopen("/proc/self/status", "r");
    char line[256];
    int nonzero = 0;
    while (f && fgets(line, sizeof line, f))
      if (!strncmp(line, "Cap", 3)) {
        fputs(line, stdout);
        unsigned long long v = strtoull(strchr(line, ':') + 1, NULL, 16);
        if (v) nonzero = 1;
      }
    return nonzero;
  }
  if (!strcmp(c, "status")) {
    status_field("NoNewPrivs");
    status_field("Seccomp:");
    status_field("Uid:");
    return status_field("CapEff");
  }
  if (!strcmp(c, "syscall")) {
    long nr = strtol(a, NULL, 0), x[6] = {0};
    for (int i = 0; i < 6 && i + 3 < argc; ++i) x[i] = strtol(argv[i + 3], NULL, 0);
    return report("syscall", syscall(nr, x[0], x[1], x[2], x[3], x[4], x[5]));
  }
  if (!strcmp(c, "open")) {
    int w = argc > 3 && argv[3][0] == 'w';
    int fd = open(a, w ? O_WRONLY : O_RDONLY);
    if (fd >= 0 && !w) {
      char buf[64];
      ssize_t n = read(fd, buf, sizeof buf);
      if (n < 0) return report("read", -1);
    }
    return report("open", fd);
  }
  if (!strcmp(c, "write")) {
    int fd = open(a, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return report("open", -1);
    return report("write", write(fd, argv[3], strlen(argv[3])));
  }
  if (!strcmp(c, "mount")) return report("mount", mount("tmpfs", "/tmp", "tmpfs", 0, NULL));
  if (!strcmp(c, "umount")) return report("umount", umount2(a, MNT_DETACH));
  if (!strcmp(c, "chroot")) {
    /* the classic escape: chroot into a subdir, then walk up past the old root */
    mkdir("/tmp/x", 0755);
    if (chroot("/tmp/x") != 0) return report("chroot", -1);
    for (int i = 0; i < 64; ++i) (void)!chdir("..");
    return report("chroot", chroot("."));
  }
  if (!strcmp(c, "ptrace")) return report("ptrace", ptrace(PTRACE_ATTACH, (pid_t)atoi(a), 0, 0));
  if (!strcmp(c, "kill")) return report("kill", kill((pid_t)atoi(a), 0));
  if (!strcmp(c, "setns")) {
    int fd = open(a, O_RDONLY);
    if (fd < 0) return report("open ns", -1);
    return report("setns", setns(fd, 0));
  }
  if (!strcmp(c, "keyctl"))
    return report("keyctl", syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, "probe"));
  if (!strcmp(c, "bpf")) {
    char attr[128] = {0};
    return report("bpf", syscall(SYS_bpf, 0 /* BPF_MAP_CREATE */, attr, sizeof attr));
  }
  if (!strcmp(c, "perf")) {
    struct perf_event_attr pa;
    memset(&pa, 0, sizeof pa);
    pa.type = PERF_TYPE_SOFTWARE;
    pa.size = sizeof pa;
    pa.config = PERF_COUNT_SW_CPU_CLOCK;
    return report("perf_event_open", syscall(SYS_perf_event_open, &pa, 0, -1, -1, 0));
  }
  if (!strcmp(c, "userfaultfd")) return report("userfaultfd", syscall(SYS_userfaultfd, 0));
  if (!strcmp(c, "unshare")) {
    /* Nested namespaces are allowed or not per profile (gen0-sliver allows unshare);
     * either way the capabilities they give must not reach outside: remount the
     * read-only root writable and write to it. */
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) return report("unshare", -1);
    printf("unshare: allowed by the profile\n");
    if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND, NULL) != 0 &&
        mount(NULL, "/bin", NULL, MS_REMOUNT | MS_BIND, NULL) != 0)
      printf("remount rw: %s\n", strerror(errno));
    int fd = open("/bin/escaped", O_WRONLY | O_CREAT, 0644);
    return report("write the root fs from a nested namespace", fd);
  }
  if (!strcmp(c, "mknod")) return report("mknod", mknod("/tmp/sda", S_IFBLK | 0600, makedev(8, 0)));
  if (!strcmp(c, "reboot")) return report("reboot", reboot(RB_POWER_OFF));
  if (!strcmp(c, "kexec")) return report("kexec_load", syscall(SYS_kexec_load, 0, 0, 0, 0));
  if (!strcmp(c, "init_module")) return report("init_module", syscall(SYS_init_module, "", 0, ""));
  if (!strcmp(c, "open_by_handle_at")) {
    char h[sizeof(unsigned int) * 2 + 8] = {0};
    return report("open_by_handle_at", syscall(SYS_open_by_handle_at, AT_FDCWD, h, O_RDONLY));
  }
  if (!strcmp(c, "tiocsti")) {
    char ch = 'x';
    return report("TIOCSTI", ioctl(0, TIOCSTI, &ch));
  }
  if (!strcmp(c, "clock_settime")) {
    struct timespec ts = {1, 0};
    return report("clock_settime", clock_settime(CLOCK_REALTIME, &ts));
  }
  if (!strcmp(c, "swapon")) return report("swapon", syscall(SYS_swapon, "/tmp/swap", 0));
  if (!strcmp(c, "socket-raw")) return report("socket raw", socket(AF_INET, SOCK_RAW, 1));
  if (!strcmp(c, "socket-packet")) return report("socket packet", socket(AF_PACKET, SOCK_RAW, 0));
  if (!strcmp(c, "int80")) {
    /* i386 getpid (20) through int 0x80: must not bypass the filter */
    long rc;
    __asm__ volatile("int $0x80" : "=a"(rc) : "a"(20) : "memory");
    return report("int 0x80 getpid", rc < 0 ? (errno = (int)-rc, -1) : rc);
  }
  if (!strcmp(c, "x32")) {
    /* x32 getpid: __X32_SYSCALL_BIT | 39 */
    long rc = syscall(0x40000000 | 39);
    return report("x32 getpid", rc);
  }
  if (!strcmp(c, "exe-overwrite")) {
    /* CVE-2019-5736 class: write through /proc/self/exe (and the parent's) */
    int fd = open("/proc/self/exe", O_WRONLY);
    if (fd >= 0) return report("open /proc/self/exe for writing", fd);
    fd = open("/proc/1/exe", O_WRONLY);
    return report("open /proc/1/exe for writing", fd);
  }
  if (!strcmp(c, "forkbomb")) {
    int n = 0;
    for (int i = 0; i < 100000; ++i) {
      pid_t p = fork();
      if (p == 0) {
        pause();
        _exit(0);
      }
      if (p < 0) break;
      ++n;
    }
    printf("forked %d\n", n);
    return n >= 100000 ? 0 : 1;
  }
  if (!strcmp(c, "socketflood") || !strcmp(c, "acctflood")) {
    /* N calls with distinct arguments, each refused: packet sockets of N protocols, or
     * acct() on N addresses (never dereferenced: seccomp decides first). */
    long n = atol(a), refused = 0;
    for (long i = 0; i < n; ++i) {
      long rc = c[0] == 's' ? socket(AF_PACKET, SOCK_RAW, (int)(i & 0x7fffffff))
                            : syscall(SYS_acct, (const char*)(uintptr_t)(0x10000 + i));
      if (rc < 0)
        ++refused;
      else if (c[0] == 's')
        close((int)rc);
    }
    printf("%s: %ld of %ld refused\n", c, refused, n);
    return 0;
  }
  if (!strcmp(c, "inotify")) {
    /* Per-uid kernel quota: hold as many inotify instances as the kernel gives (up to N),
     * say how many, and keep them until stdin is closed. */
    int want = atoi(a), n = 0;
    char buf[64];
    while (n < want && inotify_init1(IN_CLOEXEC) >= 0) ++n;
    printf("held %d (%s)\n", n, n < want ? strerror(errno) : "all");
    fflush(stdout);
    while (read(0, buf, sizeof buf) > 0) {
    }
    return 0;
  }
  if (!strcmp(c, "forks")) {
    /* N children that wait; exit 0 only if all N forks succeeded */
    int want = atoi(a), n = 0;
    for (; n < want; ++n) {
      pid_t p = fork();
      if (p == 0) {
        pause();
        _exit(0);
      }
      if (p < 0) break;
    }
    printf("forked %d\n", n);
    return n == want ? 0 : 1;
  }
  if (!strcmp(c, "memhog")) {
    long mib = atol(a);
    for (long i = 0; i < mib; ++i) {
      char* p = malloc(1 << 20);
      if (!p) return report("malloc", -1);
      memset(p, 1, 1 << 20);
    }
    printf("allocated %ld MiB\n", mib);
    return 0;
  }
  if (!strcmp(c, "fill")) {
    int fd = open(a, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return report("open", -1);
    static char buf[1 << 16];
    memset(buf, 'x', sizeof buf);
    long long total = 0;
    for (;;) {
      ssize_t n = write(fd, buf, sizeof buf);
      if (n <= 0) break;
      total += n;
    }
    printf("wrote %lld bytes: %s\n", total, strerror(errno));
    return errno == ENOSPC ? 1 : 0;
  }
  if (!strcmp(c, "sethostname")) return report("sethostname", sethostname(a, strlen(a)));
  if (!strcmp(c, "hostname")) {
    char h[256] = {0};
    gethostname(h, sizeof h - 1);
    printf("%s\n", h);
    return 0;
  }
  if (!strcmp(c, "cpu")) {
    /* burn CPU for SECONDS of wall time, print iterations */
    time_t end = time(NULL) + atoi(a);
    unsigned long long n = 0;
    while (time(NULL) < end)
      for (int i = 0; i < 100000; ++i) n++;
    printf("%llu\n", n);
    return 0;
  }
  return 2;
}
