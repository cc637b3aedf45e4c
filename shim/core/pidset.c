/* pidset.c — an unordered array; sets hold a handful of pids. */
#include "core/pidset.h"

#include <stdlib.h>

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
