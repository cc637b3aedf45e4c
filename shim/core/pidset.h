/* pidset.h — a small set of pids: the processes holding a socket.
 * Shared by the namespace table and the report, which both follow holders
 * through inherit, release and exit events. */
#ifndef PS_PIDSET_H
#define PS_PIDSET_H

#include <stdbool.h>
#include <stddef.h>

struct ps_pidset {
    int *v;
    int n, cap;
};

/* Adds pid once; false only when memory ran out. */
bool ps_pidset_add(struct ps_pidset *s, int pid);
/* Removes pid; true if it was there. */
bool ps_pidset_drop(struct ps_pidset *s, int pid);
bool ps_pidset_has(const struct ps_pidset *s, int pid);
void ps_pidset_free(struct ps_pidset *s);

/* pid -> the socket ids it was seen to hold, so that an exit finds its
 * sockets without a walk over all of them. Ids are only added: one whose
 * socket is gone, or that the pid let go of, stays until the pid's list
 * fills, when the held() callback prunes it (linear work overall). */
#define PS_PIDMAP_SID 32        /* = PS_SID_MAX */
struct ps_pidsids {
    int pid;                    /* 0: an empty slot */
    unsigned n, cap;
    char (*sid)[PS_PIDMAP_SID];
};
struct ps_pidmap {
    struct ps_pidsids *v;       /* open addressing on pid */
    size_t cap, used;
};
typedef bool (*ps_held_fn)(void *ctx, int pid, const char *sid);
void ps_pidmap_note(struct ps_pidmap *m, int pid, const char *sid, ps_held_fn held, void *ctx);
/* The ids noted for pid (NULL when none); ps_pidmap_forget drops them. */
const struct ps_pidsids *ps_pidmap_get(const struct ps_pidmap *m, int pid);
void ps_pidmap_forget(struct ps_pidmap *m, int pid);
void ps_pidmap_free(struct ps_pidmap *m);

#endif
