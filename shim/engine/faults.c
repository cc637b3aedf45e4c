/* faults.c — one process's injected faults (engine/faults.h). */
#include "engine/faults.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

uint64_t ps_inj_cmdline_key(const char *path)
{
    uint64_t h = ps_inject_key("", 0);
    int saved = errno;
    long fd = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        char buf[1024];
        long n;
        while ((n = syscall(SYS_read, fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
            for (long i = 0; i < n; i++) {
                h ^= (unsigned char)buf[i];
                h *= 0x100000001b3ull;
            }
        syscall(SYS_close, fd);
    }
    errno = saved;
    return h;
}

bool ps_engine_inj_bind(const struct ps_config *c, uint64_t key, struct ps_inj_counts *cnt,
                        struct ps_event *e)
{
    uint16_t port = (uint16_t)(e->port < 0 ? 0 : e->port);
    if (!(c->inject.bind_eaddrinuse > 0) ||
        !ps_inject_fail(&c->inject, c->seed, key, PS_INJ_BIND_EADDRINUSE, port,
                        ps_inj_next(cnt, PS_INJ_BIND_EADDRINUSE, port)))
        return false;
    if (!e->mode[0])
        strcpy(e->mode, c->mode == PS_MODE_OBSERVE ? "observe"
                        : port && c->ports.n && !ps_portspec_contains(&c->ports, port)
                            ? "pass" : ps_mode_name(c->mode));
    e->ok = false;
    e->err = EADDRINUSE;
    strcpy(e->note, "injected");
    strcpy(e->inj, ps_inject_kind_name(PS_INJ_BIND_EADDRINUSE));
    return true;
}

void ps_engine_inj_connect(const struct ps_config *c, uint64_t key, struct ps_inj_counts *cnt,
                           uint16_t port, struct ps_inj_connect *d)
{
    memset(d, 0, sizeof *d);
    d->kind = -1;
    d->us = -1;
    if (c->inject.connect_delay.p > 0) {
        d->delay_us = ps_inject_delay_us(&c->inject, c->seed, key, PS_INJ_CONNECT_DELAY, port,
                                         ps_inj_next(cnt, PS_INJ_CONNECT_DELAY, port));
        if (d->delay_us) {
            d->kind = PS_INJ_CONNECT_DELAY;
            d->us = (long long)d->delay_us;
        }
    }
    if (!(c->inject.connect_refused > 0) ||
        !ps_inject_fail(&c->inject, c->seed, key, PS_INJ_CONNECT_REFUSED, port,
                        ps_inj_next(cnt, PS_INJ_CONNECT_REFUSED, port)))
        return;
    d->refused = true;
    d->kind = PS_INJ_CONNECT_REFUSED;
}

void ps_engine_inj_take(const struct ps_inj_connect *d, struct ps_event *e)
{
    if (d->kind < 0)
        return;
    strcpy(e->inj, ps_inject_kind_name(d->kind));
    e->inj_us = d->us;
    if (!e->ok && d->kind == PS_INJ_CONNECT_REFUSED && !e->note[0])
        strcpy(e->note, "injected");
}
