/* test_pidset.c — the holder sets the namespace and the report share. */
#include <criterion/criterion.h>

#include "core/pidset.h"
#include "core/probe.h"

#include <sys/wait.h>
#include <unistd.h>

Test(pidset, a_pid_is_held_once_however_often_added)
{
    struct ps_pidset s = {0};
    cr_assert(ps_pidset_add(&s, 10));
    cr_assert(ps_pidset_add(&s, 10));
    cr_assert_eq(s.n, 1);
    cr_assert(ps_pidset_has(&s, 10));
    cr_assert_not(ps_pidset_has(&s, 11));
    ps_pidset_free(&s);
    cr_assert_eq(s.n, 0);
    cr_assert_null(s.v);
}

Test(pidset, drop_says_whether_the_pid_was_there_and_keeps_the_others)
{
    struct ps_pidset s = {0};
    for (int pid = 1; pid <= 9; pid++)
        cr_assert(ps_pidset_add(&s, pid));
    cr_assert_eq(s.n, 9, "grows past its first allocation");
    cr_assert(ps_pidset_drop(&s, 4));
    cr_assert_not(ps_pidset_drop(&s, 4), "a second drop finds nothing");
    cr_assert_eq(s.n, 8);
    for (int pid = 1; pid <= 9; pid++)
        cr_assert_eq(ps_pidset_has(&s, pid), pid != 4, "pid %d", pid);
    ps_pidset_free(&s);
}

Test(pidset, any_alive_counts_self_and_live_pids_only)
{
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    waitpid(child, NULL, 0);   /* reaped: the pid no longer exists */
    struct ps_pidset s = {0};
    ps_pidset_add(&s, child);
    cr_assert_not(ps_probe_any_alive(&s, 0), "a reaped pid is not alive");
    cr_assert(ps_probe_any_alive(&s, child), "self counts without asking the kernel");
    ps_pidset_add(&s, getpid());
    cr_assert(ps_probe_any_alive(&s, 0));
    struct ps_pidset empty = {0};
    cr_assert_not(ps_probe_any_alive(&empty, getpid()));
    ps_pidset_free(&s);
}
