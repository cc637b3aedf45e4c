/* test_procfs.c — reading /proc's files: a process's state and start from
 * its stat line, whatever its name, and bounded reads of small files. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/procfs.h"

/* A stat line as the kernel writes it: fields 3.. after comm. */
static void stat_line(char *buf, size_t len, const char *comm, char state, unsigned long long start)
{
    snprintf(buf, len, "4242 (%s) %c 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 %llu "
             "1000000 200 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0", comm, state,
             start);
}

Test(procfs, stat_gives_state_and_start)
{
    char buf[512], state;
    unsigned long long t;
    stat_line(buf, sizeof buf, "redis-server", 'S', 987654);
    cr_assert_eq(ps_proc_stat_parse(buf, &state, &t), 0);
    cr_assert_eq(state, 'S');
    cr_assert_eq(t, 987654);
}

Test(procfs, stat_counts_fields_after_the_last_parenthesis_of_comm)
{
    char buf[512], state;
    unsigned long long t;
    stat_line(buf, sizeof buf, "a) Z 9 (b", 'Z', 31337);
    cr_assert_eq(ps_proc_stat_parse(buf, &state, &t), 0);
    cr_assert_eq(state, 'Z');
    cr_assert_eq(t, 31337);
}

Test(procfs, stat_that_is_not_one_is_refused)
{
    char state;
    unsigned long long t;
    cr_assert_eq(ps_proc_stat_parse("", &state, &t), -1);
    cr_assert_eq(ps_proc_stat_parse("4242 (x", &state, &t), -1);
    cr_assert_eq(ps_proc_stat_parse("4242 (x) S 1 2", &state, &t), -1, "cut before field 22");
}

Test(procfs, reads_are_bounded_and_terminated)
{
    char path[] = "/tmp/ps-procfs-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "0123456789", 10), 10);
    close(fd);
    char buf[6];
    cr_assert_eq(ps_proc_read_str(path, buf, sizeof buf), 5);
    cr_assert_str_eq(buf, "01234");
    cr_assert_eq(ps_proc_read(path, buf, sizeof buf), 6);
    cr_assert_eq(memcmp(buf, "012345", 6), 0);
    char *all = ps_proc_read_all(path);
    cr_assert_str_eq(all, "0123456789");
    free(all);
    unlink(path);
    cr_assert_eq(ps_proc_read_str(path, buf, sizeof buf), -1);
    cr_assert_null(ps_proc_read_all(path));
}
