/* forksig.c — fork() and the shim's locks: a signal handler or another
 * library's fork handler that calls into the shim while fork() runs, and a
 * fork from a signal handler that interrupted the shim, neither hang nor
 * lose track of a socket. Each deadlock is caught by a deadline. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/syscall.h>

#include "e2e.h"

TestSuite(forksig, .init = e2e_setup, .fini = e2e_teardown, .timeout = 120);

static struct e2e_proc *start(const char *mode, struct e2e_ns *ns, struct e2e_env *env)
{
    e2e_need_lib();
    e2e_ns_new(ns, "ns");
    e2e_env_shim(env, ns, "remap", NULL);
    return e2e_startl(env, "forksig", mode, "127.0.0.1", "8000");
}

static void expect_line(struct e2e_proc *p, const char *line)
{
    char buf[256];
    int rc = e2e_line(p, buf, sizeof buf, E2E_MS);
    cr_assert(rc == 0 && !strcmp(buf, line), "want '%s', got '%s' (a deadlock?):\n%s", line,
              rc == 0 ? buf : "(nothing)", e2e_describe(p));
}

static void serves_8000(struct e2e_proc *p, const struct e2e_env *env)
{
    expect_line(p, "READY");
    struct e2e_proc *c = e2e_runl(env, E2E_MS, "client", "127.0.0.1", "8000");
    cr_assert(e2e_status(c) == 0 && strstr(e2e_out(c), "REPLY forksig 8000 hello\n"),
              "client:\n%s\nserver:\n%s", e2e_describe(c), e2e_describe(p));
    cr_assert(e2e_wait(p, E2E_MS) && e2e_status(p) == 0, "%s", e2e_describe(p));
}

/* The handler runs once fork() is done with the shim's locks, so the copy it
 * makes is tracked: it keeps the virtual port when the original closes. */
Test(forksig, signal_handler_dup_during_fork_neither_hangs_nor_loses_the_socket)
{
    struct e2e_ns ns;
    struct e2e_env env;
    struct e2e_proc *p = start("signal", &ns, &env);
    expect_line(p, "HANDLER 1");
    expect_line(p, "DUP NAME 8000");
    serves_8000(p, &env);
}

/* Another library's fork handler runs inside fork() with the shim's locks
 * held: its calls pass through instead of waiting on them. */
Test(forksig, fork_handler_calling_close_and_dup_does_not_hang)
{
    struct e2e_ns ns;
    struct e2e_env env;
    struct e2e_proc *p = start("call", &ns, &env);
    expect_line(p, "FORKED");
    expect_line(p, "NAME 8000");
    serves_8000(p, &env);
}

/* The system call a process's main thread is in, from /proc (-1: unknown). */
static long current_syscall(pid_t pid)
{
    char path[64], buf[64] = "";
    snprintf(path, sizeof path, "/proc/%d/syscall", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long nr = fgets(buf, sizeof buf, f) ? strtol(buf, NULL, 10) : -1;
    fclose(f);
    return buf[0] >= '0' && buf[0] <= '9' ? nr : -1;
}

/* A crash handler that forks (to run a debugger, say) may interrupt the shim
 * in the middle of a bind, with the namespace lock held by its own thread:
 * the fork must not wait for it. The test holds the manifest's flock, so the
 * bind waits in flock() inside the shim until the signal has been handled. */
Test(forksig, fork_in_a_signal_handler_that_interrupted_a_bind_does_not_hang)
{
    struct e2e_ns ns;
    struct e2e_env env;
    e2e_need_lib();
    e2e_ns_new(&ns, "ns");
    int lk = open(ns.manifest, O_RDWR);
    cr_assert(lk >= 0 && flock(lk, LOCK_EX) == 0, "flock %s: %s", ns.manifest, strerror(errno));
    e2e_env_shim(&env, &ns, "remap", NULL);
    struct e2e_proc *p = e2e_startl(&env, "forksig", "interrupt", "127.0.0.1", "8000");
    cr_assert(e2e_expect(p, "BINDING ", E2E_MS), "%s", e2e_describe(p));
    long nr = -1;
    for (long end = now_ms() + E2E_MS; now_ms() < end; sleep_ms(10))
        if ((nr = current_syscall(p->pid)) == SYS_flock)
            break;
    if (nr != SYS_flock) {
        close(lk);
        if (nr < 0)
            e2e_skip("/proc/PID/syscall is not readable here");
        cr_assert_fail("the bind never waited in flock (syscall %ld):\n%s", nr, e2e_describe(p));
    }
    cr_assert(kill(p->pid, SIGUSR1) == 0);
    char buf[128];
    int rc = e2e_line(p, buf, sizeof buf, E2E_MS);
    close(lk);
    cr_assert(rc == 0 && !strcmp(buf, "FORKED 7"), "the fork in the handler hung (got '%s'):\n%s",
              rc == 0 ? buf : "(nothing)", e2e_describe(p));
    expect_line(p, "BOUND 8000");
    cr_assert(e2e_wait(p, E2E_MS) && e2e_status(p) == 0, "%s", e2e_describe(p));
}
