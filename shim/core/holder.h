/* holder.h — who holds a TCP port: the process behind a failed bind's
 * EADDRINUSE, found from <proc>/net/tcp{,6} and <proc>/<pid>/fd.
 *
 * Called only on failure paths: it walks every process's descriptors. The
 * proc root is a parameter so unit tests can hand it a fake tree. */
#ifndef PS_HOLDER_H
#define PS_HOLDER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/sockaddr.h"

#define PS_HOLDER_CMD_MAX 128
#define PS_HOLDER_USER_MAX 33

struct ps_holder {
    int pid;                         /* 0: not found (other_user says why) */
    long uid;                        /* the socket's (or process's) uid, -1 unknown */
    char cmd[PS_HOLDER_CMD_MAX];     /* command line, NULs as spaces, cut, printable ASCII */
    char user[PS_HOLDER_USER_MAX];   /* uid's name, "" unknown */
    double since;                    /* process start (or bind), epoch seconds; 0 unknown */
    bool other_user;                 /* a socket of uid holds it; its fds were unreadable */
    unsigned state;                  /* its TCP state (10 listen, 6 time-wait); 0 unknown */
};

/* Finds the socket holding port (addr of either family, as requested: holders at
 * an overlapping address first, listeners before other states), then the
 * process with a descriptor of it. Returns 0 with *out filled (pid 0 and
 * other_user when the owner's /proc/<pid>/fd could not be read), or -1 when
 * no socket holds the port. */
int ps_holder_find(const char *procroot, const struct ps_addr *addr, uint16_t port,
                   struct ps_holder *out);

/* Fills cmd, uid (when unknown), user and since of pid from <procroot>/<pid>.
 * Returns 0, or -1 when the process is gone. */
int ps_holder_describe(const char *procroot, int pid, struct ps_holder *out);

/* uid's login name from a passwd(5) file, without NSS (a preloaded library
 * must not load NSS modules into the program). Returns 0 or -1. */
int ps_holder_username(const char *passwd, long uid, char *buf, size_t len);

/* One phrase for messages, after "held by": "pid 4242 (redis-server
 * *:8000), user root, since 03:12:07 UTC", "another user (uid 1001)", or
 * "a socket in TIME_WAIT (no process)". */
void ps_holder_format(const struct ps_holder *h, char *buf, size_t len);

#endif
