/* seccomp.c — the supervisor backend of `portshim run` (docs/design.md,
 * "The seccomp supervisor"): statically linked programs, whose socket calls
 * the preload library never sees, under the run's seccomp filter, their
 * calls answered by the run's supervisor with the namespace's rules.
 *
 * The programs are the helpers built with -static (build/static/). Skipped,
 * saying why, where seccomp user notification is unavailable. */
#include <criterion/criterion.h>

#include "e2e.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "seccomp/attach.h"

TestSuite(seccomp, .init = e2e_setup, .fini = e2e_teardown, .timeout = 120);

/* build/static/NAME; a few rotating buffers, enough for one expression. */
static const char *stat_helper(const char *name)
{
    static char buf[4][1200];
    static int next;
    char *b = buf[next++ % 4];
    snprintf(b, sizeof buf[0], "%s/static/%s", e2e_build(), name);
    return b;
}

static void need_supervisor(void)
{
    const char *why = ps_seccomp_unavailable();
    if (why)
        e2e_skip("seccomp user notification unavailable here: %s", why);
    if (access(stat_helper("echo-server"), X_OK) || access(stat_helper("client"), X_OK) ||
        access(stat_helper("sockctl"), X_OK))
        e2e_skip("no static helpers in %s/static (make all builds them)", e2e_build());
}

static const struct ps_event *find_ev(const struct e2e_events *ev, enum ps_ev kind, int ok,
                                      int port)
{
    for (size_t i = 0; i < ev->n; i++)
        if (ev->v[i].ev == kind && (ok < 0 || ev->v[i].ok == ok) &&
            (port < 0 || ev->v[i].port == port))
            return &ev->v[i];
    return NULL;
}

Test(seccomp, static_servers_of_two_namespaces_on_one_hard_coded_port_each_serve_their_own)
{
    need_supervisor();
    struct e2e_env env;
    e2e_env_plain(&env);
    const char *m[2] = {e2e_path("a.jsonl"), e2e_path("b.jsonl")};
    const char *name[2] = {"alpha", "beta"};
    for (int i = 0; i < 2; i++) {
        struct e2e_proc *s = e2e_startl(&env, e2e_portshim(), "run", "--manifest", m[i], "--",
                                        stat_helper("echo-server"), "127.0.0.1", "8000",
                                        "--name", name[i]);
        const char *r = e2e_expect(s, "READY ", E2E_MS);
        cr_assert(r && atoi(r) == 8000, "static server %d: getsockname did not report the "
                  "virtual port 8000:\n%s", i, e2e_describe(s));
    }
    for (int i = 0; i < 2; i++) {
        int real = e2e_real_port(m[i], 8000, E2E_MS);
        cr_assert(real > 0 && real != 8000, "namespace %d: no remap of 8000 (got %d)", i, real);
        /* A static client and a dynamic (preloaded) one of the namespace. */
        const char *clients[2] = {stat_helper("client"), e2e_helper("client")};
        for (int k = 0; k < 2; k++) {
            struct e2e_proc *c = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--manifest",
                                          m[i], "--", clients[k], "127.0.0.1", "8000", "hi");
            char want[64];
            snprintf(want, sizeof want, "REPLY %s 8000 hi\n", name[i]);
            cr_assert(e2e_status(c) == 0 && strstr(e2e_out(c), want),
                      "client %d of namespace %d did not reach its own copy:\n%s", k, i,
                      e2e_describe(c));
            cr_assert(strstr(e2e_out(c), "PEER 8000\n"), "getpeername not virtual:\n%s",
                      e2e_describe(c));
        }
        struct e2e_events ev;
        e2e_events_read(m[i], &ev);
        const struct ps_event *b = e2e_last_bind(&ev, 8000);
        cr_assert(b && !strcmp(b->be, "seccomp"), "the static server's bind is not recorded "
                  "as the supervisor's");
        /* the static client's connect by the supervisor, the dynamic one's by the library */
        size_t sup = 0, lib = 0;
        for (size_t j = 0; j < ev.n; j++)
            if (ev.v[j].ev == PS_EV_CONNECT && ev.v[j].routed && ev.v[j].ok)
                *(ev.v[j].be[0] ? &sup : &lib) += 1;
        cr_assert(sup == 1 && lib == 1, "routed connects: %zu by the supervisor, %zu by the "
                  "library (want 1 and 1)", sup, lib);
        e2e_events_free(&ev);
    }
}

Test(seccomp, a_second_static_bind_of_a_live_virtual_port_fails_naming_its_holder)
{
    need_supervisor();
    struct e2e_env env;
    e2e_env_plain(&env);
    const char *m = e2e_path("m.jsonl");
    struct e2e_proc *s = e2e_startl(&env, e2e_portshim(), "run", "--manifest", m, "--",
                                    stat_helper("echo-server"), "127.0.0.1", "8000", "--name",
                                    "first");
    cr_assert(e2e_expect(s, "READY ", E2E_MS), "first server:\n%s", e2e_describe(s));
    struct e2e_proc *dup = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--manifest", m, "--",
                                    stat_helper("echo-server"), "127.0.0.1", "8000", "--name",
                                    "second");
    cr_assert_eq(e2e_status(dup), 1, "the second bind did not fail with EADDRINUSE:\n%s",
                 e2e_describe(dup));
    cr_assert(strstr(e2e_err(dup), "portshim: bind 127.0.0.1:8000 in pid") &&
                  strstr(e2e_err(dup), "held by pid"),
              "no line naming the holder:\n%s", e2e_describe(dup));
    struct e2e_events ev;
    e2e_events_read(m, &ev);
    const struct ps_event *ok = find_ev(&ev, PS_EV_BIND, 1, 8000);
    const struct ps_event *bad = find_ev(&ev, PS_EV_BIND, 0, 8000);
    cr_assert(ok && bad, "manifest lacks the two binds");
    cr_assert_eq(bad->err, EADDRINUSE);
    cr_assert_eq(bad->hpid, ok->pid, "the holder named is pid %d, not the first server %d",
                 bad->hpid, ok->pid);
    cr_assert(strstr(bad->hcmd, "--name first"), "holder command '%s'", bad->hcmd);
    cr_assert_str_eq(bad->be, "seccomp");
    e2e_events_free(&ev);
}

Test(seccomp, observe_mode_records_a_static_programs_binds_listens_and_connects)
{
    need_supervisor();
    struct e2e_env env;
    e2e_env_plain(&env);
    const char *m = e2e_path("m.jsonl");
    int port = e2e_free_port(1);
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    struct e2e_proc *s = e2e_startl(&env, e2e_portshim(), "run", "--mode", "observe",
                                    "--manifest", m, "--", stat_helper("echo-server"),
                                    "127.0.0.1", ps, "--name", "seen");
    const char *r = e2e_expect(s, "READY ", E2E_MS);
    cr_assert(r && atoi(r) == port, "observed server:\n%s", e2e_describe(s));
    struct e2e_proc *c = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--mode", "observe",
                                  "--manifest", m, "--", stat_helper("client"), "127.0.0.1", ps,
                                  "hi");
    cr_assert_eq(e2e_status(c), 0, "%s", e2e_describe(c));
    struct e2e_events ev;
    e2e_events_read(m, &ev);
    const struct ps_event *b = find_ev(&ev, PS_EV_BIND, 1, port);
    cr_assert(b && b->rport == port && !strcmp(b->mode, "observe") && !strcmp(b->be, "seccomp"),
              "the bind is not recorded as observed by the supervisor");
    bool listened = false;
    for (size_t i = 0; i < ev.n; i++)
        listened |= ev.v[i].ev == PS_EV_LISTEN && !strcmp(ev.v[i].sid, b->sid);
    cr_assert(listened, "no listen of sid %s", b->sid);
    const struct ps_event *cn = find_ev(&ev, PS_EV_CONNECT, 1, port);
    cr_assert(cn && !cn->routed && !strcmp(cn->be, "seccomp"), "the connect is not recorded");
    e2e_events_free(&ev);
}

Test(seccomp, a_static_program_whose_supervisor_was_killed_gets_enosys_not_a_hang)
{
    need_supervisor();
    struct e2e_env env;
    e2e_env_plain(&env);
    const char *m = e2e_path("m.jsonl");
    struct e2e_proc *p = e2e_startl(&env, e2e_portshim(), "run", "--manifest", m, "--",
                                    stat_helper("sockctl"));
    int fd = e2e_cmd_fd(p, "tcp4");
    /* supervised while the run lives */
    const char *a = e2e_cmd(p, "bind %d 127.0.0.1 8000", fd);
    cr_assert(!strncmp(a, "OK", 2), "bind under the supervisor: %s", a);
    const char *n = e2e_cmd(p, "name %d", fd);
    cr_assert(strstr(n, " 8000"), "getsockname under the supervisor: %s", n);
    /* p->pid is portshim run itself (the script execs it): the supervisor */
    kill(p->pid, SIGKILL);
    int fd2 = e2e_cmd_fd(p, "tcp4");
    const char *b = e2e_cmd(p, "bind %d 127.0.0.1 8001", fd2);
    cr_assert_str_eq(b, "ERR ENOSYS", "a trapped call without a supervisor: %s", b);
    const char *c = e2e_cmd(p, "connect %d 127.0.0.1 8000", fd2);
    cr_assert_str_eq(c, "ERR ENOSYS", "a trapped call without a supervisor: %s", c);
}

Test(seccomp, a_dynamic_program_execd_by_a_static_one_is_left_to_the_preload_library)
{
    need_supervisor();
    if (access(stat_helper("spawnmany"), X_OK))
        e2e_skip("no static spawnmany in %s/static", e2e_build());
    struct e2e_env env;
    e2e_env_plain(&env);
    const char *m = e2e_path("m.jsonl");
    /* The static spawnmany is supervised; the dynamic binder it execs
     * inherits the filter and has the library preloaded: its calls are the
     * library's, passed through by the supervisor, never remapped twice. */
    struct e2e_proc *p = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--manifest", m, "--",
                                  stat_helper("spawnmany"), "1", "--", e2e_helper("binder"),
                                  "127.0.0.1", "8000", "--listen");
    cr_assert(e2e_status(p) == 0 && strstr(e2e_out(p), "OK 8000\n"), "%s", e2e_describe(p));
    struct e2e_events ev;
    e2e_events_read(m, &ev);
    size_t binds = 0, sup = 0;
    for (size_t i = 0; i < ev.n; i++) {
        binds += ev.v[i].ev == PS_EV_BIND;
        sup += ev.v[i].be[0] != 0;
    }
    cr_assert(binds == 1 && sup == 0, "%zu binds, %zu events by the supervisor (want 1, 0)",
              binds, sup);
    e2e_events_free(&ev);
}

/* One run of a static sockctl that listens on 8000 and dials it n times
 * under --inject spec --seed seed: "+" per connect made, "x" per refusal. */
static long in_syscall(int pid);

/* signal: the first connect is interrupted, while it waits in the
 * supervisor, by a signal whose handler has SA_RESTART. */
static void injected_dials_sig(const char *m, const char *spec, const char *seed, int n,
                               char *seq, bool signal)
{
    struct e2e_env env;
    e2e_env_plain(&env);
    struct e2e_proc *p = e2e_startl(&env, e2e_portshim(), "run", "--manifest", m, "--inject",
                                    spec, "--seed", seed, "--", stat_helper("sockctl"));
    int pid = e2e_cmd_fd(p, "pid");
    cr_assert_str_eq(e2e_cmd(p, "sigrestart"), "OK");
    int l = e2e_cmd_fd(p, "tcp4");
    cr_assert(!strncmp(e2e_cmd(p, "bind %d 127.0.0.1 8000", l), "OK", 2));
    cr_assert(!strncmp(e2e_cmd(p, "listen %d", l), "OK", 2));
    for (int i = 0; i < n; i++) {
        int fd = e2e_cmd_fd(p, "tcp4");
        const char *r;
        if (signal && i == 0) {
            char line[64];
            int k = snprintf(line, sizeof line, "connect %d 127.0.0.1 8000\n", fd);
            cr_assert_eq(write(p->in, line, (size_t)k), k);
            long nr = -1;
            for (int t = 0; t < 1000 && nr != 42; t++) {
                usleep(5000);
                nr = in_syscall(pid);
            }
            cr_assert_eq(nr, 42, "sockctl never waited in connect");
            kill(pid, SIGUSR1);
            r = e2e_expect(p, "", E2E_MS);
            cr_assert(r, "no answer to the interrupted connect");
        } else {
            r = e2e_cmd(p, "connect %d 127.0.0.1 8000", fd);
        }
        cr_assert(!strcmp(r, "OK") || !strcmp(r, "ERR ECONNREFUSED"), "connect %d: %s", i, r);
        seq[i] = r[0] == 'O' ? '+' : 'x';
        cr_assert(!strncmp(e2e_cmd(p, "close %d", fd), "OK", 2));
    }
    seq[n] = 0;
    e2e_close_stdin(p);
    cr_assert(e2e_wait(p, E2E_MS), "sockctl did not exit");
}

static void injected_dials(const char *m, const char *spec, const char *seed, int n, char *seq)
{
    injected_dials_sig(m, spec, seed, n, seq, false);
}

Test(seccomp, seeded_faults_apply_to_a_static_program_and_replay)
{
    need_supervisor();
    const char *spec = "connect-refused=50%,connect-delay=1ms-3ms@0.5";
    char a[32], b[32];
    const char *m1 = e2e_path("one.jsonl"), *m2 = e2e_path("two.jsonl");
    injected_dials(m1, spec, "11", 24, a);
    injected_dials(m2, spec, "11", 24, b);
    cr_assert_str_eq(a, b, "the same seed gave another sequence");
    cr_assert(strchr(a, '+') && strchr(a, 'x'), "50%% refusals gave '%s'", a);
    struct e2e_events ev;
    e2e_events_read(m1, &ev);
    size_t refused = 0, delayed = 0;
    for (size_t i = 0; i < ev.n; i++) {
        if (ev.v[i].ev != PS_EV_CONNECT || !ev.v[i].inj[0])
            continue;
        cr_assert_str_eq(ev.v[i].be, "seccomp");
        refused += !strcmp(ev.v[i].inj, "connect-refused");
        delayed += !strcmp(ev.v[i].inj, "connect-delay");
    }
    size_t xs = 0;
    for (const char *c = a; *c; c++)
        xs += *c == 'x';
    cr_assert_eq(refused, xs, "%zu refusals recorded, %zu seen", refused, xs);
    cr_assert(delayed > 0, "no connect-delay recorded in '%s'", a);
    e2e_events_free(&ev);
}

Test(seccomp, an_injected_bind_failure_reaches_a_static_program_and_is_recorded)
{
    need_supervisor();
    struct e2e_env env;
    e2e_env_plain(&env);
    const char *m = e2e_path("m.jsonl");
    struct e2e_proc *p = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--manifest", m,
                                  "--inject", "bind-eaddrinuse=100%", "--seed", "1", "--",
                                  stat_helper("binder"), "127.0.0.1", "8000");
    cr_assert(strstr(e2e_out(p), "ERR EADDRINUSE"), "%s", e2e_describe(p));
    struct e2e_events ev;
    e2e_events_read(m, &ev);
    const struct ps_event *b = find_ev(&ev, PS_EV_BIND, 0, 8000);
    cr_assert(b && !strcmp(b->inj, "bind-eaddrinuse") && !strcmp(b->note, "injected") &&
                  !strcmp(b->be, "seccomp"),
              "no injected bind failure recorded by the supervisor");
    e2e_events_free(&ev);
}

Test(seccomp, unix_mode_static_servers_and_clients_meet_through_socket_files_with_inet_names)
{
    need_supervisor();
    struct e2e_env env;
    e2e_env_plain(&env);
    const char *m[2] = {e2e_path("a.jsonl"), e2e_path("b.jsonl")};
    const char *name[2] = {"alpha", "beta"};
    for (int i = 0; i < 2; i++) {
        struct e2e_proc *s = e2e_startl(&env, e2e_portshim(), "run", "--mode", "unix",
                                        "--manifest", m[i], "--", stat_helper("echo-server"),
                                        "127.0.0.1", "8000", "--name", name[i]);
        const char *r = e2e_expect(s, "READY ", E2E_MS);
        cr_assert(r && atoi(r) == 8000, "unix-mode static server %d:\n%s", i, e2e_describe(s));
    }
    for (int i = 0; i < 2; i++) {
        const char *clients[2] = {stat_helper("client"), e2e_helper("client")};
        for (int k = 0; k < 2; k++) {
            struct e2e_proc *c = e2e_runl(&env, E2E_MS, e2e_portshim(), "run", "--mode", "unix",
                                          "--manifest", m[i], "--", clients[k], "127.0.0.1",
                                          "8000", "hi");
            char want[64];
            snprintf(want, sizeof want, "REPLY %s 8000 hi\n", name[i]);
            cr_assert(e2e_status(c) == 0 && strstr(e2e_out(c), want) &&
                          strstr(e2e_out(c), "PEER 8000\n"),
                      "client %d of namespace %d:\n%s", k, i, e2e_describe(c));
        }
        struct e2e_events ev;
        e2e_events_read(m[i], &ev);
        const struct ps_event *b = e2e_last_bind(&ev, 8000);
        cr_assert(b && b->rpath[0] && b->rport < 0 && !strcmp(b->be, "seccomp"),
                  "the static server's bind is not a socket file of the supervisor's");
        e2e_events_free(&ev);
    }
}

Test(seccomp, unix_mode_accept_connect_and_names_of_a_static_program_are_inet)
{
    need_supervisor();
    struct e2e_env env;
    e2e_env_plain(&env);
    const char *m = e2e_path("m.jsonl");
    struct e2e_proc *p = e2e_startl(&env, e2e_portshim(), "run", "--mode", "unix", "--manifest",
                                    m, "--", stat_helper("sockctl"));
    int l = e2e_cmd_fd(p, "tcp4");
    cr_assert_str_eq(e2e_cmd(p, "bind %d 127.0.0.1 8000", l), "OK");
    cr_assert_str_eq(e2e_cmd(p, "listen %d", l), "OK");
    cr_assert_str_eq(e2e_cmd(p, "name %d", l), "OK 127.0.0.1 8000");
    int c = e2e_cmd_fd(p, "tcp4");
    cr_assert_str_eq(e2e_cmd(p, "connect %d 127.0.0.1 8000", c), "OK");
    const char *cn = e2e_cmd(p, "name %d", c);
    int cport = -1;
    cr_assert(sscanf(cn, "OK 127.0.0.1 %d", &cport) == 1 && cport > 0, "client name: %s", cn);
    cr_assert_str_eq(e2e_cmd(p, "peer %d", c), "OK 127.0.0.1 8000");
    /* accept's own address is the client's inet name, as TCP's would be */
    const char *a = e2e_cmd(p, "acceptfrom %d", l);
    int nfd = -1, aport = -1;
    char want[64];
    cr_assert(sscanf(a, "OK %d 127.0.0.1 %d", &nfd, &aport) == 2, "accept: %s", a);
    cr_assert_eq(aport, cport, "accept returned port %d, the client is %d", aport, cport);
    snprintf(want, sizeof want, "OK 127.0.0.1 %d", cport);
    cr_assert_str_eq(e2e_cmd(p, "peer %d", nfd), want);
    cr_assert_str_eq(e2e_cmd(p, "name %d", nfd), "OK 127.0.0.1 8000");
    cr_assert_str_eq(e2e_cmd(p, "send %d ping", c), "OK");
    cr_assert_str_eq(e2e_cmd(p, "recv %d", nfd), "OK ping");
    /* no TCP socket was left behind: the listener is the socket file */
    struct e2e_events ev;
    e2e_events_read(m, &ev);
    const struct ps_event *b = e2e_last_bind(&ev, 8000);
    cr_assert(b && b->rpath[0], "no socket file recorded");
    cr_assert_eq(access(b->rpath, F_OK), 0, "%s is not there", b->rpath);
    e2e_events_free(&ev);
}

/* A connect that a signal interrupts while it waits in the supervisor
 * (an injected delay) is restarted by the kernel (SA_RESTART): the
 * restarted call takes the waiting one's place, so the program makes one
 * connect, not two, and the seeded decisions that follow are the same as
 * without the signal. */
Test(seccomp, a_call_restarted_after_a_signal_is_carried_out_once)
{
    need_supervisor();
    const char *spec = "connect-delay=300ms@100%,connect-refused=50%";
    char a[16], b[16];
    injected_dials_sig(e2e_path("one.jsonl"), spec, "5", 8, a, false);
    injected_dials_sig(e2e_path("two.jsonl"), spec, "5", 8, b, true);
    cr_assert_str_eq(b, a, "a signal changed what followed");
    struct e2e_events ev;
    e2e_events_read(e2e_path("two.jsonl"), &ev);
    size_t connects = 0;
    for (size_t i = 0; i < ev.n; i++)
        connects += ev.v[i].ev == PS_EV_CONNECT;
    cr_assert_eq(connects, 8, "%zu connects recorded for 8", connects);
    e2e_events_free(&ev);
}

/* The system call task pid is in, from /proc/PID/syscall; -1 when not in one. */
static long in_syscall(int pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/syscall", pid);
    const char *t = e2e_slurp(path);
    return *t && *t != 'r' ? strtol(t, NULL, 10) : -1;
}

/* A blocking accept answered later by the supervisor, abandoned by a
 * signal: its notification is no longer valid, and the connection that
 * arrives next is left for the program's next accept, not taken for the
 * abandoned one (SECCOMP_IOCTL_NOTIF_ID_VALID before acting). */
Test(seccomp, an_abandoned_notification_is_dropped_and_never_acted_on)
{
    need_supervisor();
    struct e2e_env env;
    e2e_env_plain(&env);
    const char *m = e2e_path("m.jsonl");
    struct e2e_proc *p = e2e_startl(&env, e2e_portshim(), "run", "--mode", "unix", "--manifest",
                                    m, "--", stat_helper("sockctl"));
    int pid = e2e_cmd_fd(p, "pid");
    int l = e2e_cmd_fd(p, "tcp4");
    cr_assert_str_eq(e2e_cmd(p, "bind %d 127.0.0.1 8000", l), "OK");
    cr_assert_str_eq(e2e_cmd(p, "listen %d", l), "OK");
    char line[64];
    int n = snprintf(line, sizeof line, "blockaccept %d\n", l);
    cr_assert_eq(write(p->in, line, (size_t)n), n);
    /* bounded: until it waits in accept (43) or accept4 (288) */
    long nr = -1;
    for (int i = 0; i < 1000 && nr != 43 && nr != 288; i++) {
        usleep(10000);
        nr = in_syscall(pid);
    }
    cr_assert(nr == 43 || nr == 288, "sockctl never waited in accept (syscall %ld)", nr);
    kill(pid, SIGUSR1);
    const char *r = e2e_expect(p, "ERR ", E2E_MS);
    cr_assert(r && !strcmp(r, "EINTR"), "the interrupted accept said %s:\n%s", r ? r : "nothing",
              e2e_describe(p));
    int c = e2e_cmd_fd(p, "tcp4");
    cr_assert_str_eq(e2e_cmd(p, "connect %d 127.0.0.1 8000", c), "OK");
    const char *a = e2e_cmd(p, "acceptfrom %d", l);
    cr_assert(!strncmp(a, "OK ", 3), "the connection was taken for the abandoned accept: %s", a);
}

/* The supervisor serves TCP only: a static program's UDP bind reaches the
 * real port, and says so on stderr rather than passing silently. */
Test(seccomp, a_static_programs_udp_bind_is_not_silently_unisolated)
{
    need_supervisor();
    struct e2e_env env;
    e2e_env_plain(&env);
    int port = e2e_free_port(SOCK_DGRAM);
    const char *m = e2e_path("m.jsonl");
    struct e2e_proc *p = e2e_startl(&env, e2e_portshim(), "run", "--manifest", m, "--",
                                    stat_helper("sockctl"));
    int fd = e2e_cmd_fd(p, "udp4");
    const char *a = e2e_cmd(p, "bind %d 127.0.0.1 %d", fd, port);
    cr_assert(!strncmp(a, "OK", 2), "UDP bind under the supervisor: %s", a);
    e2e_close_stdin(p);
    cr_assert(e2e_wait(p, E2E_MS), "sockctl did not end:\n%s", e2e_describe(p));
    char want[64];
    snprintf(want, sizeof want, "127.0.0.1:%d/udp in pid", port);
    cr_assert(strstr(e2e_err(p), want) && strstr(e2e_err(p), "not isolated"),
              "no line saying the UDP bind is not isolated:\n%s", e2e_describe(p));
}
