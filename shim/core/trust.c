/* trust.c — the one rule for trusting a namespace's files (trust.h). */
#include "core/trust.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *kind_of(mode_t m)
{
    if (S_ISLNK(m)) return "a symbolic link";
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    if (S_ISDIR(m)) return "a directory";
    if (S_ISREG(m)) return "a regular file";
    return "of an unknown type";
}

enum ps_trust_verdict ps_trust_check(const struct stat *st, bool dir, const struct ps_trust *t,
                                     char *why, size_t len)
{
    if (dir ? !S_ISDIR(st->st_mode) : !S_ISREG(st->st_mode)) {
        snprintf(why, len, "is %s, not %s", kind_of(st->st_mode),
                 dir ? "a directory" : "a regular file");
        return PS_TRUST_TYPE;
    }
    /* A group share trusts the group's members: any of them may write the
     * namespace anyway, and the first of a worker's processes to make its
     * sub-namespace may be any of them (the file is then theirs, given to
     * the group). */
    if (st->st_uid != t->euid && st->st_uid != 0 &&
        !(t->share_uid >= 0 && (long)st->st_uid == t->share_uid) &&
        !(t->share_gid >= 0 && (long)st->st_gid == t->share_gid)) {
        snprintf(why, len, "is owned by uid %ld, not by this user (uid %ld)%s", (long)st->st_uid,
                 (long)t->euid, t->share_uid >= 0 ? ", root or PORTSHIM_SHARE_UID" : " or root");
        return PS_TRUST_OWNER;
    }
    if (st->st_mode & S_IWOTH) {
        snprintf(why, len, "is writable by others (mode %04o)", (unsigned)(st->st_mode & 07777));
        return PS_TRUST_MODE;
    }
    if ((st->st_mode & S_IWGRP) && !(t->share_gid >= 0 && (long)st->st_gid == t->share_gid)) {
        snprintf(why, len, "is writable by group %ld (mode %04o)%s", (long)st->st_gid,
                 (unsigned)(st->st_mode & 07777),
                 t->share_gid >= 0 ? ", not PORTSHIM_SHARE_GID" : "");
        return PS_TRUST_MODE;
    }
    return PS_TRUST_OK;
}

int ps_trust_open(const char *path, int flags, bool follow, const struct ps_trust *t,
                  enum ps_trust_verdict *verdict, char *why, size_t len)
{
    struct stat st;
    *verdict = PS_TRUST_OK;
    int fd = open(path, flags | O_NONBLOCK | (follow ? 0 : O_NOFOLLOW), 0600);
    if (fd < 0) {
        int err = errno;
        /* O_NOFOLLOW's ELOOP: say what it means. */
        if (err == ELOOP && !follow && lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
            snprintf(why, len, "is a symbolic link (not followed)");
            *verdict = PS_TRUST_TYPE;
        } else {
            snprintf(why, len, "cannot be opened (%s)", strerror(err));
        }
        errno = err;
        return -1;
    }
    if (fstat(fd, &st) < 0) {
        int err = errno;
        snprintf(why, len, "cannot stat: %s", strerror(err));
        close(fd);
        errno = err;
        return -1;
    }
    if ((*verdict = ps_trust_check(&st, false, t, why, len)) != PS_TRUST_OK) {
        close(fd);
        errno = EPERM;
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && !(flags & O_NONBLOCK))
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
}

bool ps_path_in_dir(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    if (!n || dir[0] != '/' || strncmp(path, dir, n) || path[n] != '/')
        return false;
    const char *name = path + n + 1;
    return *name && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..");
}

int ps_trust_give(int fd, bool dir, const struct ps_trust *t)
{
    bool group = t->share_gid >= 0;
    if (!group && t->share_uid < 0)
        return 0;
    uid_t uid = group ? (uid_t)-1 : (uid_t)t->share_uid;
    gid_t gid = group ? (gid_t)t->share_gid : (gid_t)-1;
    mode_t mode = (dir ? 0700 : 0600) | (group ? (dir ? 0070 : 0060) : 0);
    return fchown(fd, uid, gid) || fchmod(fd, mode) ? -1 : 0;
}

int ps_trust_id_parse(const char *s, long *id)
{
    long long v = 0;
    if (!*s)
        return -1;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
        if (v > 4294967294LL)
            return -1;
    }
    *id = (long)v;
    return 0;
}
