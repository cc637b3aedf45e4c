/* workers.c — `portshim run --per-worker`: one sub-namespace per test
 * worker. Real runners (pytest-xdist, Mocha --parallel) run a suite whose
 * every fixture serves on 127.0.0.1:8000; helper processes check isolation
 * between workers, inheritance by a worker's children, the controller in the
 * run's namespace, report and port per worker, leaks, stress and bad input. */
#include <criterion/criterion.h>
#include <sys/stat.h>

#include "core/config.h"
#include "e2e.h"

TestSuite(workers, .init = e2e_setup, .fini = e2e_teardown, .timeout = 180);

static const char *src_root(void)
{
    static char root[1100];
    snprintf(root, sizeof root, "%s", e2e_portshim());
    *strrchr(root, '/') = 0;   /* scripts/portshim */
    *strrchr(root, '/') = 0;
    return root;
}

static void copy_in(const char *from, const char *to)
{
    const char *text = e2e_slurp(from);
    cr_assert(text[0], "cannot read %s", from);
    e2e_write_file(to, text, false);
}

/* ---- pytest-xdist ------------------------------------------------------------ */

static void need_xdist(void)
{
    e2e_need_lib();
    struct e2e_env env;
    e2e_env_plain(&env);
    struct e2e_proc *p = e2e_runl(&env, 60000, "/usr/bin/python3", "-c", "import pytest, xdist");
    if (e2e_status(p) != 0)
        e2e_skip("/usr/bin/python3 has no pytest or pytest-xdist (scripts/ensure-deps installs "
                 "python3-pytest and python3-pytest-xdist for make test): the pytest -n test "
                 "did not run");
}

/* The suite of tests/runners/pytest in a fresh directory; its environment. */
static const char *pytest_suite(struct e2e_env *env)
{
    need_xdist();
    const char *dir = e2e_path("suite");
    const char *rdv = e2e_path("rdv");
    cr_assert_eq(mkdir(dir, 0700), 0);
    cr_assert_eq(mkdir(rdv, 0700), 0);
    char from[1200];
    snprintf(from, sizeof from, "%s/tests/runners/pytest/conftest.py", src_root());
    copy_in(from, e2e_path("suite/conftest.py"));
    snprintf(from, sizeof from, "%s/tests/runners/pytest/test_fixed_port.py", src_root());
    copy_in(from, e2e_path("suite/test_fixed_port.py"));
    e2e_env_plain(env);
    e2e_env_set(env, "RDV_DIR", rdv);
    e2e_env_set(env, "RDV_WORKERS", "4");
    e2e_env_set(env, "PYTHONDONTWRITEBYTECODE", "1");
    return dir;
}

#define PYTEST "/usr/bin/python3", "-m", "pytest", "-n", "4", "-p", "no:cacheprovider", "-q"

static void assert_all_passed(struct e2e_proc *p)
{
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    cr_assert(strstr(e2e_out(p), "12 passed"), "%s", e2e_describe(p));
}

/* pytest ran (exit 1: some tests failed or errored), and not all passed:
 * a worker's server could not bind 8000, or its client reached another
 * worker's server (or none). */
static void assert_collided(struct e2e_proc *p)
{
    cr_assert_eq(e2e_status(p), 1, "%s", e2e_describe(p));
    cr_assert(strstr(e2e_out(p), " failed") || strstr(e2e_out(p), " error"), "%s",
              e2e_describe(p));
    cr_assert_null(strstr(e2e_out(p), "12 passed"), "%s", e2e_describe(p));
}

Test(workers, pytest_n4_fixed_port_suite_collides_bare)
{
    struct e2e_env env;
    const char *dir = pytest_suite(&env);
    /* Bare in a network namespace of its own, so that the real port 8000
     * of the machine is never touched. */
    struct e2e_proc *p = e2e_runl_netns(&env, 150000, PYTEST, dir);
    assert_collided(p);
    cr_assert(strstr(e2e_out(p), "Address already in use"), "%s", e2e_describe(p));
}

Test(workers, pytest_n4_fixed_port_suite_collides_under_plain_run)
{
    struct e2e_env env;
    const char *dir = pytest_suite(&env);
    struct e2e_proc *p = e2e_runl(&env, 150000, e2e_portshim(), "run", "--", PYTEST, dir);
    assert_collided(p);
}

Test(workers, pytest_n4_fixed_port_suite_passes_per_worker_in_remap_mode)
{
    struct e2e_env env;
    const char *dir = pytest_suite(&env);
    struct e2e_proc *p =
        e2e_runl(&env, 150000, e2e_portshim(), "run", "--per-worker", "--", PYTEST, dir);
    assert_all_passed(p);
}

Test(workers, pytest_n4_fixed_port_suite_passes_per_worker_in_unix_mode)
{
    struct e2e_env env;
    const char *dir = pytest_suite(&env);
    struct e2e_proc *p = e2e_runl(&env, 150000, e2e_portshim(), "run", "--mode", "unix",
                                  "--per-worker", "--", PYTEST, dir);
    assert_all_passed(p);
}

Test(workers, pytest_n4_fixed_port_suite_passes_with_the_variable_named)
{
    struct e2e_env env;
    const char *dir = pytest_suite(&env);
    struct e2e_proc *p = e2e_runl(&env, 150000, e2e_portshim(), "run",
                                  "--per-worker=PYTEST_XDIST_WORKER", "--", PYTEST, dir);
    assert_all_passed(p);
    /* A variable the runner does not set gives no sub-namespaces. */
    e2e_runl(&env, 10000, "/bin/sh", "-c", "rm -f \"$RDV_DIR\"/*");
    p = e2e_runl(&env, 150000, e2e_portshim(), "run", "--per-worker=NOT_A_RUNNER_VARIABLE", "--",
                 PYTEST, dir);
    assert_collided(p);
}

/* ---- Mocha --parallel ----------------------------------------------------------- */

/* Installed by `make test` (tests/runners/mocha/install) into build/. */
static const char *mocha_bin(void)
{
    static char path[1200];
    snprintf(path, sizeof path, "%s/runners/node_modules/.bin/mocha", e2e_build());
    return access(path, X_OK) == 0 ? path : NULL;
}

static const char *mocha_suite(struct e2e_env *env)
{
    e2e_need_lib();
    if (!mocha_bin())
        e2e_skip("mocha is not installed in %s/runners (make test installs it with npm; "
                 "no node/npm or no registry?): the Mocha --parallel test did not run",
                 e2e_build());
    const char *dir = e2e_path("msuite");
    const char *rdv = e2e_path("rdv");
    cr_assert_eq(mkdir(dir, 0700), 0);
    cr_assert_eq(mkdir(rdv, 0700), 0);
    for (int i = 0; i < 8; i++) {
        char from[1200];
        snprintf(from, sizeof from, "%s/tests/runners/mocha/fixed-port.js", src_root());
        copy_in(from, e2e_path("msuite/fixed-port-%d.spec.js", i));
    }
    e2e_env_plain(env);
    e2e_env_set(env, "RDV_DIR", rdv);
    e2e_env_set(env, "RDV_WORKERS", "4");
    return dir;
}

static struct e2e_proc *run_mocha(struct e2e_env *env, const char *dir, const char *opt)
{
    const char *glob = e2e_path("msuite/*.spec.js");
    if (!opt)
        return e2e_runl(env, 150000, e2e_portshim(), "run", "--", mocha_bin(), "--parallel",
                        "--jobs", "4", "--timeout", "60000", glob);
    return e2e_runl(env, 150000, e2e_portshim(), "run", opt, "--", mocha_bin(), "--parallel",
                    "--jobs", "4", "--timeout", "60000", glob);
}

Test(workers, mocha_parallel_fixed_port_suite_collides_under_plain_run)
{
    struct e2e_env env;
    const char *dir = mocha_suite(&env);
    struct e2e_proc *p = run_mocha(&env, dir, NULL);
    cr_assert(e2e_status(p) != 0 && e2e_status(p) != -1, "%s", e2e_describe(p));
    cr_assert(strstr(e2e_out(p), "EADDRINUSE"), "%s", e2e_describe(p));
}

Test(workers, mocha_parallel_fixed_port_suite_passes_per_worker)
{
    struct e2e_env env;
    const char *dir = mocha_suite(&env);
    struct e2e_proc *p = run_mocha(&env, dir, "--per-worker");
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    cr_assert(strstr(e2e_out(p), "16 passing"), "%s", e2e_describe(p));
}

/* ---- helper processes as workers ------------------------------------------------ */

/* `portshim run OPTS -- /bin/sh SCRIPT` with H the helpers' directory and
 * P scripts/portshim; 8000-8010 strictly virtual, so a connect that finds no
 * listener in its namespace is refused, never sent to the machine. */
static struct e2e_proc *run_script(const char *script, const char *const *opts)
{
    e2e_need_lib();
    struct e2e_env env;
    e2e_env_plain(&env);
    e2e_env_set(&env, "H", e2e_helper(""));
    e2e_env_set(&env, "P", e2e_portshim());
    e2e_env_set(&env, "T", e2e_tmp());
    const char *sh = e2e_path("script.sh");
    e2e_write_file(sh, script, false);
    const char *argv[32];
    int k = 0;
    argv[k++] = e2e_portshim();
    argv[k++] = "run";
    argv[k++] = "--ports";
    argv[k++] = "8000-8010";
    for (; opts && *opts; opts++)
        argv[k++] = *opts;
    argv[k++] = "--";
    argv[k++] = "/bin/sh";
    argv[k++] = sh;
    argv[k] = NULL;
    return e2e_run(&env, 60000, argv);
}

/* Two workers, a and b, each with a server named after it on 8000; the
 * controller (no W) serves on 8000 too. Then the script's tail. */
#define TWO_WORKERS                                                                        \
    "W=a \"$H/echo-server\" 127.0.0.1 8000 --name A --ready-file \"$T/a\" --lifetime 50 "   \
    ">/dev/null &\n"                                                                       \
    "W=b \"$H/echo-server\" 127.0.0.1 8000 --name B --ready-file \"$T/b\" --lifetime 50 "   \
    ">/dev/null &\n"                                                                       \
    "\"$H/echo-server\" 127.0.0.1 8000 --name C --ready-file \"$T/c\" --lifetime 50 "       \
    ">/dev/null &\n"                                                                       \
    "i=0; while [ ! -e \"$T/a\" ] || [ ! -e \"$T/b\" ] || [ ! -e \"$T/c\" ]; do\n"          \
    "  i=$((i+1)); [ $i -gt 1000 ] && { echo servers did not start; exit 9; }; sleep 0.02\n" \
    "done\n"

Test(workers, each_worker_reaches_its_own_server_on_the_same_virtual_port)
{
    const char *const opts[] = {"--per-worker=W", NULL};
    struct e2e_proc *p = run_script(TWO_WORKERS
                                    "W=a \"$H/client\" 127.0.0.1 8000 one\n"
                                    "W=b \"$H/client\" 127.0.0.1 8000 two\n"
                                    "\"$H/client\" 127.0.0.1 8000 three\n"
                                    "kill $(jobs -p); wait\n",
                                    opts);
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    cr_assert(strstr(e2e_out(p), "REPLY A 8000 one"), "%s", e2e_describe(p));
    cr_assert(strstr(e2e_out(p), "REPLY B 8000 two"), "%s", e2e_describe(p));
    /* The controller, with no W, is in the run's own namespace. */
    cr_assert(strstr(e2e_out(p), "REPLY C 8000 three"), "%s", e2e_describe(p));
}

Test(workers, a_worker_without_a_server_cannot_reach_another_workers)
{
    const char *const opts[] = {"--per-worker=W", NULL};
    struct e2e_proc *p = run_script(TWO_WORKERS
                                    "W=z \"$H/client\" 127.0.0.1 8000 lost; echo \"Z $?\"\n"
                                    "kill $(jobs -p); wait\n",
                                    opts);
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    cr_assert(strstr(e2e_out(p), "Z 3"), "worker z was not refused: %s", e2e_describe(p));
    cr_assert_null(strstr(e2e_out(p), "REPLY"), "%s", e2e_describe(p));
}

Test(workers, without_per_worker_the_workers_share_one_namespace)
{
    struct e2e_proc *p = run_script(
        "W=a \"$H/echo-server\" 127.0.0.1 8000 --name A --ready-file \"$T/a\" --lifetime 50 "
        ">/dev/null &\n"
        "i=0; while [ ! -e \"$T/a\" ]; do i=$((i+1)); [ $i -gt 1000 ] && exit 9; sleep 0.02; done\n"
        "W=b \"$H/echo-server\" 127.0.0.1 8000 --name B --lifetime 1; echo \"B $?\"\n"
        "W=b \"$H/client\" 127.0.0.1 8000 x\n"
        "kill $(jobs -p); wait\n",
        NULL);
    cr_assert(strstr(e2e_out(p), "B 1"), "%s", e2e_describe(p));
    cr_assert(strstr(e2e_out(p), "REPLY A 8000 x"), "%s", e2e_describe(p));
}

/* The variable is inherited: a worker's shell, and the programs it starts,
 * are in the worker's sub-namespace. */
Test(workers, a_workers_children_inherit_its_sub_namespace)
{
    const char *const opts[] = {"--per-worker=W", NULL};
    e2e_write_file(e2e_path("child.sh"),
                   "\"$H/echo-server\" 127.0.0.1 8001 --name A2 --count 1 --ready-file \"$T/a2\" "
                   ">/dev/null &\n"
                   "i=0; while [ ! -e \"$T/a2\" ]; do i=$((i+1)); [ $i -gt 1000 ] && exit 9; "
                   "sleep 0.02; done\n"
                   "/bin/sh -c '\"$H/client\" 127.0.0.1 8000 grandchild'\n",
                   false);
    struct e2e_proc *p = run_script(TWO_WORKERS
                                    "W=a /bin/sh \"$T/child.sh\"\n"
                                    "W=b \"$H/client\" 127.0.0.1 8001 other; echo \"B $?\"\n"
                                    "W=a \"$H/client\" 127.0.0.1 8001 sibling\n"
                                    "kill $(jobs -p); wait\n",
                                    opts);
    cr_assert(strstr(e2e_out(p), "REPLY A 8000 grandchild"), "%s", e2e_describe(p));
    cr_assert(strstr(e2e_out(p), "B 3"), "worker b reached worker a's server: %s",
              e2e_describe(p));
    cr_assert(strstr(e2e_out(p), "REPLY A2 8001 sibling"), "%s", e2e_describe(p));
}

/* ---- report, port, leaks ------------------------------------------------------- */

Test(workers, port_and_report_show_each_worker)
{
    const char *m = e2e_path("ns.jsonl");
    const char *const opts[] = {"--per-worker=W", "--manifest", m, NULL};
    struct e2e_proc *p = run_script(
        TWO_WORKERS
        "ra=$(\"$P\" port --worker a 8000) || exit 11\n"
        "rb=$(\"$P\" port --worker b 8000) || exit 12\n"
        "rc=$(\"$P\" port 8000) || exit 13\n"
        "own=$(W=a \"$P\" port 8000) || exit 14\n"
        "echo \"PORTS $ra $rb $rc $own\"\n"
        "env -u LD_PRELOAD \"$H/client\" 127.0.0.1 \"$ra\" real-a\n"
        "env -u LD_PRELOAD \"$H/client\" 127.0.0.1 \"$rb\" real-b\n"
        "kill $(jobs -p); wait\n",
        opts);
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    int ra, rb, rc, own;
    const char *ports = strstr(e2e_out(p), "PORTS ");
    cr_assert(ports && sscanf(ports, "PORTS %d %d %d %d", &ra, &rb, &rc, &own) == 4, "%s",
              e2e_describe(p));
    cr_assert(ra != rb && ra != rc && rb != rc, "%s", e2e_describe(p));
    cr_assert_eq(own, ra, "inside worker a, port 8000 is not a's: %s", e2e_describe(p));
    cr_assert(strstr(e2e_out(p), "REPLY A "), "%s", e2e_describe(p));
    cr_assert(strstr(e2e_out(p), "REPLY B "), "%s", e2e_describe(p));

    struct e2e_env env;
    e2e_env_plain(&env);
    struct e2e_proc *r = e2e_runl(&env, 30000, e2e_portshim(), "report", "--manifest", m);
    cr_assert_eq(e2e_status(r), 0, "%s", e2e_describe(r));
    const char *out = e2e_out(r), *wa = strstr(out, "worker a, manifest "),
               *wb = strstr(out, "worker b, manifest ");
    cr_assert(wa && wb && wa < wb, "no section per worker: %s", out);
    cr_assert(strstr(out, "echo-server") < wa, "the controller's server is not in the run's "
              "section: %s", out);
    cr_assert(strstr(wa, "echo-server") && strstr(wa, "echo-server") < wb, "%s", out);
    cr_assert(strstr(wb, "echo-server"), "%s", out);

    r = e2e_runl(&env, 30000, e2e_portshim(), "report", "--manifest", m, "--worker", "b");
    cr_assert_eq(e2e_status(r), 0, "%s", e2e_describe(r));
    cr_assert(strstr(e2e_out(r), "worker b, manifest "), "%s", e2e_describe(r));
    cr_assert_null(strstr(e2e_out(r), "worker a"), "%s", e2e_describe(r));

    r = e2e_runl(&env, 30000, e2e_portshim(), "report", "--manifest", m, "--json");
    cr_assert_eq(e2e_status(r), 0, "%s", e2e_describe(r));
    cr_assert(strstr(e2e_out(r), ",\"workers\":[{\"manifest\":"), "%s", e2e_describe(r));
    cr_assert(strstr(e2e_out(r), "\"workers\":[],\"skipped_lines\":[]"), "a worker's own "
              "workers list is not empty: %s", e2e_describe(r));
    cr_assert(strstr(e2e_out(r), "\"worker\":\"a\""), "%s", e2e_describe(r));
    cr_assert(strstr(e2e_out(r), "\"worker\":\"b\""), "%s", e2e_describe(r));

    r = e2e_runl(&env, 30000, e2e_portshim(), "port", "--manifest", m, "--worker", "nosuch",
                 "8000");
    cr_assert_eq(e2e_status(r), 2, "%s", e2e_describe(r));
    cr_assert(strstr(e2e_err(r), "portshim: worker 'nosuch'"), "%s", e2e_describe(r));
}

/* The picture is of one namespace, and a --per-worker run's own is mostly
 * empty: an HTML report of the run must say the workers are elsewhere and
 * how to draw one, and --worker must draw that worker's listener. */
Test(workers, html_report_of_a_per_worker_run_names_its_workers)
{
    const char *m = e2e_path("ns.jsonl");
    const char *const opts[] = {"--per-worker=W", "--manifest", m, NULL};
    struct e2e_proc *p = run_script("W=a \"$H/binder\" 127.0.0.1 8000 >/dev/null\n", opts);
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));

    struct e2e_env env;
    e2e_env_plain(&env);
    const char *whole = e2e_path("whole.html"), *wa = e2e_path("a.html");
    struct e2e_proc *r = e2e_runl(&env, 30000, e2e_portshim(), "report", "--manifest", m,
                                  "--html", whole);
    cr_assert_eq(e2e_status(r), 0, "%s", e2e_describe(r));
    cr_assert(!strncmp(e2e_err(r), "portshim: report: the picture of ", 33) &&
                  strstr(e2e_err(r), " is of the run's own namespace; its 1 worker (a) has its "
                                     "own: --worker a draws one\n"),
              "%s", e2e_describe(r));
    cr_assert_null(strstr(e2e_slurp(whole), "\"binder\""), "the run's picture has the "
                   "worker's process");

    r = e2e_runl(&env, 30000, e2e_portshim(), "report", "--manifest", m, "--worker", "a",
                 "--html", wa);
    cr_assert_eq(e2e_status(r), 0, "%s", e2e_describe(r));
    cr_assert_str_empty(e2e_err(r), "%s", e2e_describe(r));
    cr_assert(strstr(e2e_slurp(wa), "\"binder\""), "worker a's picture lacks its binder");

    /* the same run as the other side of --compare: its worker's manifest */
    const char *plain = e2e_path("plain.jsonl");
    e2e_write_file(plain, "", false);
    chmod(plain, 0600);
    r = e2e_runl(&env, 30000, e2e_portshim(), "report", "--manifest", plain, "--html", whole,
                 "--compare", m);
    cr_assert_eq(e2e_status(r), 0, "%s", e2e_describe(r));
    cr_assert(strstr(e2e_err(r), "own: --compare with its worker's manifest ") &&
                  strstr(e2e_err(r), "/w-a/manifest.jsonl draws one\n"),
              "%s", e2e_describe(r));
}

/* A script starts a worker in the background and asks for its port: the
 * worker's sub-namespace does not exist until it first uses a socket, and
 * --wait waits for it as for a manifest not there yet. Without --wait, or
 * when the wait runs out, it says so. */
Test(workers, port_wait_waits_for_a_worker_not_started_yet)
{
    const char *const opts[] = {"--per-worker=W", NULL};
    struct e2e_proc *p = run_script(
        "\"$P\" port --worker a --wait 60 8000 >\"$T/port.out\" & pp=$!\n"
        "sleep 0.3\n"
        "W=a \"$H/echo-server\" 127.0.0.1 8000 --name A --lifetime 50 >/dev/null & sp=$!\n"
        "wait $pp; echo \"PORT rc=$? $(cat \"$T/port.out\")\"\n"
        "\"$P\" port --worker b --wait 0.1 8000; echo \"WAITED rc=$?\"\n"
        "\"$P\" port --worker b 8000; echo \"NOWAIT rc=$?\"\n"
        "kill $sp; wait\n",
        opts);
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    int rc = -1, real = 0;
    const char *line = strstr(e2e_out(p), "PORT rc=");
    cr_assert(line && sscanf(line, "PORT rc=%d %d", &rc, &real) == 2, "%s", e2e_describe(p));
    cr_assert(rc == 0 && real > 0 && real != 8000, "%s", e2e_describe(p));
    cr_assert(strstr(e2e_out(p), "WAITED rc=1\n"), "%s", e2e_describe(p));
    cr_assert(strstr(e2e_err(p), "portshim: port 8000: worker 'b' had no sub-namespace after "
                                 "0.1s"), "%s", e2e_describe(p));
    cr_assert(strstr(e2e_out(p), "NOWAIT rc=2\n"), "%s", e2e_describe(p));
}

/* Inside a worker that has used no socket yet, its sub-namespace does not
 * exist: portshim port finds no listener there (status 1), as it would in
 * an empty one, rather than a manifest it cannot read (2). */
Test(workers, inside_a_worker_that_used_no_socket_port_finds_no_listener)
{
    const char *const opts[] = {"--per-worker=W", NULL};
    struct e2e_proc *p = run_script(
        "W=b \"$P\" port 8000; echo \"NOWAIT rc=$?\"\n"
        "W=b \"$P\" port --wait 0.1 8000; echo \"WAITED rc=$?\"\n"
        "[ -e \"$PORTSHIM_DIR/w-b\" ] && echo MADE; echo DONE\n",
        opts);
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    cr_assert(strstr(e2e_out(p), "NOWAIT rc=1\n"), "%s", e2e_describe(p));
    cr_assert(strstr(e2e_out(p), "WAITED rc=1\n"), "%s", e2e_describe(p));
    cr_assert(strstr(e2e_out(p), "WAITED rc=1\nDONE\n"), "the worker's sub-namespace was "
              "made: %s", e2e_describe(p));
    cr_assert(strstr(e2e_err(p), "portshim: no live listener for port 8000 in ") &&
              strstr(e2e_err(p), "/w-b/manifest.jsonl (not there yet: no process of this "
                                 "worker used a socket)\n"), "%s", e2e_describe(p));
    cr_assert_null(strstr(e2e_err(p), "cannot read manifest"), "%s", e2e_describe(p));
}

Test(workers, a_listener_leaked_in_a_worker_is_reported_at_exit)
{
    const char *const opts[] = {"--per-worker=W", "--reap", NULL};
    struct e2e_proc *p = run_script(
        "(W=a exec \"$H/echo-server\" 127.0.0.1 8000 --name leaky --ready-file \"$T/a\" "
        ">/dev/null) &\n"
        "i=0; while [ ! -e \"$T/a\" ]; do i=$((i+1)); [ $i -gt 1000 ] && exit 9; sleep 0.02; done\n"
        "exit 0\n",
        opts);
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    cr_assert(strstr(e2e_err(p), "portshim: leaked listener 127.0.0.1:8000 (real 127.0.0.1:"),
              "%s", e2e_describe(p));
    cr_assert(strstr(e2e_err(p), ") in worker a held by pid "), "%s", e2e_describe(p));
    cr_assert(strstr(e2e_err(p), "reaped 1 process"), "%s", e2e_describe(p));
}

Test(workers, stress_passes_per_worker_on_to_every_run)
{
    e2e_need_lib();
    struct e2e_env env;
    e2e_env_plain(&env);
    e2e_env_set(&env, "H", e2e_helper(""));
    const char *sh = e2e_path("two.sh");
    e2e_write_file(sh,
                   "d=$(mktemp -d)\n"
                   "W=a \"$H/echo-server\" 127.0.0.1 8000 --name A --count 1 --ready-file \"$d/a\" "
                   ">/dev/null &\n"
                   "W=b \"$H/echo-server\" 127.0.0.1 8000 --name B --count 1 --ready-file \"$d/b\" "
                   ">/dev/null &\n"
                   "i=0; while [ ! -e \"$d/a\" ] || [ ! -e \"$d/b\" ]; do i=$((i+1)); "
                   "[ $i -gt 500 ] && exit 9; sleep 0.02; done\n"
                   "W=a \"$H/client\" 127.0.0.1 8000 x | grep -q 'REPLY A' || exit 1\n"
                   "W=b \"$H/client\" 127.0.0.1 8000 x | grep -q 'REPLY B' || exit 1\n"
                   "wait; rm -rf \"$d\"\n",
                   false);
    struct e2e_proc *p = e2e_runl(&env, 90000, e2e_portshim(), "stress", "-n", "2", "-j", "2",
                                  "--ports", "8000", "--per-worker=W", "--", "/bin/sh", sh);
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    p = e2e_runl(&env, 90000, e2e_portshim(), "stress", "-n", "1", "-j", "1", "--ports", "8000",
                 "--", "/bin/sh", sh);
    cr_assert_eq(e2e_status(p), 1, "without --per-worker the workers share: %s",
                 e2e_describe(p));
}

/* ---- bad input ------------------------------------------------------------------ */

static void assert_one_line_usage_error(struct e2e_proc *p, const char *what)
{
    cr_assert_eq(e2e_status(p), 2, "%s", e2e_describe(p));
    const char *err = e2e_err(p);
    cr_assert(!strncmp(err, "portshim: ", 10) && strstr(err, what), "%s", e2e_describe(p));
    const char *nl = strchr(err, '\n');
    cr_assert(nl && (!nl[1] || !strncmp(nl + 1, "Try ", 4)), "not one line: %s",
              e2e_describe(p));
}

Test(workers, a_bad_variable_name_is_rejected_with_one_line)
{
    e2e_need_lib();
    struct e2e_env env;
    e2e_env_plain(&env);
    const char *bad[] = {"--per-worker=1X", "--per-worker=", "--per-worker=A,,B",
                         "--per-worker=A-B", "--per-worker=../x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct e2e_proc *p = e2e_runl(&env, 30000, e2e_portshim(), "run", bad[i], "--", "true");
        assert_one_line_usage_error(p, "--per-worker='");
        p = e2e_runl(&env, 30000, e2e_portshim(), "stress", "-n", "1", bad[i], "--", "true");
        assert_one_line_usage_error(p, "--per-worker='");
    }
}

/* A value becomes a directory name: one that could climb out of the run's
 * directory is encoded, with one warning, and the worker is still isolated. */
Test(workers, an_unsafe_worker_value_is_encoded_not_followed)
{
    const char *m = e2e_path("ns.jsonl");
    const char *const opts[] = {"--per-worker=W", "--manifest", m, NULL};
    struct e2e_proc *p = run_script(
        "W=../x \"$H/echo-server\" 127.0.0.1 8000 --name E --count 1 "
        "--ready-file \"$T/e\" >/dev/null &\n"
        "i=0; while [ ! -e \"$T/e\" ]; do i=$((i+1)); [ $i -gt 1000 ] && exit 9; sleep 0.02; done\n"
        "W=ok \"$H/client\" 127.0.0.1 8000 x; echo \"OK $?\"\n"
        "W=../x \"$H/client\" 127.0.0.1 8000 y\n"
        "wait\n",
        opts);
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    cr_assert(strstr(e2e_out(p), "OK 3"), "%s", e2e_describe(p));
    cr_assert(strstr(e2e_out(p), "REPLY E 8000 y"), "%s", e2e_describe(p));
    const char *warn = strstr(e2e_err(p), "portshim: W='../x' is not a safe directory name");
    cr_assert(warn, "%s", e2e_describe(p));
    cr_assert_null(strstr(warn + 1, "portshim: W='../x'"), "warned more than once: %s",
                   e2e_describe(p));
    struct stat st;
    cr_assert_eq(lstat(e2e_path("ns.jsonl.d/w-%%2E.%%2Fx"), &st), 0);
    cr_assert(S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700);
    cr_assert_neq(lstat(e2e_path("x"), &st), 0);
    cr_assert_neq(lstat(e2e_path("w-x"), &st), 0);
}

/* A directory planted where a worker's would go (not private): refused. */
Test(workers, a_planted_worker_directory_is_refused)
{
    const char *m = e2e_path("ns.jsonl");
    cr_assert_eq(mkdir(e2e_path("ns.jsonl.d"), 0700), 0);
    cr_assert_eq(mkdir(e2e_path("ns.jsonl.d/w-a"), 0777), 0);
    cr_assert_eq(chmod(e2e_path("ns.jsonl.d/w-a"), 0777), 0);
    const char *const opts[] = {"--per-worker=W", "--manifest", m, NULL};
    struct e2e_proc *p = run_script("W=a \"$H/echo-server\" 127.0.0.1 8000 --count 1; "
                                    "echo \"A $?\"\n", opts);
    cr_assert(strstr(e2e_out(p), "A 78"), "%s", e2e_describe(p));
    cr_assert(strstr(e2e_err(p), "portshim: worker a: '"), "%s", e2e_describe(p));
    cr_assert(strstr(e2e_err(p), "must be a directory of this user"), "%s", e2e_describe(p));
}

/* Unix mode: every worker's socket names must fit sun_path. */
Test(workers, unix_mode_manifest_too_long_for_workers_fails_with_one_line)
{
    e2e_need_lib();
    struct e2e_env env;
    e2e_env_plain(&env);
    /* FILE.d of 38 bytes: fits unix mode alone (52), not with workers (37). */
    char m[64];
    int n = snprintf(m, sizeof m, "/tmp/psw-%07d-", (int)getpid());
    while (n < 34)
        m[n++] = 'x';
    snprintf(m + n, sizeof m - (size_t)n, ".j");
    cr_assert_eq(strlen(m) + 2, PS_WORKER_ROOT_MAX + 1);
    struct e2e_proc *p = e2e_runl(&env, 30000, e2e_portshim(), "run", "--mode", "unix",
                                  "--manifest", m, "--per-worker", "--", "true");
    unlink(m);
    cr_assert_eq(e2e_status(p), 2, "%s", e2e_describe(p));
    cr_assert(strstr(e2e_err(p), "with --per-worker"), "%s", e2e_describe(p));
    p = e2e_runl(&env, 30000, e2e_portshim(), "run", "--mode", "unix", "--manifest", m, "--",
                 "true");
    char d[80];
    snprintf(d, sizeof d, "%s.d", m);
    rmdir(d);
    unlink(m);
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
}

/* A TMPDIR whose namespace directory fits unix mode (52 bytes) but leaves
 * no room for a worker's (37): run --per-worker --mode unix goes to /tmp,
 * and a worker with the longest name still binds and is reached. */
Test(workers, unix_mode_with_a_long_tmpdir_still_fits_every_worker)
{
    e2e_need_lib();
    struct e2e_env env;
    e2e_env_plain(&env);   /* TMPDIR=e2e_tmp() */
    size_t ns_len = strlen(e2e_tmp()) + strlen("/portshim.XXXXXX");
    cr_assert(ns_len > PS_WORKER_ROOT_MAX && ns_len <= PS_UNAME_DIR_MAX, "%zu", ns_len);
    e2e_env_set(&env, "H", e2e_helper(""));
    struct e2e_proc *p = e2e_runl(
        &env, 60000, e2e_portshim(), "run", "--mode", "unix", "--per-worker=W", "--", "/bin/sh",
        "-c",
        "W=abcdefghijklmnop \"$H/echo-server\" 127.0.0.1 8000 --name L --count 1 "
        "--ready-file \"$PORTSHIM_DIR/r\" >/dev/null &\n"
        "i=0; while [ ! -e \"$PORTSHIM_DIR/r\" ]; do i=$((i+1)); [ $i -gt 1000 ] && exit 9; "
        "sleep 0.02; done\n"
        "W=abcdefghijklmnop \"$H/client\" 127.0.0.1 8000 far; wait\n");
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    cr_assert(strstr(e2e_out(p), "REPLY L 8000 far"), "%s", e2e_describe(p));
}
