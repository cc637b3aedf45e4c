/* test_trust.c — the rule for trusting a namespace's files (core/trust.c):
 * type, owner and mode judged from a struct stat, the open that never
 * blocks or follows a link, and which manifest paths may be unlinked. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/trust.h"

static const struct ps_trust me = {1000, -1, -1};
static char why[200];

static struct stat file(uid_t uid, gid_t gid, mode_t mode)
{
    struct stat st;
    memset(&st, 0, sizeof st);
    st.st_uid = uid;
    st.st_gid = gid;
    st.st_mode = mode;
    return st;
}

static enum ps_trust_verdict judge(struct stat st, bool dir, const struct ps_trust *t)
{
    memset(why, 0, sizeof why);
    return ps_trust_check(&st, dir, t, why, sizeof why);
}

Test(trust, own_private_file_and_directory_are_trusted)
{
    cr_assert_eq(judge(file(1000, 1000, S_IFREG | 0600), false, &me), PS_TRUST_OK);
    cr_assert_eq(judge(file(1000, 1000, S_IFREG | 0644), false, &me), PS_TRUST_OK);
    cr_assert_eq(judge(file(1000, 1000, S_IFDIR | 0700), true, &me), PS_TRUST_OK);
}

Test(trust, root_owned_is_trusted_by_anyone)
{
    cr_assert_eq(judge(file(0, 0, S_IFREG | 0600), false, &me), PS_TRUST_OK);
    cr_assert_eq(judge(file(0, 0, S_IFREG | 0666), false, &me), PS_TRUST_MODE,
                 "root's file that anyone may write is not");
}

Test(trust, another_users_file_is_not_trusted_unless_shared)
{
    cr_assert_eq(judge(file(1001, 1001, S_IFREG | 0600), false, &me), PS_TRUST_OWNER);
    cr_assert(strstr(why, "owned by uid 1001"), "%s", why);
    struct ps_trust shared = {1000, 1001, -1};
    cr_assert_eq(judge(file(1001, 1001, S_IFREG | 0600), false, &shared), PS_TRUST_OK);
    cr_assert_eq(judge(file(1002, 1001, S_IFREG | 0600), false, &shared), PS_TRUST_OWNER);
    /* a group share: a member's file of that group, not another group's */
    struct ps_trust group = {1000, 1000, 77};
    cr_assert_eq(judge(file(1002, 77, S_IFREG | 0660), false, &group), PS_TRUST_OK);
    cr_assert_eq(judge(file(1002, 78, S_IFREG | 0600), false, &group), PS_TRUST_OWNER);
}

Test(trust, writable_by_others_or_a_foreign_group_is_not_trusted)
{
    cr_assert_eq(judge(file(1000, 1000, S_IFREG | 0602), false, &me), PS_TRUST_MODE);
    cr_assert(strstr(why, "writable by others (mode 0602)"), "%s", why);
    cr_assert_eq(judge(file(1000, 50, S_IFREG | 0620), false, &me), PS_TRUST_MODE);
    cr_assert(strstr(why, "writable by group 50"), "%s", why);
    cr_assert_eq(judge(file(1000, 1000, S_IFDIR | 0777), true, &me), PS_TRUST_MODE);
    cr_assert_eq(judge(file(1000, 1000, S_IFDIR | 01777), true, &me), PS_TRUST_MODE,
                 "sticky /tmp-like directory");
}

Test(trust, the_shared_group_may_write_and_no_other)
{
    struct ps_trust g = {1000, -1, 50};
    cr_assert_eq(judge(file(1000, 50, S_IFREG | 0660), false, &g), PS_TRUST_OK);
    cr_assert_eq(judge(file(0, 50, S_IFDIR | 0770), true, &g), PS_TRUST_OK);
    cr_assert_eq(judge(file(1000, 51, S_IFREG | 0660), false, &g), PS_TRUST_MODE);
    cr_assert_eq(judge(file(1000, 50, S_IFREG | 0666), false, &g), PS_TRUST_MODE,
                 "others still may not");
}

Test(trust, only_a_regular_file_is_a_manifest_and_only_a_directory_a_directory)
{
    const mode_t kinds[] = {S_IFIFO, S_IFCHR, S_IFBLK, S_IFSOCK, S_IFLNK, S_IFDIR};
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        cr_assert_eq(judge(file(1000, 1000, kinds[i] | 0600), false, &me), PS_TRUST_TYPE,
                     "kind %o", (unsigned)kinds[i]);
        cr_assert(strstr(why, "not a regular file"), "%s", why);
    }
    cr_assert_eq(judge(file(1000, 1000, S_IFREG | 0700), true, &me), PS_TRUST_TYPE);
    cr_assert_eq(judge(file(1000, 1000, S_IFLNK | 0777), true, &me), PS_TRUST_TYPE);
}

Test(trust, type_is_judged_before_owner)
{
    /* /dev/null is root's and writable by all: the reason given is its type. */
    cr_assert_eq(judge(file(0, 0, S_IFCHR | 0666), false, &me), PS_TRUST_TYPE);
    cr_assert(strstr(why, "a character device"), "%s", why);
}

Test(trust, open_refuses_links_fifos_and_devices_without_blocking)
{
    char dir[] = "/tmp/ps-trust-XXXXXX";
    cr_assert(mkdtemp(dir));
    char f[128], fifo[128], link[128];
    snprintf(f, sizeof f, "%s/m", dir);
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    snprintf(link, sizeof link, "%s/link", dir);
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    struct ps_trust t = {geteuid(), -1, -1};
    enum ps_trust_verdict v;

    int fd = ps_trust_open(f, O_RDWR | O_CREAT | O_APPEND, false, &t, &v, why, sizeof why);
    cr_assert(fd >= 0, "%s", why);
    cr_assert_eq(fcntl(fd, F_GETFL) & O_NONBLOCK, 0, "O_NONBLOCK must be cleared");
    close(fd);
    cr_assert_eq(symlink(f, link), 0);
    cr_assert_eq(ps_trust_open(link, O_RDWR | O_APPEND, false, &t, &v, why, sizeof why), -1);
    cr_assert_eq(v, PS_TRUST_TYPE);
    cr_assert(strstr(why, "symbolic link"), "%s", why);
    fd = ps_trust_open(link, O_RDONLY, true, &t, &v, why, sizeof why);
    cr_assert(fd >= 0, "a reader may follow it: %s", why);
    close(fd);
    const char *nonreg[] = {fifo, "/dev/null", "/dev/zero"};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(ps_trust_open(nonreg[i], O_RDWR, false, &t, &v, why, sizeof why), -1);
        cr_assert_eq(v, PS_TRUST_TYPE, "%s: %s", nonreg[i], why);
    }
    chmod(f, 0666);
    cr_assert_eq(ps_trust_open(f, O_RDWR, false, &t, &v, why, sizeof why), -1);
    cr_assert_eq(v, PS_TRUST_MODE);
    cr_assert_eq(ps_trust_open("/nonexistent/x", O_RDONLY, false, &t, &v, why, sizeof why), -1);
    cr_assert_eq(v, PS_TRUST_OK);
    cr_assert_eq(errno, ENOENT);
    unlink(link);
    unlink(f);
    unlink(fifo);
    rmdir(dir);
}

Test(trust, only_entries_directly_inside_the_directory_are_in_it)
{
    cr_assert(ps_path_in_dir("/tmp/ns/8000@127.0.0.1", "/tmp/ns"));
    cr_assert(ps_path_in_dir("/tmp/ns/8000@127.0.0.1", "/tmp/ns/"));
    cr_assert_not(ps_path_in_dir("/tmp/ns", "/tmp/ns"));
    cr_assert_not(ps_path_in_dir("/tmp/ns/", "/tmp/ns"));
    cr_assert_not(ps_path_in_dir("/tmp/nsx/8000", "/tmp/ns"));
    cr_assert_not(ps_path_in_dir("/tmp/ns/../etc/passwd", "/tmp/ns"));
    cr_assert_not(ps_path_in_dir("/tmp/ns/sub/8000", "/tmp/ns"));
    cr_assert_not(ps_path_in_dir("/tmp/ns/..", "/tmp/ns"));
    cr_assert_not(ps_path_in_dir("/tmp/ns/.", "/tmp/ns"));
    cr_assert_not(ps_path_in_dir("/root/victim.txt", "/tmp/ns"));
    cr_assert_not(ps_path_in_dir("/tmp/ns/8000", ""), "no directory contains nothing");
    cr_assert_not(ps_path_in_dir("ns/8000", "ns"), "relative directories are never trusted");
}

Test(trust, ids_are_decimal_and_in_range)
{
    long id;
    cr_assert_eq(ps_trust_id_parse("0", &id), 0);
    cr_assert_eq(id, 0);
    cr_assert_eq(ps_trust_id_parse("4294967294", &id), 0);
    cr_assert_eq(id, 4294967294L);
    const char *bad[] = {"", "-1", "4294967295", "1a", " 1", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_eq(ps_trust_id_parse(bad[i], &id), -1, "'%s'", bad[i]);
}
