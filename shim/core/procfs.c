/* procfs.c — reading /proc's files (procfs.h). */
#include "core/procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

ssize_t ps_proc_read(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t n = 0;
    while (n < len) {
        ssize_t r = read(fd, buf + n, len - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    return (ssize_t)n;
}

ssize_t ps_proc_read_str(const char *path, char *buf, size_t len)
{
    if (!len)
        return -1;
    ssize_t n = ps_proc_read(path, buf, len - 1);
    buf[n > 0 ? n : 0] = 0;
    return n;
}

char *ps_proc_read_all(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        return NULL;
    }
    for (;;) {
        if (cap - len < 4096) {
            char *nb = realloc(buf, cap * 2);
            if (!nb)
                break;
            buf = nb;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = 0;
    return buf;
}

int ps_proc_stat_parse(const char *stat, char *state, unsigned long long *start_ticks)
{
    const char *p = strrchr(stat, ')');
    if (!p || p[1] != ' ')
        return -1;
    *state = p[2];
    p++;
    for (int field = 3; field < 22; field++) {   /* ')' ends field 2 */
        while (*p == ' ') p++;
        while (*p && *p != ' ') p++;
    }
    char *end;
    *start_ticks = strtoull(p, &end, 10);
    return end == p ? -1 : 0;
}
