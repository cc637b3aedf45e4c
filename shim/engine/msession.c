/* msession.c — a session's manifest (msession.h). */
#include "engine/msession.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/testfail.h"
#include "core/trust.h"

void ps_ms_init(struct ps_msession *m, const struct ps_config *cfg, int fd)
{
    memset(m, 0, sizeof *m);
    m->cfg = cfg;
    m->fresh_at = UINT64_MAX;
    ps_reader_init(&m->rd, fd);
    m->rd.skip = PS_EV_BIT(PS_EV_CONNECT) | PS_EV_BIT(PS_EV_ACCEPT) | PS_EV_BIT(PS_EV_START) |
                 PS_EV_BIT(PS_EV_CONNS);
    ps_ns_init(&m->ns);
}

void ps_ms_free(struct ps_msession *m)
{
    ps_reader_free(&m->rd);
    ps_ns_free(&m->ns);
}

static void bad_line(void *ctx, uint64_t lineno, const char *line, size_t len)
{
    struct ps_msession *m = ctx;
    if (m->bad_warned++ < 10)
        ps_log(PS_LOG_WARN, "manifest %s line %llu: skipped malformed line (%.40s%s)",
               m->cfg->manifest, (unsigned long long)lineno, line, len > 40 ? "..." : "");
}

/* A socket file outside PORTSHIM_DIR is not one this namespace made: a
 * line written by someone else. Never routed to, never unlinked. */
static void apply_event(void *ctx, const struct ps_event *e)
{
    struct ps_msession *m = ctx;
    static unsigned warned;
    if (e->rpath[0] && !ps_path_in_dir(e->rpath, m->cfg->dir)) {
        if (warned++ < 10)
            ps_log(PS_LOG_WARN, "manifest %s: ignored the %s of sid %s: its socket file '%.200s' "
                   "is not in PORTSHIM_DIR (%s)", m->cfg->manifest, ps_ev_name(e->ev), e->sid,
                   e->rpath, m->cfg->dir[0] ? m->cfg->dir : "unset");
        return;
    }
    ps_ns_apply_cb(&m->ns, e);
}

int ps_ms_refresh(struct ps_msession *m)
{
    return ps_reader_poll(&m->rd, apply_event, bad_line, m) < 0 ? -1 : 0;
}

/* Without the flock (a file system that refuses it) the claim still reads,
 * checks and appends, only no longer alone: two processes may claim one
 * port at once. Said once per process; the bind goes on. No descriptor at
 * all is the backend's to say. */
void ps_ms_claim_begin(struct ps_msession *m)
{
    if (m->rd.fd < 0)
        return;
    if (ps_testfail(PS_TF_FLOCK) ? (errno = ENOLCK, false) : ps_manifest_lock(m->rd.fd) == 0)
        m->flocked = true;
    else
        ps_log_once(PS_LOG_WARN, "cannot lock manifest %s: %s (pid %d); this process's binds "
                    "are not serialised with other processes' from here", m->cfg->manifest,
                    strerror(errno), (int)getpid());
}

void ps_ms_claim_end(struct ps_msession *m, bool fd_ok)
{
    if (m->flocked && m->rd.fd >= 0 && fd_ok)
        ps_manifest_unlock(m->rd.fd);
    m->flocked = false;
}

/* One line, one write(2) on an O_APPEND descriptor: the kernel holds the
 * inode's lock across it, so the line lands whole and never interleaves with
 * another writer's. The flock is only for claims, which must read, check
 * and append with no other claim in between.
 *
 * A line starts with a newline of its own when this session's last read
 * of the manifest ended mid-line: a writer killed mid-line left a fragment
 * that would swallow it. Under the claim's flock the read just went to the
 * end, so a claim's bind always starts a fresh line; other records use what
 * the last read saw (readers resynchronise on a glued line all the same,
 * docs/manifest.md). One newline per fragment seen: fresh_at is where. A
 * line still being written by another process costs a blank line at most. */
int ps_ms_emit(struct ps_msession *m, const struct ps_event *e)
{
    char buf[PS_LINE_MAX + 1];
    size_t n = ps_event_encode(e, buf + 1, sizeof buf - 1);
    if (!n)
        return 0;
    char *line = buf + 1;
    uint64_t tail = m->rd.off + m->rd.len;
    if (ps_reader_mid_line(&m->rd) && tail != m->fresh_at) {
        *--line = '\n';
        n++;
        m->fresh_at = tail;
    }
    return ps_manifest_append(m->rd.fd, line, n);
}

/* "pid.n", by hand: on every bind. */
static char *put_dec(char *p, unsigned long v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

void ps_ms_next_sid(struct ps_msession *m, int pid, const char *infix, char sid[PS_SID_MAX])
{
    char *p = put_dec(sid, (unsigned long)pid);
    *p++ = '.';
    size_t il = strlen(infix);
    memcpy(p, infix, il);
    p = put_dec(p + il, ++m->sid_counter);
    *p = 0;
}
