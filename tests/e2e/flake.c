/* flake.c — finding flaky tests: who holds a port when a bind fails with
 * EADDRINUSE (in the namespace or outside it), and seeded fault injection
 * (PORTSHIM_INJECT / --inject, docs/inject.md) that replays the same
 * decisions for the same seed. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "e2e.h"

TestSuite(flake, .init = e2e_setup, .fini = e2e_teardown, .timeout = 120);

/* /proc/PID/cmdline with NULs as spaces: what the holder line must show. */
static const char *cmdline_of(pid_t pid)
{
    static char buf[4096];
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    int fd = open(path, O_RDONLY);
    cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    cr_assert_gt(n, 0);
    while (n > 0 && buf[n - 1] == 0)
        n--;
    for (ssize_t i = 0; i < n; i++)
        if (!buf[i])
            buf[i] = ' ';
    buf[n] = 0;
    return buf;
}

/* The failed binds of port in the manifest; exactly one expected. */
static struct ps_event failed_bind(const char *manifest, int port)
{
    struct e2e_events ev;
    struct ps_event found;
    int n = 0;
    e2e_events_read(manifest, &ev);
    for (size_t i = 0; i < ev.n; i++)
        if (ev.v[i].ev == PS_EV_BIND && !ev.v[i].ok && ev.v[i].port == port) {
            found = ev.v[i];
            n++;
        }
    e2e_events_free(&ev);
    cr_assert_eq(n, 1, "want one failed bind of %d:\n%s", port, e2e_slurp(manifest));
    return found;
}

/* A process holds a real port (unshimmed, or shimmed in the same
 * namespace); a shimmed bind of that port (in mode, with ports) fails in the
 * kernel, and the line and the record name the holder. */
static void real_port_holder_is_named(const char *mode, const char *ports, bool holder_shimmed)
{
    e2e_need_lib();
    struct e2e_ns ns;
    struct e2e_env plain, env;
    e2e_ns_new(&ns, "ns");
    e2e_env_plain(&plain);
    e2e_env_shim(&env, &ns, mode, ports);

    struct e2e_proc *h = e2e_startl(holder_shimmed ? &env : &plain, "sockctl");
    int fd = e2e_cmd_fd(h, "tcp4");
    cr_assert_str_eq(e2e_cmd(h, "bind %d 127.0.0.1 0", fd), "OK");
    cr_assert_str_eq(e2e_cmd(h, "listen %d", fd), "OK");
    int port = 0;
    cr_assert_eq(sscanf(e2e_cmd(h, "name %d", fd), "OK 127.0.0.1 %d", &port), 1);
    const char *cmd = cmdline_of(h->pid);

    char p[16];
    snprintf(p, sizeof p, "%d", port);
    struct e2e_proc *b = e2e_runl(&env, E2E_MS, "binder", "127.0.0.1", p);
    cr_assert_eq(e2e_status(b), 1, "the bind must fail: %s", e2e_describe(b));
    cr_assert(strstr(e2e_out(b), "ERR EADDRINUSE"), "%s", e2e_describe(b));

    char want[256];
    snprintf(want, sizeof want, "portshim: bind 127.0.0.1:%d in pid %d (binder): EADDRINUSE%s, "
             "held by pid %d (%.100s), user root, since ", port, (int)b->pid,
             "", (int)h->pid, cmd);
    if (geteuid() != 0) {   /* the user's own name, whatever it is */
        char *u = strstr(want, "user root");
        *u = 0;
    }
    cr_assert(strstr(e2e_err(b), want), "want '%s' in: %s", want, e2e_describe(b));
    const char *line = strstr(e2e_err(b), "portshim: bind");
    cr_assert_null(strchr(strchr(line, '\n') + 1, '\n'), "more than one line: %s", e2e_err(b));

    struct ps_event e = failed_bind(ns.manifest, port);
    cr_assert_eq(e.err, EADDRINUSE);
    cr_assert_eq(e.hpid, h->pid, "%s", e2e_slurp(ns.manifest));
    cr_assert_str_eq(e.hcmd, cmd);
    cr_assert_eq(e.huid, (long)geteuid());
    cr_assert_gt(e.hsince, 0, "no start time: %s", e2e_slurp(ns.manifest));
    cr_assert_leq(e.hsince, e.ts + 1, "the holder started after the failed bind?");
    cr_assert_geq(e.hsince, e.ts - 600, "since must be the holder's start, not the boot");
    e2e_close_stdin(h);
    e2e_wait(h, E2E_MS);
}

/* A program is named whatever it was run as: newlines and escapes in its
 * name do not break the warning into lines. */
Test(flake, a_program_named_with_control_bytes_gets_one_warning_line)
{
    e2e_need_lib();
    struct e2e_ns ns;
    struct e2e_env plain, env;
    e2e_ns_new(&ns, "ns");
    e2e_env_plain(&plain);
    e2e_env_shim(&env, &ns, NULL, "1-1023");

    struct e2e_proc *h = e2e_startl(&plain, "sockctl");
    int fd = e2e_cmd_fd(h, "tcp4");
    cr_assert_str_eq(e2e_cmd(h, "bind %d 127.0.0.1 0", fd), "OK");
    cr_assert_str_eq(e2e_cmd(h, "listen %d", fd), "OK");
    int port = 0;
    cr_assert_eq(sscanf(e2e_cmd(h, "name %d", fd), "OK 127.0.0.1 %d", &port), 1);

    const char *odd = e2e_path("bin\nder\033[2J");
    cr_assert_eq(symlink(e2e_helper("binder"), odd), 0, "%s", strerror(errno));
    char p[16];
    snprintf(p, sizeof p, "%d", port);
    struct e2e_proc *b = e2e_runl(&env, E2E_MS, odd, "127.0.0.1", p);
    cr_assert_eq(e2e_status(b), 1, "the bind must fail: %s", e2e_describe(b));
    const char *err = e2e_err(b);
    char want[128];
    snprintf(want, sizeof want, "portshim: bind 127.0.0.1:%d in pid %d (bin?der?[2J): EADDRINUSE, "
             "held by pid %d (", port, (int)b->pid, (int)h->pid);
    cr_assert(strstr(err, want), "want '%s' in: %s", want, e2e_describe(b));
    cr_assert_null(strchr(strchr(err, '\n') + 1, '\n'), "more than one line: %s", err);
}

Test(flake, holder_outside_the_namespace_named_for_a_passed_through_port)
{
    /* Only 8000 is virtual: the real port passes through to the kernel. */
    real_port_holder_is_named(NULL, "8000", false);
}

Test(flake, holder_outside_named_in_observe_mode)
{
    real_port_holder_is_named("observe", NULL, false);
}

Test(flake, holder_inside_named_in_observe_mode)
{
    /* Observe mode binds real ports (they are records, not mappings): the
     * kernel refuses, /proc names the other process of the namespace. */
    real_port_holder_is_named("observe", NULL, true);
}

Test(flake, holder_inside_the_namespace_named_with_its_bind_time)
{
    e2e_need_lib();
    struct e2e_ns ns;
    struct e2e_env env;
    e2e_ns_new(&ns, "ns");
    e2e_env_shim(&env, &ns, NULL, NULL);

    struct e2e_proc *h = e2e_startl(&env, "sockctl");
    int fd = e2e_cmd_fd(h, "tcp4");
    cr_assert_str_eq(e2e_cmd(h, "bind %d 127.0.0.1 8000", fd), "OK");
    cr_assert_str_eq(e2e_cmd(h, "listen %d", fd), "OK");
    const char *cmd = cmdline_of(h->pid);

    struct e2e_proc *b = e2e_runl(&env, E2E_MS, "binder", "127.0.0.1", "8000");
    cr_assert_eq(e2e_status(b), 1, "virtual 8000 is taken: %s", e2e_describe(b));
    char want[256];
    snprintf(want, sizeof want, "portshim: bind 127.0.0.1:8000 in pid %d (binder): EADDRINUSE "
             "in this namespace, held by pid %d (%.100s), ", (int)b->pid, (int)h->pid, cmd);
    cr_assert(strstr(e2e_err(b), want), "want '%s' in: %s", want, e2e_describe(b));

    struct ps_event e = failed_bind(ns.manifest, 8000);
    struct e2e_events ev;
    e2e_events_read(ns.manifest, &ev);
    const struct ps_event *held = e2e_last_bind(&ev, 8000);
    cr_assert(held && held->pid == h->pid, "%s", e2e_slurp(ns.manifest));
    cr_assert_eq(e.hpid, h->pid, "%s", e2e_slurp(ns.manifest));
    cr_assert_str_eq(e.hcmd, cmd);
    cr_assert_float_eq(e.hsince, held->ts, 1e-6, "since must be the holder's bind");
    e2e_events_free(&ev);
    e2e_close_stdin(h);
    e2e_wait(h, E2E_MS);
}

Test(flake, real_port_of_a_namespace_socket_is_named_with_its_bind)
{
    /* A remaps virtual 8000 to a kernel port R; B binds R itself (outside
     * --ports, so passed through): the kernel refuses, and the holder is
     * A's socket of the namespace, held since A's bind. */
    e2e_need_lib();
    struct e2e_ns ns;
    struct e2e_env env;
    e2e_ns_new(&ns, "ns");
    e2e_env_shim(&env, &ns, NULL, "8000");
    struct e2e_proc *h = e2e_startl(&env, "sockctl");
    int fd = e2e_cmd_fd(h, "tcp4");
    cr_assert_str_eq(e2e_cmd(h, "bind %d 127.0.0.1 8000", fd), "OK");
    cr_assert_str_eq(e2e_cmd(h, "listen %d", fd), "OK");
    int r = e2e_real_port(ns.manifest, 8000, E2E_MS);
    cr_assert_gt(r, 0, "%s", e2e_slurp(ns.manifest));
    char p[16];
    snprintf(p, sizeof p, "%d", r);
    struct e2e_proc *b = e2e_runl(&env, E2E_MS, "binder", "127.0.0.1", p);
    cr_assert_eq(e2e_status(b), 1, "%s", e2e_describe(b));
    char want[256];
    snprintf(want, sizeof want, "EADDRINUSE in this namespace, held by pid %d (%.100s), ",
             (int)h->pid, cmdline_of(h->pid));
    cr_assert(strstr(e2e_err(b), want), "want '%s' in: %s", want, e2e_describe(b));
    struct ps_event e = failed_bind(ns.manifest, r);
    struct e2e_events ev;
    e2e_events_read(ns.manifest, &ev);
    const struct ps_event *held = e2e_last_bind(&ev, 8000);
    cr_assert(held);
    cr_assert_eq(e.hpid, h->pid);
    cr_assert_float_eq(e.hsince, held->ts, 1e-6, "since must be the holder's bind");
    e2e_events_free(&ev);
    e2e_close_stdin(h);
    e2e_wait(h, E2E_MS);
}

Test(flake, a_successful_bind_names_no_holder)
{
    e2e_need_lib();
    struct e2e_ns ns;
    struct e2e_env env;
    e2e_ns_new(&ns, "ns");
    e2e_env_shim(&env, &ns, NULL, NULL);
    struct e2e_proc *b = e2e_runl(&env, E2E_MS, "binder", "127.0.0.1", "8000");
    cr_assert_eq(e2e_status(b), 0, "%s", e2e_describe(b));
    cr_assert_null(strstr(e2e_err(b), "held by"), "%s", e2e_describe(b));
    cr_assert_null(strstr(e2e_slurp(ns.manifest), "\"hpid\""), "%s", e2e_slurp(ns.manifest));
}

/* ---- injection ----------------------------------------------------------- */

/* A fresh namespace name in this test. */
static const char *ns_name(void)
{
    static int n;
    static char buf[16];
    snprintf(buf, sizeof buf, "ns%d", ++n);
    return buf;
}

static void env_inject(struct e2e_env *env, struct e2e_ns *ns, const char *mode,
                       const char *spec, const char *seed)
{
    e2e_ns_new(ns, ns_name());
    e2e_env_shim(env, ns, mode, NULL);
    e2e_env_set(env, "PORTSHIM_INJECT", spec);
    if (seed)
        e2e_env_set(env, "PORTSHIM_SEED", seed);
}

static size_t count_inj(const char *manifest, enum ps_ev kind, const char *inj, int ok)
{
    struct e2e_events ev;
    size_t n = 0;
    e2e_events_read(manifest, &ev);
    for (size_t i = 0; i < ev.n; i++)
        if (ev.v[i].ev == kind && !strcmp(ev.v[i].inj, inj) && (ok < 0 || ev.v[i].ok == ok))
            n++;
    e2e_events_free(&ev);
    return n;
}

Test(flake, bind_eaddrinuse_100_percent_fails_every_bind_recorded_as_injected)
{
    e2e_need_lib();
    const char *modes[] = {NULL, "observe"};
    for (int m = 0; m < 2; m++) {
        struct e2e_ns ns;
        struct e2e_env env;
        env_inject(&env, &ns, modes[m], "bind-eaddrinuse=100%", "1");
        struct e2e_proc *p = e2e_startl(&env, "sockctl");
        for (int i = 0; i < 5; i++) {
            int fd = e2e_cmd_fd(p, "tcp4");
            cr_assert_str_eq(e2e_cmd(p, "bind %d 127.0.0.1 %d", fd, i ? 8000 + i : 0),
                             "ERR EADDRINUSE");
            cr_assert_str_eq(e2e_cmd(p, "close %d", fd), "OK");
        }
        e2e_close_stdin(p);
        e2e_wait(p, E2E_MS);
        struct e2e_events ev;
        e2e_events_read(ns.manifest, &ev);
        size_t binds = 0;
        for (size_t i = 0; i < ev.n; i++)
            if (ev.v[i].ev == PS_EV_BIND) {
                binds++;
                cr_assert(!ev.v[i].ok && ev.v[i].err == EADDRINUSE, "%s", e2e_slurp(ns.manifest));
                cr_assert_str_eq(ev.v[i].inj, "bind-eaddrinuse");
                cr_assert_str_eq(ev.v[i].note, "injected");
                cr_assert_eq(ev.v[i].hpid, 0, "an injected failure has no holder");
            }
        cr_assert_eq(binds, 5, "%s", e2e_slurp(ns.manifest));
        e2e_events_free(&ev);
    }
}

Test(flake, connect_refused_100_percent_refuses_without_reaching_the_listener)
{
    e2e_need_lib();
    struct e2e_ns ns;
    struct e2e_env env;
    env_inject(&env, &ns, NULL, "connect-refused=1", "5");
    struct e2e_proc *p = e2e_startl(&env, "sockctl");
    int l = e2e_cmd_fd(p, "tcp4");
    cr_assert_str_eq(e2e_cmd(p, "bind %d 127.0.0.1 8000", l), "OK");
    cr_assert_str_eq(e2e_cmd(p, "listen %d", l), "OK");
    for (int i = 0; i < 3; i++) {
        int c = e2e_cmd_fd(p, "tcp4");
        cr_assert_str_eq(e2e_cmd(p, "connect %d 127.0.0.1 8000", c), "ERR ECONNREFUSED");
        cr_assert_str_eq(e2e_cmd(p, "close %d", c), "OK");
    }
    e2e_close_stdin(p);
    e2e_wait(p, E2E_MS);
    cr_assert_eq(count_inj(ns.manifest, PS_EV_CONNECT, "connect-refused", 0), 3, "%s",
                 e2e_slurp(ns.manifest));
    struct e2e_events ev;
    e2e_events_read(ns.manifest, &ev);
    for (size_t i = 0; i < ev.n; i++)
        if (ev.v[i].ev == PS_EV_CONNECT) {
            cr_assert_eq(ev.v[i].err, ECONNREFUSED);
            cr_assert_str_eq(ev.v[i].note, "injected");
            cr_assert_eq(ev.v[i].port, 8000);
        }
    e2e_events_free(&ev);
}

/* The outcomes of 32 binds of one virtual port at 50 %, as a string of
 * 0 (bound) and 1 (EADDRINUSE), in a fresh namespace. */
static void bind_pattern(const char *seed, char out[33])
{
    struct e2e_ns ns;
    struct e2e_env env;
    env_inject(&env, &ns, NULL, "bind-eaddrinuse=50%", seed);
    struct e2e_proc *p = e2e_startl(&env, "sockctl");
    for (int i = 0; i < 32; i++) {
        int fd = e2e_cmd_fd(p, "tcp4");
        const char *r = e2e_cmd(p, "bind %d 127.0.0.1 8000", fd);
        cr_assert(!strcmp(r, "OK") || !strcmp(r, "ERR EADDRINUSE"), "bind %d: %s", i, r);
        out[i] = r[0] == 'O' ? '0' : '1';
        cr_assert_str_eq(e2e_cmd(p, "close %d", fd), "OK");
    }
    out[32] = 0;
    e2e_close_stdin(p);
    e2e_wait(p, E2E_MS);
    int injected = 0;
    for (int i = 0; i < 32; i++)
        injected += out[i] == '1';
    cr_assert_eq(count_inj(ns.manifest, PS_EV_BIND, "bind-eaddrinuse", 0), (size_t)injected,
                 "%s", e2e_slurp(ns.manifest));
}

Test(flake, same_seed_replays_the_same_decisions_different_seed_does_not)
{
    e2e_need_lib();
    char a[33], b[33], c[33];
    bind_pattern("2787", a);
    bind_pattern("2787", b);
    bind_pattern("2034", c);
    cr_assert_str_eq(a, b, "the same seed gave different decisions");
    cr_assert_str_neq(a, c, "two seeds gave the same 32 decisions");
    cr_assert(strchr(a, '0') && strchr(a, '1'), "50%% gave %s", a);
}

/* The outcomes of 24 connects to a listener at 50 % refusal. */
static void connect_pattern(const char *seed, char out[25])
{
    struct e2e_ns ns;
    struct e2e_env env;
    env_inject(&env, &ns, NULL, "connect-refused=50%", seed);
    struct e2e_proc *p = e2e_startl(&env, "sockctl");
    int l = e2e_cmd_fd(p, "tcp4");
    cr_assert_str_eq(e2e_cmd(p, "bind %d 127.0.0.1 8000", l), "OK");
    cr_assert_str_eq(e2e_cmd(p, "listen %d", l), "OK");
    for (int i = 0; i < 24; i++) {
        int fd = e2e_cmd_fd(p, "tcp4");
        const char *r = e2e_cmd(p, "connect %d 127.0.0.1 8000", fd);
        cr_assert(!strcmp(r, "OK") || !strcmp(r, "ERR ECONNREFUSED"), "connect %d: %s", i, r);
        out[i] = r[0] == 'O' ? '0' : '1';
        cr_assert_str_eq(e2e_cmd(p, "close %d", fd), "OK");
    }
    out[24] = 0;
    e2e_close_stdin(p);
    e2e_wait(p, E2E_MS);
}

Test(flake, connect_refusals_replay_with_the_seed)
{
    e2e_need_lib();
    char a[25], b[25], c[25];
    connect_pattern("7", a);
    connect_pattern("7", b);
    connect_pattern("8", c);
    cr_assert_str_eq(a, b, "the same seed gave different decisions");
    cr_assert_str_neq(a, c, "two seeds gave the same 24 decisions");
    cr_assert(strchr(a, '0') && strchr(a, '1'), "50%% gave %s", a);
}

Test(flake, delays_are_recorded_in_the_manifest)
{
    e2e_need_lib();
    struct e2e_ns ns;
    struct e2e_env env;
    env_inject(&env, &ns, NULL, "accept-delay=2ms,connect-delay=1ms", "3");
    struct e2e_proc *s = e2e_startl(&env, "echo-server", "127.0.0.1", "8000", "--name", "d",
                                    "--count", "2");
    cr_assert(e2e_expect(s, "READY ", E2E_MS), "%s", e2e_describe(s));
    for (int i = 0; i < 2; i++) {
        struct e2e_proc *c = e2e_runl(&env, E2E_MS, "client", "127.0.0.1", "8000");
        cr_assert_eq(e2e_status(c), 0, "%s", e2e_describe(c));
    }
    e2e_wait(s, E2E_MS);
    cr_assert_eq(e2e_status(s), 0, "%s", e2e_describe(s));
    struct e2e_events ev;
    e2e_events_read(ns.manifest, &ev);
    size_t acc = 0, con = 0;
    for (size_t i = 0; i < ev.n; i++) {
        if (!strcmp(ev.v[i].inj, "accept-delay")) {
            cr_assert_eq(ev.v[i].ev, PS_EV_ACCEPT);
            cr_assert_eq(ev.v[i].inj_us, 2000);
            cr_assert_eq(ev.v[i].port, 8000, "the listener's virtual port");
            acc++;
        } else if (!strcmp(ev.v[i].inj, "connect-delay")) {
            cr_assert_eq(ev.v[i].ev, PS_EV_CONNECT);
            cr_assert_eq(ev.v[i].inj_us, 1000);
            cr_assert(ev.v[i].ok && ev.v[i].port == 8000);
            con++;
        }
    }
    cr_assert_eq(acc, 2, "%s", e2e_slurp(ns.manifest));
    cr_assert_eq(con, 2, "%s", e2e_slurp(ns.manifest));
    /* One record per call: no second connect line for a delayed connect. */
    cr_assert_eq(e2e_count(&ev, PS_EV_CONNECT, -1, 8000), 2, "%s", e2e_slurp(ns.manifest));
    e2e_events_free(&ev);
}

Test(flake, observe_mode_delay_joins_the_accept_record)
{
    e2e_need_lib();
    struct e2e_ns ns;
    struct e2e_env env;
    env_inject(&env, &ns, "observe", "accept-delay=1ms", "3");
    struct e2e_proc *p = e2e_startl(&env, "sockctl");
    int l = e2e_cmd_fd(p, "tcp4");
    cr_assert_str_eq(e2e_cmd(p, "bind %d 127.0.0.1 0", l), "OK");
    cr_assert_str_eq(e2e_cmd(p, "listen %d", l), "OK");
    int port = 0;
    cr_assert_eq(sscanf(e2e_cmd(p, "name %d", l), "OK 127.0.0.1 %d", &port), 1);
    int c = e2e_cmd_fd(p, "tcp4");
    cr_assert_str_eq(e2e_cmd(p, "connect %d 127.0.0.1 %d", c, port), "OK");
    cr_assert_eq(strncmp(e2e_cmd(p, "accept %d", l), "OK ", 3), 0);
    e2e_close_stdin(p);
    e2e_wait(p, E2E_MS);
    struct e2e_events ev;
    e2e_events_read(ns.manifest, &ev);
    cr_assert_eq(e2e_count(&ev, PS_EV_ACCEPT, -1, -1), 1, "%s", e2e_slurp(ns.manifest));
    e2e_events_free(&ev);
    cr_assert_eq(count_inj(ns.manifest, PS_EV_ACCEPT, "accept-delay", 1), 1, "%s",
                 e2e_slurp(ns.manifest));
}

Test(flake, bad_portshim_inject_exits_78_naming_the_variable)
{
    e2e_need_lib();
    const char *bad[][2] = {
        {"PORTSHIM_INJECT", "accept-delay=5xs"},
        {"PORTSHIM_INJECT", "connect-refused=150%"},
        {"PORTSHIM_SEED", "twelve"},
    };
    for (int i = 0; i < 3; i++) {
        struct e2e_ns ns;
        struct e2e_env env;
        e2e_ns_new(&ns, ns_name());
        e2e_env_shim(&env, &ns, NULL, NULL);
        e2e_env_set(&env, bad[i][0], bad[i][1]);
        struct e2e_proc *t = e2e_runl(&env, E2E_MS, "/bin/true");
        cr_assert_eq(e2e_status(t), 78, "%s=%s: %s", bad[i][0], bad[i][1], e2e_describe(t));
        char want[128];
        snprintf(want, sizeof want, "portshim: %s", bad[i][0]);
        cr_assert(strstr(e2e_err(t), want), "%s", e2e_describe(t));
        cr_assert(strstr(e2e_err(t), bad[i][1]), "%s", e2e_describe(t));
    }
}

Test(flake, run_rejects_bad_inject_and_seed_with_exit_2)
{
    e2e_need_lib();
    struct e2e_env env;
    e2e_env_plain(&env);
    struct e2e_proc *r = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--inject",
                                  "accept-delay=5xs", "--", "/bin/true");
    cr_assert_eq(e2e_status(r), 2, "%s", e2e_describe(r));
    cr_assert(strstr(e2e_err(r), "portshim: --inject 'accept-delay=5xs': bad duration '5xs' "
                                 "(use 10us, 5ms or 1s)\n"), "%s", e2e_describe(r));
    r = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--inject", "bind-eaddrinuse=1",
                 "--seed", "-1", "--", "/bin/true");
    cr_assert_eq(e2e_status(r), 2, "%s", e2e_describe(r));
    cr_assert(strstr(e2e_err(r), "portshim: --seed '-1'"), "%s", e2e_describe(r));
}

Test(flake, run_exports_the_spec_and_prints_a_random_seed_for_replay)
{
    e2e_need_lib();
    struct e2e_env env;
    e2e_env_plain(&env);
    struct e2e_proc *r = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--inject",
                                  "connect-refused=2%", "--", "/bin/sh", "-c",
                                  "echo \"$PORTSHIM_INJECT $PORTSHIM_SEED\"");
    cr_assert_eq(e2e_status(r), 0, "%s", e2e_describe(r));
    unsigned long long seed = 0;
    char spec[64];
    cr_assert_eq(sscanf(e2e_out(r), "%63s %llu", spec, &seed), 2, "%s", e2e_describe(r));
    cr_assert_str_eq(spec, "connect-refused=2%");
    char want[128];
    snprintf(want, sizeof want, "portshim: seed %llu (replay: --seed %llu)\n", seed, seed);
    cr_assert(strstr(e2e_err(r), want), "want '%s': %s", want, e2e_describe(r));

    r = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--inject", "connect-refused=2%",
                 "--seed", "42", "--", "/bin/sh", "-c", "echo \"$PORTSHIM_SEED\"");
    cr_assert_eq(e2e_status(r), 0, "%s", e2e_describe(r));
    cr_assert_str_eq(e2e_out(r), "42\n");
    cr_assert_null(strstr(e2e_err(r), "seed"), "a given seed is not announced: %s",
                   e2e_describe(r));
}

Test(flake, run_replays_a_bind_sequence_with_the_same_seed)
{
    /* Through the command: --inject and --seed reach every process. Each
     * binder has its own command line (its port), so its own decisions. */
    e2e_need_lib();
    struct e2e_env env;
    e2e_env_plain(&env);
    char out[2][256];
    for (int k = 0; k < 2; k++) {
        struct e2e_proc *r = e2e_runl(&env, 60000, e2e_portshim(), "run", "--inject",
                                      "bind-eaddrinuse=50%", "--seed", "11", "--", "/bin/sh",
                                      "-c", "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do "
                                      "$0 127.0.0.1 8000+$i; done; exit 0", e2e_helper("binder"));
        cr_assert_eq(e2e_status(r), 0, "%s", e2e_describe(r));
        snprintf(out[k], sizeof out[k], "%s", e2e_out(r));
    }
    cr_assert_str_eq(out[0], out[1]);
    cr_assert(strstr(out[0], "OK 80") && strstr(out[0], "ERR EADDRINUSE"), "%s", out[0]);
}

/* ---- observe mode records every call with its outcome ---------------------- */

Test(flake, observe_records_failed_connects_and_closes_of_autobound_listeners)
{
    e2e_need_lib();
    struct e2e_ns ns;
    struct e2e_env env;
    e2e_ns_new(&ns, ns_name());
    e2e_env_shim(&env, &ns, "observe", NULL);
    int free_port = e2e_free_port(SOCK_STREAM);
    struct e2e_proc *p = e2e_startl(&env, "sockctl");
    int c = e2e_cmd_fd(p, "tcp4");
    const char *r = e2e_cmd(p, "connect %d 127.0.0.1 %d", c, free_port);
    cr_assert_str_eq(r, "ERR ECONNREFUSED", "port %d was taken meanwhile?", free_port);
    cr_assert_str_eq(e2e_cmd(p, "close %d", c), "OK");
    int l = e2e_cmd_fd(p, "tcp4");
    cr_assert_str_eq(e2e_cmd(p, "listen %d", l), "OK");   /* the kernel picks the port */
    int port = 0;
    cr_assert_eq(sscanf(e2e_cmd(p, "name %d", l), "OK 0.0.0.0 %d", &port), 1);
    cr_assert_str_eq(e2e_cmd(p, "close %d", l), "OK");
    e2e_close_stdin(p);
    e2e_wait(p, E2E_MS);

    struct e2e_events ev;
    e2e_events_read(ns.manifest, &ev);
    const char *m = e2e_slurp(ns.manifest);
    bool refused = false;
    const char *sid = NULL;
    for (size_t i = 0; i < ev.n; i++) {
        if (ev.v[i].ev == PS_EV_CONNECT && ev.v[i].port == free_port)
            refused = !ev.v[i].ok && ev.v[i].err == ECONNREFUSED;
        if (ev.v[i].ev == PS_EV_LISTEN && ev.v[i].port == port && ev.v[i].ok)
            sid = ev.v[i].sid;
    }
    cr_assert(refused, "the refused connect is not recorded with its errno:\n%s", m);
    cr_assert(sid && sid[0], "the autobound listener has no socket id:\n%s", m);
    bool closed = false;
    for (size_t i = 0; i < ev.n; i++)
        if (ev.v[i].ev == PS_EV_CLOSE && !strcmp(ev.v[i].sid, sid))
            closed = true;
    cr_assert(closed, "the autobound listener's close is not recorded:\n%s", m);
    e2e_events_free(&ev);
}

Test(flake, a_program_hunting_for_a_free_port_stops_paying_for_holder_lookups)
{
    e2e_need_lib();
    struct e2e_ns ns;
    struct e2e_env plain, env;
    e2e_ns_new(&ns, ns_name());
    e2e_env_plain(&plain);
    e2e_env_shim(&env, &ns, "observe", NULL);
    struct e2e_proc *h = e2e_startl(&plain, "sockctl");
    int fd = e2e_cmd_fd(h, "tcp4");
    cr_assert_str_eq(e2e_cmd(h, "bind %d 127.0.0.1 0", fd), "OK");
    cr_assert_str_eq(e2e_cmd(h, "listen %d", fd), "OK");
    int port = 0;
    cr_assert_eq(sscanf(e2e_cmd(h, "name %d", fd), "OK 127.0.0.1 %d", &port), 1);
    char script[512];
    snprintf(script, sizeof script,
             "import socket\n"
             "n = 0\n"
             "for i in range(103):\n"
             "    s = socket.socket()\n"
             "    try: s.bind(('127.0.0.1', %d))\n"
             "    except OSError: n += 1\n"
             "    s.close()\n"
             "print('FAILED', n)\n", port);
    struct e2e_proc *p = e2e_runl(&env, 60000, "/usr/bin/python3", "-c", script);
    cr_assert_eq(e2e_status(p), 0, "%s", e2e_describe(p));
    cr_assert_str_eq(e2e_out(p), "FAILED 103\n");
    const char *err = e2e_err(p);
    int held = 0, capped = 0;
    for (const char *q = err; (q = strstr(q, "EADDRINUSE, held by pid")); q++)
        held++;
    for (const char *q = err; (q = strstr(q, "are not looked up")); q++)
        capped++;
    cr_assert_eq(held, 100, "%s", err);
    cr_assert_eq(capped, 1, "%s", err);
    struct e2e_events ev;
    e2e_events_read(ns.manifest, &ev);
    int named = 0, failed = 0;
    for (size_t i = 0; i < ev.n; i++)
        if (ev.v[i].ev == PS_EV_BIND && !ev.v[i].ok) {
            failed++;
            named += ev.v[i].hpid == h->pid;
        }
    cr_assert_eq(failed, 103);
    cr_assert_eq(named, 100);
    e2e_events_free(&ev);
    e2e_close_stdin(h);
    e2e_wait(h, E2E_MS);
}
