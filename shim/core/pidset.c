/* pidset.c — an unordered array; sets hold a handful of pids. And the
 * pid -> socket ids map that lets an exit event find its sockets. */
#include "core/pidset.h"

#include <stdlib.h>
#include <string.h>

bool ps_pidset_has(const struct ps_pidset *s, int pid)
{
    for (int i = 0; i < s->n; i++)
        if (s->v[i] == pid)
            return true;
    return false;
}

bool ps_pidset_add(struct ps_pidset *s, int pid)
{
    if (ps_pidset_has(s, pid))
        return true;
    if (s->n == s->cap) {
        int ncap = s->cap ? s->cap * 2 : 4;
        int *nv = realloc(s->v, (size_t)ncap * sizeof *nv);
        if (!nv)
            return false;
        s->v = nv;
        s->cap = ncap;
    }
    s->v[s->n++] = pid;
    return true;
}

bool ps_pidset_drop(struct ps_pidset *s, int pid)
{
    for (int i = 0; i < s->n; i++)
        if (s->v[i] == pid) {
            s->v[i] = s->v[--s->n];
            return true;
        }
    return false;
}

void ps_pidset_free(struct ps_pidset *s)
{
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

static struct ps_pidsids *pidmap_slot(const struct ps_pidmap *m, int pid)
{
    size_t mask = m->cap - 1;
    for (size_t i = ((size_t)(unsigned)pid * 0x9e3779b1u) & mask;; i = (i + 1) & mask)
        if (!m->v[i].pid || m->v[i].pid == pid)
            return &m->v[i];
}

const struct ps_pidsids *ps_pidmap_get(const struct ps_pidmap *m, int pid)
{
    if (!m->cap || pid <= 0)
        return NULL;
    struct ps_pidsids *p = pidmap_slot(m, pid);
    return p->pid ? p : NULL;
}

static struct ps_pidsids *pidmap_add(struct ps_pidmap *m, int pid)
{
    struct ps_pidsids *p = (struct ps_pidsids *)ps_pidmap_get(m, pid);
    if (p)
        return p;
    if ((m->used + 1) * 2 > m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 64, oldcap = m->cap;
        struct ps_pidsids *old = m->v, *nv = calloc(ncap, sizeof *nv);
        if (!nv)
            return NULL;
        m->v = nv;
        m->cap = ncap;
        for (size_t i = 0; i < oldcap; i++)
            if (old[i].pid)
                *pidmap_slot(m, old[i].pid) = old[i];
        free(old);
    }
    p = pidmap_slot(m, pid);
    p->pid = pid;
    m->used++;
    return p;
}

/* A full list first drops what is no longer held; it grows only when at
 * least half is still held, so each id is pruned or copied O(1) times. */
void ps_pidmap_note(struct ps_pidmap *m, int pid, const char *sid, ps_held_fn held, void *ctx)
{
    struct ps_pidsids *p = pid > 0 ? pidmap_add(m, pid) : NULL;
    if (!p)
        return;
    if (p->n == p->cap) {
        unsigned k = 0;
        for (unsigned i = 0; i < p->n; i++)
            if (held(ctx, pid, p->sid[i]))
                memcpy(p->sid[k++], p->sid[i], PS_PIDMAP_SID);
        p->n = k;
        if (p->n * 2 >= p->cap) {
            unsigned ncap = p->cap ? p->cap * 2 : 2;
            void *nv = realloc(p->sid, ncap * sizeof *p->sid);
            if (!nv)
                return;
            p->sid = nv;
            p->cap = ncap;
        }
    }
    size_t n = strnlen(sid, PS_PIDMAP_SID - 1);
    memcpy(p->sid[p->n], sid, n);
    p->sid[p->n++][n] = 0;
}

void ps_pidmap_forget(struct ps_pidmap *m, int pid)
{
    struct ps_pidsids *p = (struct ps_pidsids *)ps_pidmap_get(m, pid);
    if (!p)
        return;
    free(p->sid);
    p->sid = NULL;
    p->n = p->cap = 0;
}

void ps_pidmap_free(struct ps_pidmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->v[i].sid);
    free(m->v);
    memset(m, 0, sizeof *m);
}
