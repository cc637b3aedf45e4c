/* statics.c — statically linked builds of the helpers (build/static/, cc
 * -static) under `portshim run`: the checks the dynamic helpers pass under
 * the preload library (processes.c, remap.c's errcases, unix.c), passed by
 * the seccomp supervisor: fork, exec, posix_spawn and vfork of servers and
 * clients, threads binding and dialling at once, a fork among binding
 * threads, and the kernel's own errnos for malformed calls. */
#include <criterion/criterion.h>

#include "e2e.h"

TestSuite(statics, .init = e2e_setup, .fini = e2e_teardown, .timeout = 180);

static const char *st(const char *name)
{
    static char buf[4][1200];
    static int next;
    char *b = buf[next++ % 4];
    snprintf(b, sizeof buf[0], "%s/static/%s", e2e_build(), name);
    if (access(b, X_OK))
        e2e_skip("%s is not built (make all builds it with cc -static)", b);
    return b;
}

static void need_supervisor(void)
{
    e2e_need_lib();
    struct e2e_env env;
    e2e_env_plain(&env);
    struct e2e_proc *p = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--backend", "seccomp",
                                  "--", "/bin/true");
    if (e2e_status(p) != 0)
        e2e_skip("no seccomp supervisor here: %s", e2e_err(p));
}

/* `portshim run --mode MODE --manifest M -- PROG ARGS...`, exit 0 expected. */
static struct e2e_proc *run(const char *mode, const char *m, const char *const *argv)
{
    const char *full[24] = {e2e_portshim(), "run", "--mode", mode, "--manifest", m, "--"};
    int n = 7;
    for (; *argv && n < 23; argv++)
        full[n++] = *argv;
    full[n] = NULL;
    struct e2e_env env;
    e2e_env_plain(&env);
    struct e2e_proc *p = e2e_run(&env, 60000, full);
    cr_assert_eq(e2e_status(p), 0, "%s:\n%s\nmanifest:\n%s", argv[-1], e2e_describe(p),
                 e2e_slurp(m));
    return p;
}

static void out_has(struct e2e_proc *p, const char *text)
{
    cr_assert(strstr(e2e_out(p), text), "want '%s' in the output:\n%s", text, e2e_describe(p));
}

/* forker MODE (static) with the static client, in one mode of the run. */
static struct e2e_proc *forker(const char *runmode, const char *mode, const char *port,
                               const char *name)
{
    const char *m = e2e_path("m-%s-%s.jsonl", runmode, mode);
    return run(runmode, m, (const char *const[]){st("forker"), mode, "127.0.0.1", port, name,
                                                 st("client"), NULL});
}

static void forker_checks(const char *runmode)
{
    need_supervisor();
    struct e2e_proc *p = forker(runmode, "fork-client", "8000", "parent");
    out_has(p, "PARENT READY 8000\n");
    out_has(p, "CHILD REPLY parent 8000 CHILD\n");
    out_has(p, "CHILD PEER 8000\n");
    static const char *const viaexec[] = {"exec-client", "spawn-client", "vfork-client"};
    for (int i = 0; i < 3; i++) {
        p = forker(runmode, viaexec[i], "8000", "parent");
        out_has(p, "REPLY parent 8000 CHILD\n");
        out_has(p, "PEER 8000\n");
    }
    p = forker(runmode, "fork-bind", "8000", "kid");
    out_has(p, "CHILD READY 8000\n");
    out_has(p, "PARENT REPLY kid 8000 PARENT\n");
    out_has(p, "PARENT PEER 8000\n");
    p = forker(runmode, "inherit", "8000", "kid");
    out_has(p, "CHILD NAME 8000\n");
    out_has(p, "PARENT CLOSED\n");
    out_has(p, "PARENT REPLY kid 8000 PARENT\n");
}

Test(statics, static_servers_and_clients_across_fork_exec_spawn_and_vfork_remap)
{
    forker_checks("remap");
    /* the child's bind went through the supervisor and was remapped */
    struct e2e_events ev;
    e2e_events_read(e2e_path("m-remap-fork-bind.jsonl"), &ev);
    const struct ps_event *b = e2e_last_bind(&ev, 8000);
    cr_assert(b && b->rport > 0 && b->rport != 8000 && !strcmp(b->be, "seccomp"),
              "the child's bind:\n%s", e2e_slurp(e2e_path("m-remap-fork-bind.jsonl")));
    e2e_events_free(&ev);
}

Test(statics, static_servers_and_clients_across_fork_exec_spawn_and_vfork_unix)
{
    forker_checks("unix");
}

Test(statics, static_threads_bind_and_connect_concurrently)
{
    need_supervisor();
    const char *m = e2e_path("m.jsonl");
    struct e2e_proc *p = run("remap", m, (const char *const[]){st("threads"), "127.0.0.1",
                                                                "9000", "16", "20", NULL});
    out_has(p, "THREADS ok=320 fail=0");
    struct e2e_events ev;
    e2e_events_read(m, &ev);
    cr_assert_eq(e2e_count(&ev, PS_EV_BIND, 1, -1), 16, "%s", e2e_slurp(m));
    e2e_events_free(&ev);
}

Test(statics, a_static_fork_while_threads_bind_leaves_nothing_stuck)
{
    need_supervisor();
    struct e2e_proc *p = run("remap", e2e_path("m.jsonl"),
                             (const char *const[]){st("forker"), "fork-threads", "127.0.0.1",
                                                   "9000", "x", NULL});
    out_has(p, "PARENT FORKS ok=40 bad=0");
}

/* Malformed calls get the kernel's errnos through the supervisor too: the
 * static errcases under the run, line by line against its bare run. */
static void same_errnos(const char *mode)
{
    need_supervisor();
    const char *ec = st("errcases");
    struct e2e_env plain;
    e2e_env_plain(&plain);
    struct e2e_proc *bare = e2e_runl(&plain, E2E_MS, ec, "8000");
    cr_assert_eq(e2e_status(bare), 0, "%s", e2e_describe(bare));
    struct e2e_proc *sup = run(mode, e2e_path("m-%s.jsonl", mode),
                               (const char *const[]){ec, "8000", NULL});
    char bl[256], sl[256];
    int compared = 0;
    while (e2e_line(bare, bl, sizeof bl, 0) == 0) {
        cr_assert_eq(e2e_line(sup, sl, sizeof sl, 0), 0, "%s: the supervised run stopped before "
                     "'%s'", mode, bl);
        cr_assert_str_eq(sl, bl, "%s: errno differs under the supervisor (want '%s', got '%s')",
                         mode, bl, sl);
        compared++;
    }
    cr_assert_gt(compared, 50, "%s: only %d cases compared", mode, compared);
}

Test(statics, kernel_errors_are_preserved_for_a_static_program_remap)
{
    same_errnos("remap");
}

Test(statics, kernel_errors_are_preserved_for_a_static_program_observe)
{
    same_errnos("observe");
}

/* In unix mode a supervised program's socket is an AF_UNIX one in its TCP
 * socket's place: the supervisor answers its TCP-level options as the
 * library does for a dynamic program, pointers and all. */
Test(statics, kernel_errors_are_preserved_for_a_static_program_unix)
{
    same_errnos("unix");
}
