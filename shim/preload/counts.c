/* counts.c — the namespace's shared connect counters (counts.h). */
#include "preload/counts.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/trust.h"
#include "preload/real.h"
#include "preload/state.h"

#define CNT_SIZE PS_CNT_SIZE

static uint64_t *g_cnt;       /* PS_CSLOT_MAX counters, or NULL */
static uint64_t *g_gen;       /* the header's table generation, or NULL */
static bool g_tried;

/* The sids this process has recorded a connect to in full: later connects
 * to them are only counted. Open addressing on a hash of the sid; when it
 * fills up it starts again (a few more lines, never a wrong count). */
#define SEEN_MAX 256
static uint64_t g_seen[SEEN_MAX];
static unsigned g_nseen;

static uint64_t sid_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h | 1;   /* 0 marks an empty slot */
}

/* Under ps_lock. Maps the file on first use; a process that forked keeps
 * the parent's shared mapping. */
static uint64_t *counters(void)
{
    if (g_tried)
        return g_cnt;
    g_tried = true;
    const char *m = ps_cfg()->manifest;
    char path[PS_PATH_MAX + 8];
    if ((size_t)snprintf(path, sizeof path, "%s.cnt", m) >= sizeof path)
        return NULL;
    /* The manifest's own rule (core/trust.h): a regular file, no link,
     * owned by this user (or root, or the shared uid), writable by no one
     * else. */
    struct ps_trust t = {geteuid(), ps_cfg()->share_uid, ps_cfg()->share_gid};
    enum ps_trust_verdict v;
    char why[160];
    int fd = ps_trust_open(path, O_RDWR | O_CREAT | O_CLOEXEC, false, &t, &v, why, sizeof why);
    if (fd < 0) {
        ps_log(PS_LOG_WARN, "connect counters %s %s; routed connects are recorded one line "
               "each", path, why);
        return NULL;
    }
    struct stat st;
    void *p = MAP_FAILED;
    const char *bad = NULL;
    if (fstat(fd, &st) < 0)
        bad = strerror(errno);
    else if (st.st_size != CNT_SIZE && (st.st_size != 0 || ftruncate(fd, CNT_SIZE) < 0 ||
                                        fstat(fd, &st) < 0 || st.st_size != CNT_SIZE))
        bad = "is of the wrong size";
    else if ((p = mmap(NULL, CNT_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED)
        bad = strerror(errno);
    real_close(fd);
    if (bad) {
        ps_log(PS_LOG_WARN, "connect counters %s %s; routed connects are recorded one line "
               "each", path, bad);
        return NULL;
    }
    /* A new file is all zeros: every process that finds it so writes the
     * same header. Anything else is a file this code did not make. */
    char *h = p;
    static const char zero[8];
    if (!memcmp(h, zero, 8))
        memcpy(h, PS_CNT_MAGIC, 8);
    if (memcmp(h, PS_CNT_MAGIC, 8)) {
        munmap(p, CNT_SIZE);
        ps_log(PS_LOG_WARN, "connect counters %s: not a counter file; routed connects are "
               "recorded one line each", path);
        return NULL;
    }
    g_cnt = (uint64_t *)(h + PS_CNT_HDR);
    g_gen = (uint64_t *)(h + PS_CNT_GEN);
    return g_cnt;
}

void ps_cnt_bump(void)
{
    if (counters())
        __atomic_fetch_add(g_gen, 1, __ATOMIC_RELEASE);
}

bool ps_cnt_gen(uint64_t *gen)
{
    if (!counters())
        return false;
    *gen = __atomic_load_n(g_gen, __ATOMIC_ACQUIRE);
    return true;
}

bool ps_cnt_claim(const struct ps_ns *ns, int *slot, long long *base)
{
    uint64_t *c = counters();
    int s = c ? ps_ns_free_cslot(ns) : -1;
    if (s < 0)
        return false;
    *slot = s;
    uint64_t v = __atomic_load_n(&c[s], __ATOMIC_RELAXED);
    /* Readers take bases below 2^53 (a JSON number's exact integers): a
     * counter past 2^52 (a corrupt file) starts again for the new listener. */
    if (v > (1ULL << 52)) {
        __atomic_store_n(&c[s], 0, __ATOMIC_RELAXED);
        v = 0;
    }
    *base = (long long)v;
    return true;
}

bool ps_cnt_take(int slot, const char *sid)
{
    uint64_t *c = counters();
    if (!c || slot < 0 || slot >= PS_CSLOT_MAX)
        return false;
    uint64_t h = sid_hash(sid);
    unsigned i = (unsigned)(h % SEEN_MAX);
    for (unsigned k = 0; k < SEEN_MAX; k++, i = (i + 1) % SEEN_MAX) {
        if (g_seen[i] == h) {
            __atomic_fetch_add(&c[slot], 1, __ATOMIC_RELAXED);
            return true;
        }
        if (!g_seen[i])
            break;
    }
    if (g_nseen >= SEEN_MAX / 2) {
        memset(g_seen, 0, sizeof g_seen);
        g_nseen = 0;
        i = (unsigned)(h % SEEN_MAX);
    }
    g_seen[i] = h;
    g_nseen++;
    return false;
}

void ps_cnt_emit(const char *sid, int slot, long long base)
{
    uint64_t *c;
    if (slot < 0 || slot >= PS_CSLOT_MAX || base < 0 || !(c = counters()))
        return;
    uint64_t now = __atomic_load_n(&c[slot], __ATOMIC_RELAXED);
    if (now <= (uint64_t)base || now - (uint64_t)base >= (1ULL << 53))
        return;
    struct ps_event ev;
    ps_event_new(&ev, PS_EV_CONNS);
    snprintf(ev.sid, sizeof ev.sid, "%s", sid);
    ev.count = (long long)(now - (uint64_t)base);
    ps_emit(&ev);
}
