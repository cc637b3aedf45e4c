/* probe.c — /proc/net/tcp{,6} (the one parser of its rows), /proc/net/unix, /proc/PID/fd and kill(pid, 0). */
#include "core/probe.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/procfs.h"

bool ps_probe_pid_alive(int pid)
{
    if (pid <= 0)
        return false;
    return kill(pid, 0) == 0 || errno != ESRCH;
}

bool ps_probe_any_alive(const struct ps_pidset *s, int self)
{
    for (int i = 0; i < s->n; i++)
        if (s->v[i] == self || ps_probe_pid_alive(s->v[i]))
            return true;
    return false;
}

int ps_probe_sock_held(const struct ps_pidset *s, unsigned long long ino, const char *proc)
{
    char want[40], dir[PATH_MAX], link[64];
    int n = snprintf(want, sizeof want, "socket:[%llu]", ino);
    bool unknown = false;
    for (int i = 0; i < s->n; i++) {
        snprintf(dir, sizeof dir, "%s/%d/fd", proc, s->v[i]);
        DIR *d = opendir(dir);
        if (!d) {
            if (errno != ENOENT && errno != ESRCH)
                unknown = true;
            continue;
        }
        struct dirent *de;
        bool found = false;
        while (!found && (de = readdir(d))) {
            if (de->d_name[0] == '.')
                continue;
            ssize_t l = readlinkat(dirfd(d), de->d_name, link, sizeof link);
            found = l == n && !memcmp(link, want, (size_t)n);
        }
        closedir(d);
        if (found)
            return 1;
    }
    return unknown ? -1 : 0;
}

static int hexdigit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* /proc/net/tcp prints each 32-bit word of the address as %08X of its value
 * in host order, so on little-endian machines the bytes come reversed. */
int ps_proc_hexaddr(const char *p, size_t nwords, uint8_t *out)
{
    for (size_t w = 0; w < nwords; w++) {
        uint32_t v = 0;
        for (int i = 0; i < 8; i++) {
            int h = hexdigit(p[w * 8 + (size_t)i]);
            if (h < 0)
                return -1;
            v = v << 4 | (uint32_t)h;
        }
        memcpy(out + w * 4, &v, 4);
    }
    return 0;
}

int ps_proc_tcp_row(const char *line, bool v6, struct ps_tcp_row *r)
{
    char local[40], st[8];
    if (sscanf(line, " %*[0-9]: %39s %*s %7s %*s %*s %*s %ld %*d %lu", local, st, &r->uid,
               &r->inode) != 4)
        return -1;
    size_t alen = v6 ? 32 : 8;
    uint8_t raw[16];
    if (strlen(local) != alen + 5 || local[alen] != ':' || ps_proc_hexaddr(local, v6 ? 4 : 1, raw))
        return -1;
    r->port = (unsigned)strtoul(local + alen + 1, NULL, 16);
    r->state = (unsigned)strtoul(st, NULL, 16);
    memset(&r->addr, 0, sizeof r->addr);
    if (v6) {
        r->addr.fam = AF_INET6;
        memcpy(r->addr.b, raw, 16);
    } else {
        r->addr.fam = AF_INET;
        r->addr.b[10] = r->addr.b[11] = 0xff;
        memcpy(r->addr.b + 12, raw, 4);
    }
    return 0;
}

int ps_proc_tcp_scan(const char *path, bool v6,
                     int (*fn)(void *ctx, const struct ps_tcp_row *r), void *ctx)
{
    char *buf = ps_proc_read_all(path);
    if (!buf)
        return -1;
    int rc = 0;
    char line[512];
    const char *p = strchr(buf, '\n');   /* skip the header */
    while (p && !rc) {
        p++;
        /* Each row is copied out before sscanf: glibc's sscanf takes the
         * strlen of its input, which over the rest of a large file would
         * make the scan quadratic. */
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (n >= sizeof line)
            n = sizeof line - 1;
        memcpy(line, p, n);
        line[n] = 0;
        struct ps_tcp_row r;
        if (ps_proc_tcp_row(line, v6, &r) == 0)
            rc = fn(ctx, &r);
        p = nl;
    }
    free(buf);
    return rc;
}

struct listening_q {
    const struct ps_addr *want;
    uint16_t port;
    bool v6;
};

static int listening_row(void *ctx, const struct ps_tcp_row *r)
{
    const struct listening_q *q = ctx;
    return r->state == PS_TCP_LISTEN && r->port == q->port &&
           (ps_addr_equal(&r->addr, q->want) ||
            (ps_addr_is_wildcard(&r->addr) && (q->v6 || ps_addr_is_v4(q->want))) ||
            ps_addr_is_wildcard(q->want));
}

static int scan(const char *path, bool v6, const struct ps_addr *want, uint16_t port)
{
    struct listening_q q = {want, port, v6};
    return ps_proc_tcp_scan(path, v6, listening_row, &q);
}

int ps_probe_tcp_listening(const struct ps_addr *addr, uint16_t port)
{
    int a = scan("/proc/net/tcp", false, addr, port);
    if (a == 1)
        return 1;
    int b = scan("/proc/net/tcp6", true, addr, port);
    if (b == 1)
        return 1;
    return (a < 0 && b < 0) ? -1 : 0;
}

#define UNIX_ACCEPTCON 0x10000   /* __SO_ACCEPTCON: the socket listens */

int ps_probe_unix_listening(const char *path)
{
    char *buf = ps_proc_read_all("/proc/net/unix");
    if (!buf)
        return -1;
    size_t plen = strlen(path);
    int found = 0;
    /* "Num: RefCount Protocol Flags Type St Inode[ Path]", the path raw to
     * the end of the line. */
    for (char *line = strchr(buf, '\n'); line && !found; line = strchr(line, '\n')) {
        line++;
        char *eol = strchr(line, '\n');
        if (!eol)
            break;
        char *p = line;
        unsigned long flags = 0;
        int field;
        for (field = 0; field < 7; field++) {
            while (p < eol && *p == ' ')
                p++;
            char *start = p;
            while (p < eol && *p != ' ')
                p++;
            if (p == start)
                break;
            if (field == 3)
                flags = strtoul(start, NULL, 16);
        }
        if (field == 7 && p < eol && *p == ' ' && (size_t)(eol - p - 1) == plen &&
            !memcmp(p + 1, path, plen) && (flags & UNIX_ACCEPTCON))
            found = 1;
    }
    free(buf);
    return found;
}

bool ps_probe_entry_live(const struct ps_entry *e, int self)
{
    if (!ps_probe_any_alive(&e->holders, self))
        return false;
    /* A live pid may be a reused one, or hold the socket no more (closed
     * unseen): a socket that was never listened on would keep its port
     * forever. Its inode must still be among a holder's descriptors. */
    if (e->ino && !e->rpath[0] && ps_probe_sock_held(&e->holders, e->ino, "/proc") == 0)
        return false;
    if (e->listening && !e->rpath[0] && ps_probe_tcp_listening(&e->raddr, e->rport) == 0)
        return false;
    if (e->listening && e->rpath[0] && ps_probe_unix_listening(e->rpath) == 0)
        return false;
    return true;
}
