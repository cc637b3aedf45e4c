/* probe.c — /proc/net/tcp{,6}, /proc/net/unix, /proc/PID/fd and kill(pid, 0). */
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

#define TCP_LISTEN_STATE 0x0A

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

static int scan(const char *path, bool v6, const struct ps_addr *want, uint16_t port)
{
    /* Lines are fixed-width. */
    char *buf = ps_proc_read_all(path);
    if (!buf)
        return -1;
    int found = 0;
    char *line = strchr(buf, '\n');   /* skip the header */
    while (line && !found) {
        line++;
        char *colon = strchr(line, ':');
        if (!colon)
            break;
        const char *a = colon + 2;  /* "  0: 0100007F:1F90 ..." */
        size_t alen = v6 ? 32 : 8;
        size_t need = alen + 1 + 4 + 1 + (alen + 5) + 3;
        if (strnlen(a, need) < need)   /* strlen would scan the whole rest: O(n^2) */
            break;
        struct ps_addr got;
        memset(&got, 0, sizeof got);
        uint8_t raw[16];
        if (ps_proc_hexaddr(a, v6 ? 4 : 1, raw) == 0 && a[alen] == ':') {
            unsigned lport = (unsigned)strtoul(a + alen + 1, NULL, 16);
            const char *st = a + alen + 1 + 4 + 1 + alen + 1 + 4 + 1;
            unsigned state = (unsigned)strtoul(st, NULL, 16);
            if (v6) {
                got.fam = 6;
                memcpy(got.b, raw, 16);
            } else {
                uint32_t ip;
                memcpy(&ip, raw, 4);
                got.fam = 4;
                got.b[10] = got.b[11] = 0xff;
                memcpy(got.b + 12, &ip, 4);
            }
            if (state == TCP_LISTEN_STATE && lport == port &&
                (ps_addr_equal(&got, want) ||
                 (ps_addr_is_wildcard(&got) && (v6 || ps_addr_is_v4(want))) ||
                 ps_addr_is_wildcard(want)))
                found = 1;
        }
        line = strchr(line, '\n');
    }
    free(buf);
    return found;
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
