/* pidset.h — a small set of pids: the processes holding a socket.
 * Shared by the namespace table and the report, which both follow holders
 * through inherit, release and exit events. */
#ifndef PS_PIDSET_H
#define PS_PIDSET_H

#include <stdbool.h>

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

#endif
