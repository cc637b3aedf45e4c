/* backend.c — who sees a program's socket calls, decided at exec: the
 * preload library for a dynamic program, the run's seccomp supervisor for a
 * static or Go one (`portshim run --backend auto|preload|seccomp`), through
 * every member of the exec family and posix_spawn; and never silently
 * unisolated: the refusal of `portshim run` and the library's warning where
 * there is no supervisor. A sandbox that forbids seccomp is made for real
 * (helpers/noseccomp.c: a filter that refuses seccomp(2)), not pretended. */
#include <criterion/criterion.h>

#include "e2e.h"

TestSuite(backend, .init = e2e_setup, .fini = e2e_teardown, .timeout = 120);

/* build/static/NAME (cc -static) or build/go/NAME; a few rotating buffers. */
static const char *built(const char *dir, const char *name)
{
    static char buf[8][1200];
    static int next;
    char *b = buf[next++ % 8];
    snprintf(b, sizeof buf[0], "%s/%s/%s", e2e_build(), dir, name);
    return b;
}

static const char *st(const char *name)
{
    const char *p = built("static", name);
    if (access(p, X_OK))
        e2e_skip("%s is not built (make all builds it with cc -static)", p);
    return p;
}

static const char *gobin(const char *name)
{
    const char *p = built("go", name);
    if (access(p, X_OK))
        e2e_skip("%s is not built: Go is not installed (make go)", p);
    return p;
}

/* Skips unless this kernel lets a run supervise (the suite's other tests
 * need it; the refusal tests make their own sandbox). */
static void need_supervisor(void)
{
    struct e2e_env env;
    e2e_env_plain(&env);
    struct e2e_proc *p = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--backend", "seccomp",
                                  "--", "/bin/true");
    if (e2e_status(p) != 0)
        e2e_skip("no seccomp supervisor here: %s", e2e_err(p));
}

static int count_lines_with(const char *text, const char *needle)
{
    int n = 0;
    for (const char *l = text; l && *l;) {
        const char *nl = strchr(l, '\n');
        size_t len = nl ? (size_t)(nl - l) : strlen(l);
        char line[2048];
        snprintf(line, sizeof line, "%.*s", (int)(len < sizeof line ? len : sizeof line - 1), l);
        n += strstr(line, needle) != NULL;
        l = nl ? nl + 1 : l + len;
    }
    return n;
}

/* The only bind of vport in the manifest: the one the test made. */
static struct ps_event only_bind(const char *manifest, int vport)
{
    struct e2e_events ev;
    e2e_events_read(manifest, &ev);
    cr_assert_eq(e2e_count(&ev, PS_EV_BIND, 1, vport), 1, "want one bind of %d in %s:\n%s", vport,
                 manifest, e2e_slurp(manifest));
    struct ps_event b = *e2e_last_bind(&ev, vport);
    e2e_events_free(&ev);
    return b;
}

/* ---- never silently unisolated --------------------------------------------- */

static void refused(const char *prog, const char *kind, const char *const *argv)
{
    struct e2e_env env;
    e2e_env_plain(&env);
    struct e2e_proc *p = e2e_run(&env, E2E_MS, argv);
    cr_assert_eq(e2e_status(p), 2, "not refused:\n%s", e2e_describe(p));
    cr_assert_str_eq(e2e_out(p), "", "the command ran:\n%s", e2e_describe(p));
    cr_assert_eq(count_lines_with(e2e_err(p), "portshim:"), 1, "%s", e2e_describe(p));
    cr_assert(strstr(e2e_err(p), prog) && strstr(e2e_err(p), kind) &&
              strstr(e2e_err(p), "seccomp is forbidden") &&
              strstr(e2e_err(p), "--backend preload"),
              "the line must name the program, its kind, why, and the way out:\n%s",
              e2e_describe(p));
}

Test(backend, run_refuses_a_static_command_where_seccomp_is_forbidden)
{
    const char *bin = st("binder");
    refused(bin, "static", (const char *const[]){e2e_helper("noseccomp"), e2e_portshim(), "run",
                                                  "--", bin, "127.0.0.1", "8000", NULL});
}

Test(backend, run_refuses_a_go_command_where_seccomp_is_forbidden)
{
    const char *go = gobin("gohttp");
    refused(go, "Go", (const char *const[]){e2e_helper("noseccomp"), e2e_portshim(), "run",
                                            "--", go, "serve", "127.0.0.1:8000", "x", NULL});
}

Test(backend, a_static_command_found_on_path_is_refused_too)
{
    const char *bin = st("binder");
    struct e2e_env env;
    e2e_env_plain(&env);
    char path[2048];
    snprintf(path, sizeof path, "%s/static:%s", e2e_build(), getenv("PATH"));
    e2e_env_set(&env, "PATH", path);
    struct e2e_proc *p = e2e_runl(&env, E2E_MS, e2e_helper("noseccomp"), e2e_portshim(), "run",
                                  "--", "binder", "127.0.0.1", "8000");
    cr_assert_eq(e2e_status(p), 2, "%s (%s)", e2e_describe(p), bin);
    cr_assert_str_eq(e2e_out(p), "");
}

Test(backend, backend_preload_runs_a_static_command_unisolated_saying_so_once)
{
    const char *bin = st("binder");
    struct e2e_env env;
    e2e_env_plain(&env);
    struct e2e_proc *p = e2e_runl(&env, E2E_MS, e2e_helper("noseccomp"), e2e_portshim(), "run",
                                  "--backend", "preload", "--", bin, "127.0.0.1", "0");
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    cr_assert(!strncmp(e2e_out(p), "OK ", 3), "%s", e2e_describe(p));
    cr_assert_eq(count_lines_with(e2e_err(p), "portshim:"), 1, "%s", e2e_describe(p));
    cr_assert(strstr(e2e_err(p), bin) && strstr(e2e_err(p), "--backend preload"), "%s",
              e2e_describe(p));
}

Test(backend, a_static_program_execd_where_seccomp_is_forbidden_is_named_in_one_warning)
{
    const char *bin = st("binder");
    struct e2e_env env;
    e2e_env_plain(&env);
    struct e2e_proc *p = e2e_runl(&env, E2E_MS, e2e_helper("noseccomp"), e2e_portshim(), "run",
                                  "--", e2e_helper("execvia"), "execve", bin, "127.0.0.1", "0");
    cr_assert_eq(e2e_status(p), 0, "a dynamic command runs:\n%s", e2e_describe(p));
    cr_assert(!strncmp(e2e_out(p), "OK ", 3), "the exec'd program runs:\n%s", e2e_describe(p));
    cr_assert_eq(count_lines_with(e2e_err(p), "portshim:"), 1, "%s", e2e_describe(p));
    cr_assert(strstr(e2e_err(p), bin) && strstr(e2e_err(p), "static") &&
              strstr(e2e_err(p), "seccomp is forbidden"), "%s", e2e_describe(p));
}

Test(backend, a_static_program_execd_under_a_library_preloaded_by_hand_is_named_in_one_warning)
{
    e2e_need_lib();
    const char *bin = st("binder");
    struct e2e_ns ns;
    e2e_ns_new(&ns, "byhand");
    struct e2e_env env;
    e2e_env_shim(&env, &ns, NULL, NULL);
    struct e2e_proc *p = e2e_runl(&env, E2E_MS, e2e_helper("execvia"), "execv", bin,
                                  "127.0.0.1", "0");
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    cr_assert_eq(count_lines_with(e2e_err(p), "portshim:"), 1, "%s", e2e_describe(p));
    cr_assert(strstr(e2e_err(p), bin) && strstr(e2e_err(p), "preloaded without portshim run"),
              "%s", e2e_describe(p));
}

Test(backend, backend_rejects_an_unknown_value)
{
    struct e2e_env env;
    e2e_env_plain(&env);
    struct e2e_proc *p = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--backend", "ptrace",
                                  "--", "/bin/true");
    cr_assert_eq(e2e_status(p), 2, "%s", e2e_describe(p));
    cr_assert(strstr(e2e_err(p), "--backend='ptrace': expected auto, preload or seccomp"), "%s",
              e2e_describe(p));
}

Test(backend, backend_seccomp_where_seccomp_is_forbidden_is_refused)
{
    struct e2e_env env;
    e2e_env_plain(&env);
    struct e2e_proc *p = e2e_runl(&env, E2E_MS, e2e_helper("noseccomp"), e2e_portshim(), "run",
                                  "--backend", "seccomp", "--", "/bin/echo", "ran");
    cr_assert_eq(e2e_status(p), 2, "%s", e2e_describe(p));
    cr_assert_str_eq(e2e_out(p), "");
    cr_assert(strstr(e2e_err(p), "--backend seccomp: seccomp user notification is unavailable"),
              "%s", e2e_describe(p));
}

/* ---- the decision at exec --------------------------------------------------- */

Test(backend, a_dynamic_program_execd_stays_with_the_library_and_off_the_filter)
{
    e2e_need_lib();
    need_supervisor();
    struct e2e_env env;
    e2e_env_plain(&env);
    const char *m = e2e_path("m.jsonl");
    struct e2e_proc *p = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--manifest", m, "--",
                                  e2e_helper("execvia"), "execve", e2e_helper("binder"),
                                  "127.0.0.1", "8000");
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    cr_assert_str_eq(e2e_out(p), "OK 8000\n");
    cr_assert_eq(count_lines_with(e2e_err(p), "portshim:"), 0, "%s", e2e_describe(p));
    struct ps_event b = only_bind(m, 8000);
    cr_assert_str_eq(b.be, "", "the library, not the supervisor, saw it");
    cr_assert(b.rport > 0 && b.rport != 8000);
    /* no filter at all on a dynamic program's process: a setuid program it
     * starts works as it always did */
    p = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--", "/bin/sh", "-c",
                 "exec grep ^Seccomp: /proc/self/status");
    cr_assert_str_eq(e2e_out(p), "Seccomp:\t0\n", "%s", e2e_describe(p));
}

/* Every way to start a program: the static binder bound "8000" through the
 * supervisor (a fresh real port, getsockname's answer virtual). */
Test(backend, every_exec_family_member_puts_a_static_program_under_the_supervisor)
{
    e2e_need_lib();
    need_supervisor();
    const char *bin = st("binder");
    static const char *const hows[] = {"execve", "execv", "execvp", "execvpe", "execl", "execle",
                                       "execlp", "fexecve", "posix_spawn", "posix_spawnp",
                                       "vfork"};
    struct e2e_env env;
    e2e_env_plain(&env);
    char path[2048];
    snprintf(path, sizeof path, "%s/static:%s", e2e_build(), getenv("PATH"));
    e2e_env_set(&env, "PATH", path);
    for (size_t i = 0; i < sizeof hows / sizeof hows[0]; i++) {
        bool search = strchr(hows[i] + 4, 'p') && strcmp(hows[i], "posix_spawn") != 0;
        const char *m = e2e_path("m-%s.jsonl", hows[i]);
        struct e2e_proc *p = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--manifest", m, "--",
                                      e2e_helper("execvia"), hows[i], search ? "binder" : bin,
                                      "127.0.0.1", "8000");
        cr_assert_eq(e2e_status(p), 0, "%s:\n%s", hows[i], e2e_describe(p));
        cr_assert(strstr(e2e_out(p), "OK 8000\n"), "%s:\n%s", hows[i], e2e_describe(p));
        cr_assert_eq(count_lines_with(e2e_err(p), "portshim:"), 0, "%s:\n%s", hows[i],
                     e2e_describe(p));
        struct ps_event b = only_bind(m, 8000);
        cr_assert_str_eq(b.be, "seccomp", "%s: bind seen by '%s'", hows[i], b.be);
        cr_assert(b.rport > 0 && b.rport != 8000, "%s: real port %d", hows[i], b.rport);
        cr_assert_str_eq(b.prog, "binder", "%s", hows[i]);
    }
}

Test(backend, posix_spawn_through_the_helper_keeps_the_file_actions_and_the_pid)
{
    e2e_need_lib();
    need_supervisor();
    const char *bin = st("binder");
    struct e2e_env env;
    e2e_env_plain(&env);
    const char *out = e2e_path("child.out"), *m = e2e_path("m.jsonl");
    e2e_env_set(&env, "EXECVIA_OUT", out);
    e2e_env_set(&env, "EXECVIA_PGROUP", "1");
    struct e2e_proc *p = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--manifest", m, "--",
                                  e2e_helper("execvia"), "posix_spawn", bin, "127.0.0.1", "8000");
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    int pid = 0;
    cr_assert_eq(sscanf(e2e_out(p), "SPAWNED %d", &pid), 1, "%s", e2e_describe(p));
    cr_assert_str_eq(e2e_slurp(out), "OK 8000\n", "the open file action did not hold");
    struct ps_event b = only_bind(m, 8000);
    cr_assert_eq(b.pid, pid, "the bind was made by pid %d, posix_spawn returned %d", b.pid, pid);
    cr_assert_str_eq(b.be, "seccomp");
}

Test(backend, backend_seccomp_puts_a_dynamic_program_under_the_supervisor)
{
    e2e_need_lib();
    need_supervisor();
    struct e2e_env env;
    e2e_env_plain(&env);
    const char *m = e2e_path("m.jsonl");
    struct e2e_proc *p = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--backend", "seccomp",
                                  "--manifest", m, "--", e2e_helper("binder"), "127.0.0.1",
                                  "8000");
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    cr_assert_str_eq(e2e_out(p), "OK 8000\n");
    struct ps_event b = only_bind(m, 8000);
    cr_assert_str_eq(b.be, "seccomp");
    cr_assert(b.rport > 0 && b.rport != 8000);
}

/* The filter follows a static program's descendants; a dynamic one among
 * them has the library too, which answers its calls (one bind, not two). */
Test(backend, a_dynamic_program_execd_by_a_static_one_is_served_by_its_library)
{
    e2e_need_lib();
    need_supervisor();
    const char *via = st("execvia");
    struct e2e_env env;
    e2e_env_plain(&env);
    const char *m = e2e_path("m.jsonl");
    struct e2e_proc *p = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--manifest", m, "--", via,
                                  "execve", e2e_helper("binder"), "127.0.0.1", "8000");
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    cr_assert_str_eq(e2e_out(p), "OK 8000\n", "%s", e2e_describe(p));
    struct ps_event b = only_bind(m, 8000);
    cr_assert_str_eq(b.be, "", "the library saw it");
    cr_assert(b.rport > 0 && b.rport != 8000);
    p = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--", via, "execve", "/bin/grep",
                 "^Seccomp:", "/proc/self/status");
    cr_assert_str_eq(e2e_out(p), "Seccomp:\t2\n", "the filter followed the exec:\n%s",
                     e2e_describe(p));
}
