/* holder.c — name the process that holds a TCP port. */
#include "core/holder.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/probe.h"
#include "core/procfs.h"

struct cand { unsigned long inode; long uid; unsigned state; int score; };

struct holder_q {
    const struct ps_addr *want;
    uint16_t port;
    struct cand *best;
};

static int holder_row(void *ctx, const struct ps_tcp_row *r)
{
    struct holder_q *q = ctx;
    if (r->port != q->port)
        return 0;
    bool overlap = ps_addr_equal(&r->addr, q->want) || ps_addr_is_wildcard(&r->addr) ||
                   ps_addr_is_wildcard(q->want);
    /* A process's socket before a kernel-only one (time-wait, inode 0). */
    int score = (overlap ? 4 : 0) + (r->state == PS_TCP_LISTEN ? 2 : 0) + (r->inode ? 1 : 0);
    if (score > q->best->score) {
        q->best->score = score;
        q->best->inode = r->inode;
        q->best->uid = r->uid;
        q->best->state = r->state;
    }
    return 0;
}

static void scan(const char *procroot, bool v6, const struct ps_addr *want, uint16_t port,
                 struct cand *best)
{
    char path[512];
    snprintf(path, sizeof path, "%s/net/%s", procroot, v6 ? "tcp6" : "tcp");
    struct holder_q q = {want, port, best};
    ps_proc_tcp_scan(path, v6, holder_row, &q);
}

/* The pid with a descriptor "socket:[inode]"; 0 if none; *denied counts fd
 * directories that could not be read. */
static int find_pid(const char *procroot, unsigned long inode, int *denied)
{
    char want[48], path[512], link[64];
    snprintf(want, sizeof want, "socket:[%lu]", inode);
    size_t wn = strlen(want);
    DIR *pd = opendir(procroot);
    if (!pd)
        return 0;
    int found = 0;
    struct dirent *de;
    while (!found && (de = readdir(pd))) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        if (*end || pid <= 0 || de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "%s/%ld/fd", procroot, pid);
        DIR *fd = opendir(path);
        if (!fd) {
            if (errno == EACCES || errno == EPERM)
                (*denied)++;
            continue;
        }
        struct dirent *fe;
        while ((fe = readdir(fd))) {
            if (fe->d_name[0] == '.')
                continue;
            ssize_t n = readlinkat(dirfd(fd), fe->d_name, link, sizeof link - 1);
            if (n == (ssize_t)wn && !memcmp(link, want, wn)) {
                found = (int)pid;
                break;
            }
        }
        closedir(fd);
    }
    closedir(pd);
    return found;
}

/* Printable ASCII only: names go into one-line messages and the manifest's JSON. */
static void clean(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
            *s = '?';
}

int ps_holder_username(const char *passwd, long uid, char *buf, size_t len)
{
    FILE *f = fopen(passwd, "re");
    if (!f)
        return -1;
    char line[512];
    int rc = -1;
    while (rc && fgets(line, sizeof line, f)) {
        /* name:passwd:uid:... */
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        char *end;
        long u = strtol(c2 + 1, &end, 10);
        if (end == c2 + 1 || *end != ':' || u != uid)
            continue;
        size_t n = (size_t)(c1 - line);
        if (n == 0 || n >= len)
            continue;
        memcpy(buf, line, n);
        buf[n] = 0;
        clean(buf);
        rc = 0;
    }
    fclose(f);
    return rc;
}

/* "btime N" of /proc/stat, which comes after lines (intr) that can be far
 * longer than any buffer: read in pieces, looking only at line starts. */
static unsigned long long boot_time(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    char buf[256];
    bool at_start = true;
    unsigned long long v = 0;
    while (!v && fgets(buf, sizeof buf, f)) {
        if (at_start && !strncmp(buf, "btime ", 6))
            v = strtoull(buf + 6, NULL, 10);
        at_start = strchr(buf, '\n') != NULL;
    }
    fclose(f);
    return v;
}

/* Process start in epoch seconds: stat field 22 (ticks since boot) + btime. */
static double start_time(const char *procroot, int pid)
{
    char path[512], buf[1024];
    snprintf(path, sizeof path, "%s/%d/stat", procroot, pid);
    char state;
    unsigned long long ticks;
    if (ps_proc_read_str(path, buf, sizeof buf) <= 0 || ps_proc_stat_parse(buf, &state, &ticks))
        return 0;
    snprintf(path, sizeof path, "%s/stat", procroot);
    unsigned long long btime = boot_time(path);
    if (!btime)
        return 0;
    long hz = sysconf(_SC_CLK_TCK);
    if (hz <= 0)
        hz = 100;
    return (double)btime + (double)ticks / (double)hz;
}

int ps_holder_describe(const char *procroot, int pid, struct ps_holder *out)
{
    char path[512], buf[PS_HOLDER_CMD_MAX];
    snprintf(path, sizeof path, "%s/%d/cmdline", procroot, pid);
    ssize_t n = ps_proc_read_str(path, buf, sizeof buf);
    if (n < 0)
        return -1;
    while (n > 0 && buf[n - 1] == 0)
        n--;
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] == 0) buf[i] = ' ';
        else if ((unsigned char)buf[i] < 0x20 || (unsigned char)buf[i] >= 0x7f) buf[i] = '?';
    buf[n] = 0;
    memcpy(out->cmd, buf, (size_t)n + 1);
    if (!n) {
        /* No command line (a zombie, a kernel thread): its name from stat. */
        char st[256];
        snprintf(path, sizeof path, "%s/%d/stat", procroot, pid);
        char *l = ps_proc_read_str(path, st, sizeof st) > 0 ? strchr(st, '(') : NULL;
        char *r = l ? strrchr(l, ')') : NULL;
        if (r) {
            /* comm is whatever the process named itself (prctl, exec of any file name) */
            snprintf(out->cmd, sizeof out->cmd, "[%.*s]", (int)(r - l - 1), l + 1);
            clean(out->cmd);
        }
    }
    if (out->uid < 0) {
        char st[4096];
        snprintf(path, sizeof path, "%s/%d/status", procroot, pid);
        char *u = ps_proc_read_str(path, st, sizeof st) > 0 ? strstr(st, "\nUid:") : NULL;
        if (u)
            out->uid = strtol(u + 5, NULL, 10);
    }
    out->user[0] = 0;
    if (out->uid >= 0)
        ps_holder_username("/etc/passwd", out->uid, out->user, sizeof out->user);
    out->since = start_time(procroot, pid);
    out->pid = pid;
    return 0;
}

int ps_holder_find(const char *procroot, const struct ps_addr *addr, uint16_t port,
                   struct ps_holder *out)
{
    memset(out, 0, sizeof *out);
    out->uid = -1;
    struct cand best = {0, -1, 0, 0};
    scan(procroot, false, addr, port, &best);
    scan(procroot, true, addr, port, &best);
    if (!best.score)
        return -1;
    out->uid = best.uid;
    out->state = best.state;
    int denied = 0;
    int pid = best.inode ? find_pid(procroot, best.inode, &denied) : 0;
    if (pid && ps_holder_describe(procroot, pid, out) == 0)
        return 0;
    out->pid = 0;
    out->other_user = best.inode && denied > 0;
    if (out->uid >= 0)
        ps_holder_username("/etc/passwd", out->uid, out->user, sizeof out->user);
    return 0;
}

void ps_holder_format(const struct ps_holder *h, char *buf, size_t len)
{
    if (!h->pid) {
        if (h->other_user)
            snprintf(buf, len, "another user (uid %ld%s%s)", h->uid, h->user[0] ? ", " : "",
                     h->user);
        else if (h->state == PS_TCP_TIME_WAIT)
            snprintf(buf, len, "a socket in TIME_WAIT (no process)");
        else
            snprintf(buf, len, "a socket with no process found (uid %ld)", h->uid);
        return;
    }
    char who[48] = "", when[48] = "";
    if (h->user[0])
        snprintf(who, sizeof who, ", user %s", h->user);
    else if (h->uid >= 0)
        snprintf(who, sizeof who, ", uid %ld", h->uid);
    if (h->since > 0) {
        time_t t = (time_t)h->since;
        struct tm tm;
        if (gmtime_r(&t, &tm)) {
            /* The time of day is enough for anything started today. */
            if (time(NULL) - t < 20 * 3600)
                strftime(when, sizeof when, ", since %H:%M:%S UTC", &tm);
            else
                strftime(when, sizeof when, ", since %Y-%m-%d %H:%M:%S UTC", &tm);
        }
    }
    snprintf(buf, len, "pid %d (%.100s)%s%s", h->pid, h->cmd, who, when);
}
