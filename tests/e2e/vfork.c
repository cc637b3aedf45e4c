/* vfork.c — a child that shares its parent's memory (vfork, clone(CLONE_VM))
 * and closes or replaces the parent's listener before it execs leaves the
 * parent's namespace alone (design.md, "fork, exec, spawn, exit"): CPython's
 * subprocess, posix_spawn, and a C program doing it by hand. */
#include <criterion/criterion.h>
#include <sys/stat.h>

#include "e2e.h"

TestSuite(vfork, .init = e2e_setup, .fini = e2e_teardown, .timeout = 120);

static const char *const py_server =
    "import os, socket, subprocess, sys\n"
    "how = sys.argv[1]\n"
    "s = socket.socket(); s.bind(('127.0.0.1', 8000)); s.listen()\n"
    "if how == 'spawn':\n"
    "    fa = [(os.POSIX_SPAWN_CLOSE, s.fileno()), (os.POSIX_SPAWN_DUP2, 0, s.fileno())]\n"
    "    pid = os.posix_spawn('/bin/true', ['true'], dict(os.environ), file_actions=fa)\n"
    "    st = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])\n"
    "else:\n"
    "    st = subprocess.run(['true'], close_fds=(how == 'close_fds')).returncode\n"
    "print('CHILD', st); print('NAME', s.getsockname()[1]); print('READY', flush=True)\n"
    "c, _ = s.accept()\n"
    "line = c.makefile().readline().strip()\n"
    "c.sendall(('py %d %s\\n' % (c.getsockname()[1], line)).encode()); c.close()\n"
    "print('SERVED', flush=True)\n"
    "sys.stdin.read()\n";

static bool is_socket(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

static void expect_line(struct e2e_proc *p, const char *line)
{
    char buf[256];
    int rc = e2e_line(p, buf, sizeof buf, E2E_MS);
    cr_assert(rc == 0 && !strcmp(buf, line), "want '%s', got '%s':\n%s", line,
              rc == 0 ? buf : "(nothing)", e2e_describe(p));
}

/* p (a server named `name`, listening on 127.0.0.1:8000 in ns, started with
 * env) made a child that shared its memory; its listener must be whole:
 * named, found, held, connectable, and nothing recorded its end. */
static void listener_is_intact(struct e2e_proc *p, const char *name, struct e2e_ns *ns,
                               const struct e2e_env *env, bool unix_mode)
{
    expect_line(p, "CHILD 0");
    expect_line(p, "NAME 8000");
    expect_line(p, "READY");

    struct e2e_env plain;
    e2e_env_plain(&plain);
    struct e2e_proc *port = e2e_runl(&plain, E2E_MS, e2e_portshim(), "port", "--manifest",
                                     ns->manifest, "8000");
    cr_assert_eq(e2e_status(port), 0, "portshim port 8000 lost the listener:\n%s\nmanifest:\n%s",
                 e2e_describe(port), e2e_slurp(ns->manifest));
    struct e2e_proc *b = e2e_runl(env, E2E_MS, "binder", "127.0.0.1", "8000", "--listen");
    cr_assert_eq(e2e_status(b), 1, "a second bind of 8000 must fail with EADDRINUSE:\n%s",
                 e2e_describe(b));
    if (unix_mode) {
        const char *path = e2e_path("ns/8000@127.0.0.1");
        cr_assert(is_socket(path), "the socket file %s is gone", path);
    }
    struct e2e_proc *c = e2e_runl(env, E2E_MS, "client", "127.0.0.1", "8000");
    char want[64];
    snprintf(want, sizeof want, "REPLY %s 8000 hello\n", name);
    cr_assert(e2e_status(c) == 0 && strstr(e2e_out(c), want), "client:\n%s\nserver:\n%s",
              e2e_describe(c), e2e_describe(p));
    expect_line(p, "SERVED");

    /* Before the server exits: nothing but its bind and listen is recorded
     * in its name, and nobody ended its socket. */
    struct e2e_events ev;
    e2e_events_read(ns->manifest, &ev);
    const struct ps_event *bind = e2e_last_bind(&ev, 8000);
    cr_assert(bind && bind->pid == p->pid, "the bind of 8000 is not the server's (pid %d):\n%s",
              (int)p->pid, e2e_slurp(ns->manifest));
    for (size_t i = 0; i < ev.n; i++) {
        const struct ps_event *e = &ev.v[i];
        bool ends = e->ev == PS_EV_CLOSE || e->ev == PS_EV_RELEASE || e->ev == PS_EV_STALE ||
                    e->ev == PS_EV_INHERIT || e->ev == PS_EV_EXIT;
        cr_assert(!(ends && (e->pid == p->pid || !strcmp(e->sid, bind->sid))),
                  "a child recorded '%s' for the server (pid %d):\n%s", ps_ev_name(e->ev),
                  (int)p->pid, e2e_slurp(ns->manifest));
    }
    e2e_events_free(&ev);
    e2e_close_stdin(p);
    cr_assert(e2e_wait(p, E2E_MS) && e2e_status(p) == 0, "%s", e2e_describe(p));
}

static void python_child(const char *how, const char *mode)
{
    if (access("/usr/bin/python3", X_OK) != 0)
        e2e_skip("/usr/bin/python3 is not installed");
    e2e_need_lib();
    struct e2e_ns ns;
    struct e2e_env env;
    e2e_ns_new(&ns, "ns");
    e2e_env_shim(&env, &ns, mode, NULL);
    struct e2e_proc *p = e2e_startl(&env, "/usr/bin/python3", "-c", py_server, how);
    listener_is_intact(p, "py", &ns, &env, !strcmp(mode, "unix"));
}

Test(vfork, python_subprocess_with_close_fds_keeps_the_listener_remap)
{
    python_child("close_fds", "remap");
}

Test(vfork, python_subprocess_with_close_fds_keeps_the_listener_unix)
{
    python_child("close_fds", "unix");
}

Test(vfork, python_subprocess_without_close_fds_keeps_the_listener_remap)
{
    python_child("keep_fds", "remap");
}

Test(vfork, python_subprocess_without_close_fds_keeps_the_listener_unix)
{
    python_child("keep_fds", "unix");
}

Test(vfork, python_posix_spawn_closing_the_listener_number_keeps_it_remap)
{
    python_child("spawn", "remap");
}

Test(vfork, python_posix_spawn_closing_the_listener_number_keeps_it_unix)
{
    python_child("spawn", "unix");
}

static void c_child(const char *how, const char *mode)
{
    e2e_need_lib();
    struct e2e_ns ns;
    struct e2e_env env;
    e2e_ns_new(&ns, "ns");
    e2e_env_shim(&env, &ns, mode, NULL);
    struct e2e_proc *p = e2e_startl(&env, "vforker", how, "127.0.0.1", "8000");
    listener_is_intact(p, "vforker", &ns, &env, !strcmp(mode, "unix"));
}

Test(vfork, vfork_child_closing_the_listener_leaves_it_remap) { c_child("close", "remap"); }
Test(vfork, vfork_child_closing_the_listener_leaves_it_unix) { c_child("close", "unix"); }
Test(vfork, vfork_child_close_range_leaves_the_listener_remap) { c_child("close-range", "remap"); }
Test(vfork, vfork_child_close_range_leaves_the_listener_unix) { c_child("close-range", "unix"); }
Test(vfork, vfork_child_dup2_onto_the_listener_leaves_it_remap) { c_child("dup2", "remap"); }
Test(vfork, vfork_child_dup2_onto_the_listener_leaves_it_unix) { c_child("dup2", "unix"); }
Test(vfork, vfork_child_calling_exit_leaves_the_listener_remap) { c_child("exit", "remap"); }
Test(vfork, vfork_child_calling_exit_leaves_the_listener_unix) { c_child("exit", "unix"); }
Test(vfork, fork_in_a_vfork_child_records_nothing_remap) { c_child("fork", "remap"); }
Test(vfork, fork_in_a_vfork_child_records_nothing_unix) { c_child("fork", "unix"); }
Test(vfork, clone_vm_child_closing_the_listener_leaves_it_remap) { c_child("clone", "remap"); }
Test(vfork, clone_vm_child_closing_the_listener_leaves_it_unix) { c_child("clone", "unix"); }
Test(vfork, posix_spawn_file_actions_on_the_listener_leave_it_remap) { c_child("spawn", "remap"); }
Test(vfork, posix_spawn_file_actions_on_the_listener_leave_it_unix) { c_child("spawn", "unix"); }

/* The child's close_range is the process's first socket call: the child must
 * not set the shim up (its pid and manifest descriptor) for the parent. */
Test(vfork, vfork_child_before_the_first_socket_call_leaves_the_setup_to_the_parent_remap)
{
    c_child("late", "remap");
}

Test(vfork, vfork_child_before_the_first_socket_call_leaves_the_setup_to_the_parent_unix)
{
    c_child("late", "unix");
}
