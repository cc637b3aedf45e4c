/* supervise.c — the seccomp supervisor (supervise.h).
 *
 * One thread, one poll loop: the socket processes attach through, the
 * listener fd of each attached process tree, and the sockets of connects
 * still under way. A notification is answered at once, or (a connect of a
 * blocking socket that the kernel has not completed yet) when its socket
 * becomes writable: no call of one process ever waits for another's.
 *
 * Every socket operation is made on the target's own socket, fetched with
 * pidfd_getfd, through bare system calls: a `portshim run` nested in
 * another run has the outer run's library preloaded, and its wrappers must
 * not see the supervisor's binds. The target's memory is read and written
 * with process_vm_readv/writev, each checked with SECCOMP_IOCTL_NOTIF_ID_VALID
 * afterwards (read) or before (write): a notification of a process that
 * exited, whose pid may be another's by now, is dropped unanswered.
 *
 * A process whose socket calls the preload library already handles (a
 * dynamic program exec'd under the filter: libportshim.so is mapped in it)
 * gets SECCOMP_USER_NOTIF_FLAG_CONTINUE: its library decided already. */
#include "cli/supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/config.h"
#include "core/fdtable.h"
#include "core/execkind.h"
#include "core/holder.h"
#include "core/kernel.h"
#include "core/inject.h"
#include "core/log.h"
#include "core/manifest.h"
#include "core/ns.h"
#include "core/probe.h"
#include "core/sockaddr.h"
#include "core/trust.h"
#include "engine/engine.h"
#include "engine/faults.h"
#include "engine/msession.h"
#include "seccomp/attach.h"

/* Linux 6.6: the target and the supervisor hand a notification to each
 * other on the waker's CPU, as a synchronous call, instead of a remote
 * wake-up (the kernel's headers of Debian 12 predate it). */
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

#define SUP_SOCK_NAME "supervisor"
#define MAX_LISTENERS 256
#define MAX_PENDING 256
#define MAX_PROCS 64
#define MAX_OBSERVED 512
#define MAX_SWAPPED 1024
#define MAX_TASKS 512
#define MAX_OWN 1024
#define MAX_REPLAY 32

/* ---- bare system calls --------------------------------------------------- */

static int sys_bind(int fd, const void *a, socklen_t l) { return (int)syscall(SYS_bind, fd, a, l); }
static int sys_connect(int fd, const void *a, socklen_t l)
{
    return (int)syscall(SYS_connect, fd, a, l);
}
static int sys_listen(int fd, int b) { return (int)syscall(SYS_listen, fd, b); }
static int sys_getsockname(int fd, void *a, socklen_t *l)
{
    return (int)syscall(SYS_getsockname, fd, a, l);
}
static int sys_getpeername(int fd, void *a, socklen_t *l)
{
    return (int)syscall(SYS_getpeername, fd, a, l);
}
static int sys_getsockopt(int fd, int lv, int n, void *v, socklen_t *l)
{
    return (int)syscall(SYS_getsockopt, fd, lv, n, v, l);
}
static int sockopt_int(int fd, int level, int name)
{
    int v = 0;
    socklen_t l = sizeof v;
    return sys_getsockopt(fd, level, name, &v, &l) == 0 ? v : 0;
}

/* ---- state ----------------------------------------------------------------- */

/* An attached process (a thread group), as far as the supervisor knows it. */
struct proc {
    int tgid;
    int pidfd;
    dev_t exe_dev;
    ino_t exe_ino;
    bool preloaded;       /* libportshim.so is mapped: its library answers */
    bool holds;           /* it bound sockets of the namespace: its exit is recorded */
    char prog[PS_PROG_MAX];
    unsigned long long used;   /* LRU tick */
    /* Injected faults: its command line's key and its own counters (a
     * forked child starts its own; the library's continues its parent's). */
    bool key_done;
    uint64_t key;
    struct ps_inj_counts *cnt;
};

/* A call's identity: a system call the kernel restarts after a signal
 * interrupted it comes back from the same thread with the same arguments. */
struct ident {
    int tid;
    int nr;
    uint64_t args[6];
};

/* A connect, as far as the supervisor carries it: what it needs to go on
 * later (after an injected delay) without the notification at hand. */
struct cctx {
    int lfd;              /* the listener it came through (a dup when pending) */
    uint64_t id;
    int sock;             /* our copy of the target's socket (owned) */
    struct sockaddr_storage ss;
    socklen_t len;
    struct ps_addr a;
    uint16_t port;
    enum ps_connect_kind k;
    struct ps_inj_connect inj;
    struct ps_proc who;
    char prog[PS_PROG_MAX];
    long long val;        /* V_ANSWER: the result, or -errno */
    int tid, tgid;
    int tfd;              /* the target's descriptor number */
    /* accept: the program's address and length pointers, its length, flags */
    uint64_t aptr, lptr;
    socklen_t want;
    int aflags;
    struct ident idn;
};

/* A connect waiting: for its injected delay to pass (DELAY), or for the
 * kernel to complete it (WAIT, a blocking socket's). */
struct pending {
    enum { P_DELAY, P_WAIT, P_ACCEPT } phase;
    struct cctx x;        /* x.lfd and x.sock are owned here */
    int fl;               /* WAIT: the socket's status flags, to restore */
    long deadline_ms;     /* DELAY: when to go on; WAIT: when TCP would give up */
    struct ps_event ev;   /* WAIT: the connect's record, ok/err filled on completion */
};

struct ps_supervisor {
    pthread_t th;
    bool started;
    int lsock;
    int wake[2];
    char path[PATH_MAX];
    char own_dir[128];        /* a private directory made for the socket, or "" */
    struct ps_config cfg;
    /* The manifest session: read incrementally, appended to. */
    int mfd;
    struct ps_msession ms;
    bool ms_ready;
    bool write_warned;
    struct ps_session sess;
    struct ps_proc who;       /* the process the current call is about */
    char who_prog[PS_PROG_MAX];
    int listeners[MAX_LISTENERS];
    int nl;
    struct pending pend[MAX_PENDING];
    int np;
    struct proc procs[MAX_PROCS];
    /* Observe mode: the sockets whose binds were recorded (they are not
     * entries of the table), so that their listens name the same sid. */
    struct { unsigned long long ino; char sid[PS_SID_MAX]; } observed[MAX_OBSERVED];
    unsigned next_observed;
    /* Unix mode: the options of the sockets standing in for TCP ones, by
     * inode (the supervisor sees no close: the oldest make room). */
    struct { unsigned long long ino; struct ps_opts *opts; } swapped[MAX_SWAPPED];
    unsigned next_swapped;
    /* Threads seen, by tid (direct-mapped): their thread group. */
    struct { int tid, tgid; } tasks[MAX_TASKS];
    /* The sockets this supervisor bound, by inode: the process and the
     * descriptor number, so that a conflict asks that descriptor whether
     * it is still the socket (op_live) instead of walking /proc. */
    struct { unsigned long long ino; int tgid, fd; } own[MAX_OWN];
    unsigned next_own;
    /* Answers a signal kept from their call after the supervisor had acted
     * (its SEND said ENOENT): the kernel restarts the call (SA_RESTART, as
     * Go's SIGURG preemption has), and the restarted one gets the same
     * answer instead of being carried out twice (a second bind: EINVAL). An
     * accepted connection waits here for the restarted accept. */
    struct {
        struct ident idn;
        long long val;
        int nfd;              /* accept: the connection, or -1 */
        struct sockaddr_storage peer;
        socklen_t plen;
        long expires_ms;
    } replay[MAX_REPLAY];
    unsigned next_replay;
    unsigned long long tick;
    struct seccomp_notif *req;
    struct seccomp_notif_resp *resp;
    size_t req_size, resp_size;
};

static long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void remember(struct ps_supervisor *s, const struct ident *idn, long long val, int nfd,
                     const struct sockaddr_storage *peer, socklen_t plen);

/* ---- the manifest session ------------------------------------------------ */

static void refresh(struct ps_supervisor *s)
{
    if (ps_ms_refresh(&s->ms) < 0 && !s->write_warned) {
        s->write_warned = true;
        cli_log(PS_LOG_ERROR, "supervisor: cannot read manifest %s: %s", s->cfg.manifest,
                strerror(errno));
    }
}

static void emit(struct ps_supervisor *s, struct ps_event *e)
{
    memcpy(e->be, "seccomp", 8);
    if (ps_ms_emit(&s->ms, e) < 0 && !s->write_warned) {
        s->write_warned = true;
        cli_log(PS_LOG_ERROR, "supervisor: cannot write manifest %s: %s", s->cfg.manifest,
                strerror(errno));
    }
}

/* "<pid>.s<n>": the library's sids are "<pid>.<n>", so a supervised
 * process that later execs a preloaded program never gets one twice. */
static void next_sid(struct ps_supervisor *s, char sid[PS_SID_MAX])
{
    ps_ms_next_sid(&s->ms, s->who.pid, "s", sid);
}

static void claim_begin(struct ps_supervisor *s)
{
    ps_ms_claim_begin(&s->ms);
    refresh(s);
}

static void claim_end(struct ps_supervisor *s) { ps_ms_claim_end(&s->ms, true); }

static void event_new(struct ps_supervisor *s, struct ps_event *e, enum ps_ev ev)
{
    ps_engine_event_new(&s->who, e, ev);
}

/* ---- the engine's operations ------------------------------------------- */

static bool op_alive(void *ctx, const struct ps_entry *e)
{
    return ps_probe_any_alive(&e->holders, 0);
}

static struct proc *proc_find(struct ps_supervisor *s, int tgid);

/* Thorough, for a conflict. A socket this supervisor bound is asked
 * directly: its process's descriptor is still that socket (its inode),
 * and a listener still listens. Everything else as the library asks. */
static bool op_live(void *ctx, const struct ps_entry *e)
{
    struct ps_supervisor *s = ctx;
    for (int i = 0; e->ino && i < MAX_OWN; i++) {
        if (s->own[i].ino != e->ino || s->own[i].tgid != e->pid)
            continue;
        struct proc *p = proc_find(s, e->pid);
        if (!p || p->pidfd < 0)
            break;
        int fd = (int)syscall(SYS_pidfd_getfd, p->pidfd, s->own[i].fd, 0);
        if (fd < 0 && errno != EBADF && errno != ESRCH)
            break;   /* not ours to ask (EPERM): as the library asks */
        struct stat st;
        bool live = fd >= 0 && fstat(fd, &st) == 0 && st.st_ino == e->ino &&
                    (!e->listening || sockopt_int(fd, SOL_SOCKET, SO_ACCEPTCONN));
        if (fd >= 0)
            close(fd);
        return live;
    }
    return ps_probe_entry_live(e, 0);
}

static void op_retire(void *ctx, const struct ps_entry *c)
{
    struct ps_supervisor *s = ctx;
    struct ps_event st;
    event_new(s, &st, PS_EV_STALE);
    memcpy(st.sid, c->sid, sizeof st.sid);
    emit(s, &st);
    refresh(s);
}

static bool op_refuses_first(void *ctx, int fd, int fam)
{
    return ps_kernel_refuses_first(fd, fam);
}

static bool op_local_address(void *ctx, const struct ps_addr *dst)
{
    return ps_kernel_local_address(dst);
}

static const struct ps_engine_ops sup_ops = {
    .alive = op_alive,
    .live = op_live,
    .retire = op_retire,
    .refuses_first = op_refuses_first,
    .local_address = op_local_address,
};

/* ---- the target process ------------------------------------------------ */

static int read_small(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = 0;
    return (int)n;
}

/* The thread group of task tid and its effective uid, from its status. */
static int task_ids(int tid, int *tgid, long *euid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/status", tid);
    if (read_small(path, buf, sizeof buf) < 0)
        return -1;
    const char *t = strstr(buf, "\nTgid:"), *u = strstr(buf, "\nUid:");
    if (!t)
        return -1;
    *tgid = atoi(t + 6);
    long r, e;
    *euid = u && sscanf(u + 5, "%ld %ld", &r, &e) == 2 ? e : -1;
    return *tgid > 0 ? 0 : -1;
}

/* Does the preload library answer pid's socket calls? It is mapped, and
 * pid is not a Go program: Go makes its socket calls itself, and the
 * library, loaded into a dynamically linked one, stays off there
 * (preload/state.c). The maps are read in pieces. */
static bool maps_preloaded(int pid)
{
    char exe[64];
    snprintf(exe, sizeof exe, "/proc/%d/exe", pid);
    if (ps_exec_kind_of(exe) == PS_EXEC_GO)
        return false;
    static const char needle[] = "/libportshim.so";
    char path[64], buf[8192 + sizeof needle];
    snprintf(path, sizeof path, "/proc/%d/maps", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    size_t keep = 0;
    bool found = false;
    ssize_t n;
    while (!found && (n = read(fd, buf + keep, sizeof buf - 1 - keep)) > 0) {
        size_t len = keep + (size_t)n;
        buf[len] = 0;
        found = memmem(buf, len, needle, sizeof needle - 1) != NULL;
        keep = len < sizeof needle ? len : sizeof needle - 1;
        memmove(buf, buf + len - keep, keep);
    }
    close(fd);
    return found;
}

static struct proc *proc_get(struct ps_supervisor *s, int tgid)
{
    char path[64];
    struct stat st;
    snprintf(path, sizeof path, "/proc/%d/exe", tgid);
    bool have_exe = stat(path, &st) == 0;
    struct proc *p = NULL, *lru = &s->procs[0];
    for (int i = 0; i < MAX_PROCS; i++) {
        if (s->procs[i].tgid == tgid) {
            p = &s->procs[i];
            break;
        }
        /* A process that holds sockets of the namespace is kept: its exit
         * must be seen. */
        if ((lru->holds && !s->procs[i].holds) ||
            (lru->holds == s->procs[i].holds && s->procs[i].used < lru->used))
            lru = &s->procs[i];
    }
    bool fresh = !p || !have_exe || p->exe_dev != st.st_dev || p->exe_ino != st.st_ino;
    if (!p) {
        p = lru;
        if (p->pidfd >= 0)
            close(p->pidfd);
        p->tgid = tgid;
        p->holds = false;
        p->pidfd = (int)syscall(SYS_pidfd_open, tgid, O_NONBLOCK);
    }
    if (fresh) {
        /* A new process, or an exec: a new program, its own command line,
         * name and fault counters. */
        p->preloaded = maps_preloaded(tgid);
        p->exe_dev = have_exe ? st.st_dev : 0;
        p->exe_ino = have_exe ? st.st_ino : 0;
        free(p->cnt);
        p->cnt = NULL;
        p->key_done = false;
        snprintf(path, sizeof path, "/proc/%d/comm", tgid);
        if (read_small(path, p->prog, sizeof p->prog) < 0)
            p->prog[0] = 0;
        p->prog[strcspn(p->prog, "\n")] = 0;
    }
    p->used = ++s->tick;
    return p;
}

static uint64_t proc_inj_key(struct proc *p)
{
    if (!p->key_done) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/cmdline", p->tgid);
        p->key = ps_inj_cmdline_key(path);
        p->key_done = true;
    }
    return p->key;
}

static struct ps_inj_counts *proc_counts(struct proc *p)
{
    /* Out of memory: one shared set, decisions still seeded. */
    static struct ps_inj_counts fallback;
    if (!p->cnt)
        p->cnt = calloc(1, sizeof *p->cnt);
    return p->cnt ? p->cnt : &fallback;
}

static bool id_valid(int lfd, uint64_t id)
{
    return ioctl(lfd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

static int mem_read(int tid, void *dst, uint64_t src, size_t len)
{
    struct iovec l = {dst, len}, r = {(void *)(uintptr_t)src, len};
    return process_vm_readv(tid, &l, 1, &r, 1, 0) == (ssize_t)len ? 0 : -1;
}

static int mem_write(int tid, uint64_t dst, const void *src, size_t len)
{
    struct iovec l = {(void *)src, len}, r = {(void *)(uintptr_t)dst, len};
    return process_vm_writev(tid, &l, 1, &r, 1, 0) == (ssize_t)len ? 0 : -1;
}

/* ---- one call -------------------------------------------------------------- */

/* What a handler says to do with the notification. */
enum verdict { V_CONTINUE, V_ANSWER, V_DROP, V_LATER, V_SENT /* answered by ADDFD_FLAG_SEND */ };

struct call {
    struct ps_supervisor *s;
    int lfd;
    const struct seccomp_notif *n;
    int tid;
    struct proc *p;
    int sock;             /* our copy of the target's socket, or -1 */
    long long val;        /* V_ANSWER: the result, or -errno */
    const struct ident *idn;
};

static enum verdict answer(struct call *c, long long val)
{
    c->val = val;
    return V_ANSWER;
}

/* Our copy of the target's descriptor argument 0; -1 when it has none
 * (the kernel answers the call: EBADF, ENOTSOCK). */
static int get_sock(struct call *c)
{
    if (c->sock >= 0)
        return c->sock;
    if (c->p->pidfd < 0)
        return -1;
    c->sock = (int)syscall(SYS_pidfd_getfd, c->p->pidfd, (int)c->n->data.args[0], 0);
    if (c->sock < 0 && errno == ESRCH) {
        /* The pidfd is of a process that exited; its pid is another's now
         * (the notification was valid after the pid was read). */
        close(c->p->pidfd);
        c->p->pidfd = (int)syscall(SYS_pidfd_open, c->p->tgid, O_NONBLOCK);
        c->p->holds = false;
        if (c->p->pidfd >= 0)
            c->sock = (int)syscall(SYS_pidfd_getfd, c->p->pidfd, (int)c->n->data.args[0], 0);
    }
    return c->sock;
}

static bool is_tcp(int fd)
{
    int proto = sockopt_int(fd, SOL_SOCKET, SO_PROTOCOL);
    return (proto == IPPROTO_TCP || proto == IPPROTO_MPTCP) &&
           sockopt_int(fd, SOL_SOCKET, SO_TYPE) == SOCK_STREAM;
}

static bool is_udp(int fd)
{
    return sockopt_int(fd, SOL_SOCKET, SO_PROTOCOL) == IPPROTO_UDP &&
           sockopt_int(fd, SOL_SOCKET, SO_TYPE) == SOCK_DGRAM;
}

/* The program's sockaddr argument (args[1], length args[2]): 0, or -1 when
 * it is none the namespace reads (the kernel answers: EFAULT, EINVAL). */
static int read_addr(struct call *c, struct sockaddr_storage *ss, socklen_t *len)
{
    uint64_t ptr = c->n->data.args[1];
    uint64_t l = c->n->data.args[2] & 0xffffffffu;
    if (!ptr || l > sizeof *ss || l < sizeof(sa_family_t))
        return -1;
    memset(ss, 0, sizeof *ss);
    if (mem_read(c->tid, ss, ptr, (size_t)l) < 0)
        return -1;
    *len = (socklen_t)l;
    return 0;
}

static void who_is(struct call *c, long euid)
{
    struct ps_supervisor *s = c->s;
    /* Its name as of its exec (proc_get): a program that renames itself
     * later is named as it started. */
    memcpy(s->who_prog, c->p->prog, sizeof s->who_prog);
    s->who.pid = c->p->tgid;
    s->who.prog = s->who_prog;
    s->who.uid = euid;
}

static struct proc *proc_find(struct ps_supervisor *s, int tgid)
{
    for (int i = 0; tgid > 0 && i < MAX_PROCS; i++)
        if (s->procs[i].tgid == tgid)
            return &s->procs[i];
    return NULL;
}

/* The socket of inode ino is the target's descriptor fd (see op_live). */
static void own(struct ps_supervisor *s, unsigned long long ino, int tgid, int fd)
{
    unsigned i = s->next_own++ % MAX_OWN;
    s->own[i].ino = ino;
    s->own[i].tgid = tgid;
    s->own[i].fd = fd;
}

/* tid's thread group: from the cache when its process is still there (its
 * pidfd says so) and tid still one of its threads, else from its status. */
static int task_tgid(struct ps_supervisor *s, int tid)
{
    char path[64];
    struct stat st;
    unsigned h = (unsigned)tid % MAX_TASKS;
    if (s->tasks[h].tid == tid) {
        int tgid = s->tasks[h].tgid;
        struct proc *p = proc_find(s, tgid);
        snprintf(path, sizeof path, "/proc/%d/task/%d", tgid, tid);
        if (p && p->pidfd >= 0 && syscall(SYS_pidfd_send_signal, p->pidfd, 0, NULL, 0) == 0 &&
            (tid == tgid || stat(path, &st) == 0))
            return tgid;
    }
    int tgid;
    long euid;
    if (task_ids(tid, &tgid, &euid) < 0)
        return -1;
    s->tasks[h].tid = tid;
    s->tasks[h].tgid = tgid;
    return tgid;
}

/* track: e gets a new sid, and its process's exit will be recorded (the
 * supervisor sees no close: an entry ends with its process, or is found
 * stale by the next conflict, as a raw close of the library's is). */
static void record(struct ps_supervisor *s, struct ps_event *e, bool track)
{
    if (track) {
        next_sid(s, e->sid);
        struct proc *p = proc_find(s, e->pid);
        if (p)
            p->holds = true;
    }
    emit(s, e);
}

/* A process that held sockets of the namespace exited: its entries end,
 * as the library's destructor ends them with an exit event. */
static void proc_exited(struct ps_supervisor *s, struct proc *p)
{
    struct ps_event e;
    s->who.pid = p->tgid;
    memcpy(s->who_prog, p->prog, sizeof s->who_prog);
    s->who.prog = s->who_prog;
    event_new(s, &e, PS_EV_EXIT);
    emit(s, &e);
    close(p->pidfd);
    free(p->cnt);
    memset(p, 0, sizeof *p);
    p->pidfd = -1;
}

/* The holder of a virtual port, into the failed bind's record, and one
 * line on stderr, as the library says it (preload/faults.c). */
static void name_holder(struct ps_supervisor *s, struct ps_event *e, const struct ps_entry *h)
{
    struct ps_holder ho;
    memset(&ho, 0, sizeof ho);
    ho.uid = h->uid;
    int pid = 0;
    for (int i = 0; i < h->holders.n && !pid; i++)
        if (ps_probe_pid_alive(h->holders.v[i]))
            pid = h->holders.v[i];
    snprintf(e->note, sizeof e->note, "virtual port %d is held by pid %d (%s), sid %s", e->port,
             h->pid, h->prog, h->sid);
    char a[PS_ADDRSTRLEN], who[256];
    ps_addr_format(&e->addr, a);
    if (!pid || ps_holder_describe("/proc", pid, &ho)) {
        cli_log(PS_LOG_WARN, "bind %s:%d in pid %d (%s): EADDRINUSE, holder not found", a,
                e->port, e->pid, e->prog);
        return;
    }
    if (h->ts_bind > 0)
        ho.since = h->ts_bind;
    e->hpid = ho.pid;
    snprintf(e->hcmd, sizeof e->hcmd, "%s", ho.cmd);
    e->huid = ho.uid;
    snprintf(e->huser, sizeof e->huser, "%s", ho.user);
    e->hsince = ho.since;
    ps_holder_format(&ho, who, sizeof who);
    cli_log(PS_LOG_WARN, "bind %s:%d in pid %d (%s): EADDRINUSE in this namespace, held by %s",
            a, e->port, e->pid, e->prog, who);
}

static int real_port(int fd, uint16_t *port)
{
    struct sockaddr_storage ss;
    socklen_t l = sizeof ss;
    struct ps_addr a;
    if (sys_getsockname(fd, &ss, &l) < 0 ||
        ps_addr_from_sockaddr((struct sockaddr *)&ss, l, &a, port) < 0)
        return -1;
    return 0;
}

static void note_inode(int fd, struct ps_event *e)
{
    struct stat st;
    if (fstat(fd, &st) == 0)
        e->ino = (unsigned long long)st.st_ino;
}

static unsigned long long inode_of(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 ? (unsigned long long)st.st_ino : 0;
}

static void observe(struct ps_supervisor *s, int fd, const char *sid)
{
    unsigned i = s->next_observed++ % MAX_OBSERVED;
    s->observed[i].ino = inode_of(fd);
    memcpy(s->observed[i].sid, sid, PS_SID_MAX);
}

static const char *observed_sid(struct ps_supervisor *s, int fd)
{
    unsigned long long ino = inode_of(fd);
    for (int i = 0; ino && i < MAX_OBSERVED; i++)
        if (s->observed[i].ino == ino)
            return s->observed[i].sid;
    return NULL;
}


/* ---- unix mode ------------------------------------------------------------ */

/* The target's descriptor fd has FD_CLOEXEC (its fdinfo's flags). */
static bool target_cloexec(int tgid, int fd)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/fdinfo/%d", tgid, fd);
    if (read_small(path, buf, sizeof buf) < 0)
        return false;
    const char *f = strstr(buf, "flags:");
    unsigned long v = 0;
    return f && sscanf(f + 6, "%lo", &v) == 1 && (v & O_CLOEXEC);
}

/* Puts our socket src in the target's place of its descriptor tfd (the
 * TCP socket goes, as with dup2), keeping its FD_CLOEXEC. */
static int replace_fd(int lfd, uint64_t id, int tgid, int src, int tfd)
{
    struct seccomp_notif_addfd a = {
        .id = id,
        .flags = SECCOMP_ADDFD_FLAG_SETFD,
        .srcfd = (uint32_t)src,
        .newfd = (uint32_t)tfd,
        .newfd_flags = target_cloexec(tgid, tfd) ? O_CLOEXEC : 0,
    };
    return ioctl(lfd, SECCOMP_IOCTL_NOTIF_ADDFD, &a) < 0 ? -1 : 0;
}

static socklen_t unix_sockaddr(const char *name, size_t len, struct sockaddr_un *su)
{
    memset(su, 0, sizeof *su);
    su->sun_family = AF_UNIX;
    memcpy(su->sun_path, name, len);
    /* A path's length includes its NUL; an abstract name's is exact. */
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (name[0] ? 1 : 0));
}

static void unlink_socket(struct ps_supervisor *s, const char *path)
{
    struct stat st;
    if (ps_path_in_dir(path, s->cfg.dir) && lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);
}

/* Options AF_UNIX has no place for, read from the TCP socket at the swap
 * (the library's list, preload/unix.c). */
static const struct { int level, name; } kept[] = {
    {IPPROTO_TCP, TCP_NODELAY},    {IPPROTO_TCP, TCP_KEEPIDLE}, {IPPROTO_TCP, TCP_KEEPINTVL},
    {IPPROTO_TCP, TCP_KEEPCNT},    {IPPROTO_TCP, TCP_USER_TIMEOUT}, {IPPROTO_TCP, TCP_SYNCNT},
    {IPPROTO_IPV6, IPV6_V6ONLY},   {SOL_SOCKET, SO_REUSEPORT},
};

static struct ps_opts *opts_of(struct ps_supervisor *s, unsigned long long ino, bool make)
{
    for (int i = 0; ino && i < MAX_SWAPPED; i++)
        if (s->swapped[i].ino == ino)
            return s->swapped[i].opts;
    if (!make || !ino)
        return NULL;
    struct ps_opts *o = ps_opts_new();
    if (!o)
        return NULL;
    unsigned i = s->next_swapped++ % MAX_SWAPPED;
    ps_opts_unref(s->swapped[i].opts);
    s->swapped[i].ino = ino;
    s->swapped[i].opts = o;
    return o;
}

/* u stands in for the TCP socket tcp: its options go with it. */
static void keep_options(struct ps_supervisor *s, int tcp, int u)
{
    int dom = sockopt_int(tcp, SOL_SOCKET, SO_DOMAIN);
    struct ps_opts *o = opts_of(s, inode_of(u), true);
    for (size_t i = 0; o && i < sizeof kept / sizeof kept[0]; i++) {
        int v = 0;
        socklen_t l = sizeof v;
        if ((kept[i].level != IPPROTO_IPV6 || dom == AF_INET6) &&
            sys_getsockopt(tcp, kept[i].level, kept[i].name, &v, &l) == 0)
            ps_opts_set(o, kept[i].level, kept[i].name, v);
    }
}

/* A bind of a virtual port in unix mode (PS_PLAN_UNIX_PATH): a new AF_UNIX
 * socket bound to the socket file takes the place of the program's TCP
 * socket, as the library's swap does, before the program registers the
 * descriptor with its poller (Go binds and listens first). Under the claim. */
static int bind_unix(struct call *c, int fd, struct ps_event *e, const char *path)
{
    struct ps_supervisor *s = c->s;
    int fl = fcntl(fd, F_GETFL);
    int u = (int)syscall(SYS_socket, AF_UNIX,
                         SOCK_STREAM | SOCK_CLOEXEC | (fl >= 0 && (fl & O_NONBLOCK) ? SOCK_NONBLOCK : 0), 0);
    if (u < 0)
        return -ENOBUFS;
    /* A file left by a holder that died without closing. */
    unlink_socket(s, path);
    struct sockaddr_un su;
    socklen_t sl = unix_sockaddr(path, strlen(path), &su);
    int err = 0;
    if (sys_bind(u, &su, sl) < 0) {
        err = errno;
        cli_log(PS_LOG_WARN, "bind %s in pid %d (%s): %s", path, e->pid, e->prog, strerror(err));
    } else {
        /* A namespace shared with another user: the private directory
         * decides who may reach it, not the file's mode. */
        if (s->cfg.share_uid >= 0 || s->cfg.share_gid >= 0)
            chmod(path, 0666);
        if (!id_valid(c->lfd, c->n->id) ||
            replace_fd(c->lfd, c->n->id, c->p->tgid, u, (int)c->n->data.args[0]) < 0) {
            err = errno == ENOENT ? ENOENT : EBADF;
            unlink(path);
        }
    }
    if (err) {
        close(u);
        return -err;
    }
    snprintf(e->rpath, sizeof e->rpath, "%s", path);
    e->ino = inode_of(u);
    own(s, e->ino, c->p->tgid, (int)c->n->data.args[0]);
    keep_options(s, fd, u);
    close(u);
    return 0;
}

/* A fresh client's abstract name "\0DIR/c/<port>@<addr>", a port of the
 * ephemeral range; the kernel keeps abstract names unique. */
static void name_client(struct ps_supervisor *s, int u, const struct ps_addr *dst)
{
    enum { LO = 32768, HI = 60999 };
    struct ps_uname un = {.client = true, .addr = *dst};
    if (ps_addr_is_wildcard(dst)) {
        struct ps_addr lo = ps_addr_loopback(ps_addr_is_v4(dst) ? AF_INET : AF_INET6);
        un.addr = ps_addr_as_family(&lo, dst->fam);
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    unsigned span = HI - LO + 1, start = (unsigned)ts.tv_nsec % span;
    for (unsigned i = 0; i < span; i++) {
        un.port = (uint16_t)(LO + (start + i) % span);
        char name[PS_SUN_PATH];
        size_t n = ps_uname_format(name, sizeof name, s->cfg.dir, &un);
        if (!n)
            return;
        struct sockaddr_un su;
        socklen_t sl = unix_sockaddr(name, n, &su);
        if (sys_bind(u, &su, sl) == 0 || errno != EADDRINUSE)
            return;
    }
}

/* A routed connect in unix mode (PS_ROUTE_PATH): a new AF_UNIX socket,
 * named as a client of the namespace and connected to the listener's file,
 * takes the place of the program's TCP socket. AF_UNIX connects at once or
 * not at all: a full backlog (listeners take the deepest the kernel
 * allows) is ECONNREFUSED here, a gone file too. */
static int connect_unix(struct ps_supervisor *s, struct cctx *x, const char *path)
{
    int fl = fcntl(x->sock, F_GETFL);
    int u = (int)syscall(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (u < 0)
        return -ENOBUFS;
    name_client(s, u, &x->a);
    struct sockaddr_un su;
    socklen_t sl = unix_sockaddr(path, strlen(path), &su);
    int err = sys_connect(u, &su, sl) < 0 ? errno : 0;
    if (err == EAGAIN || err == ENOENT)
        err = ECONNREFUSED;
    if (!err && fl >= 0 && !(fl & O_NONBLOCK))
        fcntl(u, F_SETFL, fl & ~O_NONBLOCK);
    if (!err)
        keep_options(s, x->sock, u);
    if (!err && (!id_valid(x->lfd, x->id) || replace_fd(x->lfd, x->id, x->tgid, u, x->tfd) < 0))
        err = ECONNREFUSED;
    close(u);
    return -err;
}

static int uname_of(struct ps_supervisor *s, const struct sockaddr_storage *k, socklen_t kl,
                    struct ps_uname *u)
{
    const struct sockaddr_un *su = (const struct sockaddr_un *)k;
    size_t off = offsetof(struct sockaddr_un, sun_path);
    if (k->ss_family != AF_UNIX)
        return -1;
    if (kl <= off)
        return 1;   /* unnamed */
    return ps_uname_parse(su->sun_path, kl - off, s->cfg.dir, u);
}

/* The peer p (prc: 0 named, else unnamed) as a socket whose own name is
 * self sees it (the library's rule, preload/unix.c). */
static socklen_t peer_seen_by(const struct ps_uname *self, int prc, const struct ps_uname *p,
                              struct sockaddr_storage *out)
{
    int fam = self->addr.fam;
    if (prc != 0) {
        struct ps_addr lo = ps_addr_loopback(fam);
        return ps_addr_to_sockaddr(&lo, 0, out);
    }
    struct ps_addr a = ps_addr_as_family(&p->addr, fam);
    if (ps_addr_is_wildcard(&p->addr))
        a = ps_addr_is_wildcard(&self->addr) ? ps_addr_loopback(fam) : self->addr;
    return ps_addr_to_sockaddr(&a, p->port, out);
}

/* A swapped socket's inet name (peer: its peer's) as the program would
 * see it, from the AF_UNIX names alone. false: not a socket of the
 * namespace. */
static bool unix_inet_name(struct ps_supervisor *s, int fd, bool peer,
                           struct sockaddr_storage *out, socklen_t *outl)
{
    struct sockaddr_storage k, pk;
    socklen_t kl = sizeof k, pkl = sizeof pk;
    struct ps_uname self, p;
    if (sys_getsockname(fd, &k, &kl) < 0 || uname_of(s, &k, kl, &self) != 0)
        return false;
    int prc = sys_getpeername(fd, &pk, &pkl) < 0 ? -2 : uname_of(s, &pk, pkl, &p);
    if (peer) {
        if (prc == -2)
            return false;
        *outl = peer_seen_by(&self, prc == 0 ? 0 : 1, &p, out);
        return true;
    }
    struct ps_addr a = self.addr;
    /* A wildcard name on a connected socket (accepted from a wildcard
     * listener): the address it was reached on, for loopback the client's. */
    if (ps_addr_is_wildcard(&a)) {
        if (prc == 0 && !ps_addr_is_wildcard(&p.addr))
            a = ps_addr_as_family(&p.addr, self.addr.fam);
        else if (prc != -2)
            a = ps_addr_loopback(self.addr.fam);
    }
    *outl = ps_addr_to_sockaddr(&a, self.port, out);
    return true;
}

/* What the kernel says to this bind before it looks at the port, for the
 * binds it might refuse for their address alone (IPv6: v4-mapped, which
 * IPV6_V6ONLY decides; link-local, which the scope id decides): a fresh
 * TCP socket of the family (and fd's IPV6_V6ONLY) binds the same address,
 * port 0. The port's own answers are the namespace's (the library's rule,
 * preload/bind.c). 0: none. */
static int kernel_bind_err(int fd, int dom, const struct sockaddr_storage *ss, socklen_t len)
{
    const struct in6_addr *a6 = &((const struct sockaddr_in6 *)ss)->sin6_addr;
    if (dom != AF_INET6 || (!IN6_IS_ADDR_V4MAPPED(a6) && !IN6_IS_ADDR_LINKLOCAL(a6) &&
                            !IN6_IS_ADDR_MC_LINKLOCAL(a6)))
        return 0;
    struct sockaddr_storage probe = *ss;
    ps_sockaddr_set_port((struct sockaddr *)&probe, 0);
    int t = (int)syscall(SYS_socket, dom, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (t < 0)
        return 0;
    int v6only = sockopt_int(fd, IPPROTO_IPV6, IPV6_V6ONLY);
    syscall(SYS_setsockopt, t, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
    int err = sys_bind(t, &probe, len) < 0 ? errno : 0;
    close(t);
    return err == EADDRINUSE || err == EACCES || err == EADDRNOTAVAIL ? 0 : err;
}

static enum verdict do_bind(struct call *c, long euid)
{
    struct ps_supervisor *s = c->s;
    struct sockaddr_storage ss;
    socklen_t len;
    struct ps_addr a;
    uint16_t port;
    if (read_addr(c, &ss, &len) < 0 ||
        ps_addr_from_sockaddr((struct sockaddr *)&ss, len, &a, &port) < 0)
        return V_CONTINUE;
    if (!id_valid(c->lfd, c->n->id))
        return V_DROP;
    int fd = get_sock(c);
    if (fd >= 0 && is_udp(fd) && port && s->cfg.mode != PS_MODE_OBSERVE) {
        /* The library serves UDP; the supervisor does not yet. Never
         * silently unisolated: the bind goes to the real port, said once
         * per bind (binds are few). */
        char ab[PS_ADDRSTRLEN];
        cli_log(PS_LOG_WARN,
                "bind %s:%u/udp in pid %d (%s): not isolated: the seccomp supervisor serves "
                "TCP only, this UDP socket takes the real port",
                ps_addr_format(&a, ab), port, c->p->tgid, c->p->prog);
    }
    if (fd < 0 || !is_tcp(fd))
        return V_CONTINUE;
    int dom = sockopt_int(fd, SOL_SOCKET, SO_DOMAIN);
    /* The kernel's own answers before the port (another family, a short
     * length, a bound socket): its to give. */
    if (dom != ss.ss_family ||
        len < (dom == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)))
        return V_CONTINUE;
    int kerr = kernel_bind_err(fd, dom, &ss, len);
    if (kerr)
        return answer(c, -kerr);
    int tg;
    if (task_ids(c->tid, &tg, &euid) < 0)
        euid = -1;
    who_is(c, euid);
    struct ps_event e;
    event_new(s, &e, PS_EV_BIND);
    e.fam = dom;
    if (e.fam == AF_INET6)
        e.v6only = sockopt_int(fd, IPPROTO_IPV6, IPV6_V6ONLY);
    e.has_addr = true;
    e.addr = a;
    e.port = port;
    e.reuseaddr = sockopt_int(fd, SOL_SOCKET, SO_REUSEADDR);
    e.reuseport = sockopt_int(fd, SOL_SOCKET, SO_REUSEPORT);
    e.uid = ps_engine_uid(&s->who);
    e.proto = PS_PROTO_TCP;
    if (s->cfg.inject.any && ps_engine_inj_bind(&s->cfg, proc_inj_key(c->p), proc_counts(c->p), &e)) {
        record(s, &e, false);
        char ab[PS_ADDRSTRLEN];
        cli_log(PS_LOG_INFO, "bind %s:%u in pid %d (%s): EADDRINUSE injected (seed %llu)",
               ps_addr_format(&e.addr, ab), port, e.pid, e.prog,
               (unsigned long long)s->cfg.seed);
        return answer(c, -EADDRINUSE);
    }
    const char *mode;
    enum ps_bind_kind k = ps_engine_bind_kind(&s->cfg, port, &mode);
    snprintf(e.mode, sizeof e.mode, "%s", mode);
    int rc, err = 0;
    uint16_t r = 0;
    if (k == PS_BIND_RECORD) {
        rc = sys_bind(fd, &ss, len);
        err = rc ? errno : 0;
        e.ok = rc == 0;
        e.err = err;
        if (rc == 0 && real_port(fd, &r) == 0) {
            e.has_raddr = true;
            e.raddr = e.addr;
            e.rport = r;
        }
        bool track = rc == 0 && s->cfg.mode == PS_MODE_OBSERVE;
        record(s, &e, track);
        if (track)
            observe(s, fd, e.sid);
        return answer(c, rc ? -err : 0);
    }
    if (k == PS_BIND_ANY) {
        rc = sys_bind(fd, &ss, len);
        err = rc ? errno : 0;
        if (rc == 0 && (real_port(fd, &r) < 0 || !r)) {
            rc = -1;
            err = EINVAL;
        }
        claim_begin(s);
        e.chosen = true;
        if (rc == 0 && !(e.port = ps_engine_bind_any(&s->sess, r))) {
            rc = -1;
            err = EADDRINUSE;
        }
        if (rc == 0) {
            e.has_raddr = true;
            e.raddr = e.addr;
            e.rport = r;
            note_inode(fd, &e);
            own(s, e.ino, c->p->tgid, (int)c->n->data.args[0]);
        } else {
            e.ok = false;
            e.err = err;
        }
        record(s, &e, rc == 0);
        claim_end(s);
        return answer(c, rc ? -err : 0);
    }
    struct ps_bindreq req = {
        .proto = e.proto,
        .baddr = {.addr = e.addr, .v6only = e.v6only},
        .port = port,
        .reuseaddr = e.reuseaddr,
        .reuseport = e.reuseport,
        .uid = e.uid,
    };
    /* Unix mode binds no inet address: the kernel's check that it is one
     * of this host's (EADDRNOTAVAIL) is asked of a UDP socket, as the
     * library asks it. */
    if (s->cfg.mode == PS_MODE_UNIX && !ps_addr_is_wildcard(&a) &&
        !(a.fam == AF_INET && ps_addr_is_loopback(&a)) && !sockopt_int(fd, IPPROTO_IP, IP_FREEBIND) &&
        !sockopt_int(fd, IPPROTO_IP, IP_TRANSPARENT) && !op_local_address(s, &a)) {
        e.ok = false;
        e.err = EADDRNOTAVAIL;
        record(s, &e, false);
        return answer(c, -EADDRNOTAVAIL);
    }
    struct ps_bind_plan plan;
    claim_begin(s);
    ps_engine_bind_decide(&s->sess, fd, e.fam, &req, &plan);
    e.port = plan.vport;
    e.chosen = plan.chosen;
    enum verdict v = V_ANSWER;
    switch (plan.plan) {
    case PS_PLAN_KERNEL:
        v = V_CONTINUE;
        break;
    case PS_PLAN_REFUSE:
        e.ok = false;
        e.err = plan.err;
        if (plan.holder)
            name_holder(s, &e, plan.holder);
        record(s, &e, false);
        c->val = -plan.err;
        break;
    case PS_PLAN_UNIX_PATH: {
        int r2 = bind_unix(c, fd, &e, plan.path);
        if (r2 == 0) {
            record(s, &e, true);
            cli_log(PS_LOG_DEBUG, "bind port %u -> %s (pid %d, %s, seccomp)", (unsigned)e.port,
                    e.rpath, e.pid, e.prog);
        } else {
            e.ok = false;
            e.err = -r2;
            record(s, &e, false);
        }
        c->val = r2;
        break;
    }
    case PS_PLAN_REAL_PORT: {
        struct sockaddr_storage rs = ss;
        ps_sockaddr_set_port((struct sockaddr *)&rs, plan.rport);
        rc = sys_bind(fd, &rs, len);
        err = rc ? errno : 0;
        if (rc == 0 && real_port(fd, &r) < 0) {
            rc = -1;
            err = EINVAL;
        }
        if (rc == 0) {
            e.has_raddr = true;
            e.raddr = e.addr;
            e.rport = r;
            note_inode(fd, &e);
            own(s, e.ino, c->p->tgid, (int)c->n->data.args[0]);
        } else {
            e.ok = false;
            e.err = err;
        }
        record(s, &e, rc == 0);
        c->val = rc ? -err : 0;
        if (rc == 0) {
            char ab[PS_ADDRSTRLEN];
            cli_log(PS_LOG_DEBUG, "bind %s:%u -> real port %u (pid %d, %s, seccomp)",
                   ps_addr_format(&e.addr, ab), port, (unsigned)r, e.pid, e.prog);
        }
        break;
    }
    }
    claim_end(s);
    return v;
}

/* The table entry of the socket fd (by its inode), bound by the namespace. */
static const struct ps_entry *entry_of(struct ps_supervisor *s, int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return NULL;
    for (size_t i = 0; i < s->ms.ns.n; i++)
        if (s->ms.ns.v[i].ino == (unsigned long long)st.st_ino)
            return &s->ms.ns.v[i];
    return NULL;
}

static enum verdict do_listen(struct call *c, long euid)
{
    struct ps_supervisor *s = c->s;
    int fd = get_sock(c);
    if (fd < 0)
        return V_CONTINUE;
    refresh(s);
    /* Ours by its inode: a TCP socket, or the AF_UNIX one of unix mode. */
    const struct ps_entry *en = entry_of(s, fd);
    if (!en && (s->cfg.mode != PS_MODE_OBSERVE || !is_tcp(fd)))
        return V_CONTINUE;
    if (en && en->listening)
        return V_CONTINUE;
    who_is(c, euid);
    /* A listener standing in for TCP takes the deepest backlog the kernel
     * allows: AF_UNIX refuses a connect to a full one (the library's rule). */
    int rc = sys_listen(fd, en && en->rpath[0] ? INT_MAX : (int)c->n->data.args[1]);
    int err = rc ? errno : 0;
    struct ps_event e;
    event_new(s, &e, PS_EV_LISTEN);
    e.ok = rc == 0;
    e.err = err;
    const char *sid = en ? en->sid : observed_sid(s, fd);
    if (sid) {
        memcpy(e.sid, sid, sizeof e.sid);
        emit(s, &e);
        return answer(c, rc ? -err : 0);
    }
    /* Observe mode: a listener the kernel bound itself gets an id too. */
    struct sockaddr_storage ss;
    socklen_t l = sizeof ss;
    struct ps_addr a;
    uint16_t port;
    if (sys_getsockname(fd, &ss, &l) == 0 &&
        ps_addr_from_sockaddr((struct sockaddr *)&ss, l, &a, &port) == 0) {
        e.fam = a.fam;
        e.has_addr = e.has_raddr = true;
        e.addr = e.raddr = a;
        e.port = e.rport = port;
        record(s, &e, rc == 0);
    }
    return answer(c, rc ? -err : 0);
}

static void connect_event(struct ps_supervisor *s, struct ps_event *e, const struct ps_addr *a,
                          uint16_t port, int rport, bool routed)
{
    event_new(s, e, PS_EV_CONNECT);
    e->fam = a->fam;
    e->has_addr = e->has_raddr = true;
    e->addr = e->raddr = *a;
    e->port = port;
    e->rport = rport;
    e->routed = routed;
}

static void connect_done(struct ps_supervisor *s, struct ps_event *e, int rc, int err,
                         const struct ps_inj_connect *inj)
{
    e->ok = rc == 0;
    e->err = rc ? err : 0;
    ps_engine_inj_take(inj, e);
    record(s, e, false);
}

static void be_who(struct ps_supervisor *s, const struct cctx *x)
{
    s->who = x->who;
    memcpy(s->who_prog, x->prog, sizeof s->who_prog);
    s->who.prog = s->who_prog;
}

static enum verdict cx_answer(struct cctx *x, long long val)
{
    x->val = val;
    return V_ANSWER;
}

/* Waits in the poll loop, owning a dup of x's listener and x's socket. */
static struct pending *park(struct ps_supervisor *s, struct cctx *x, int phase)
{
    if (s->np == MAX_PENDING)
        return NULL;
    int lfd = fcntl(x->lfd, F_DUPFD_CLOEXEC, 0);
    if (lfd < 0)
        return NULL;
    struct pending *p = &s->pend[s->np++];
    memset(p, 0, sizeof *p);
    p->phase = phase;
    p->x = *x;
    p->x.lfd = lfd;
    x->sock = -1;   /* the pending connect keeps it */
    return p;
}

/* The connect itself, on the target's socket: at once for a non-blocking
 * socket (EINPROGRESS as the kernel says it); for a blocking one, made
 * non-blocking for the call and, when the kernel needs time, answered
 * when the socket becomes writable (pending), as long as TCP would try. */
static enum verdict connect_now(struct ps_supervisor *s, struct cctx *x,
                                const struct sockaddr_storage *to, struct ps_event *e)
{
    int fd = x->sock;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || (fl & O_NONBLOCK)) {
        int rc = sys_connect(fd, to, x->len);
        int err = rc ? errno : 0;
        connect_done(s, e, rc, err, &x->inj);
        return cx_answer(x, rc ? -err : 0);
    }
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    int rc = sys_connect(fd, to, x->len);
    int err = rc ? errno : 0;
    struct pending *p = rc < 0 && err == EINPROGRESS ? park(s, x, P_WAIT) : NULL;
    if (!p) {
        fcntl(fd, F_SETFL, fl);
        /* No room to wait here (256 connects under way): the caller
         * hears the kernel's word for a busy moment. */
        if (rc < 0 && err == EINPROGRESS)
            err = EAGAIN;
        connect_done(s, e, rc, err, &x->inj);
        return cx_answer(x, rc ? -err : 0);
    }
    p->fl = fl;
    p->deadline_ms = now_ms() + 127 * 1000;
    p->ev = *e;
    return V_LATER;
}

/* A connect the namespace does not route, with an injected decision to
 * record: made here, as asked, so that its outcome is in the record. */
static enum verdict connect_plain(struct ps_supervisor *s, struct cctx *x)
{
    struct ps_event e;
    event_new(s, &e, PS_EV_CONNECT);
    e.fam = x->a.fam;
    e.has_addr = true;
    e.addr = x->a;
    e.port = x->port;
    return connect_now(s, x, &x->ss, &e);
}

/* Everything after the injected delay: the injected refusal, the route,
 * the connect. */
static enum verdict connect_go(struct ps_supervisor *s, struct cctx *x)
{
    be_who(s, x);
    struct ps_event e;
    if (x->inj.refused) {
        char ab[PS_ADDRSTRLEN];
        cli_log(PS_LOG_INFO, "connect %s:%u in pid %d: ECONNREFUSED injected (seed %llu)",
               ps_addr_format(&x->a, ab), x->port, s->who.pid,
               (unsigned long long)s->cfg.seed);
        event_new(s, &e, PS_EV_CONNECT);
        e.fam = x->a.fam;
        e.has_addr = true;
        e.addr = x->a;
        e.port = x->port;
        connect_done(s, &e, -1, ECONNREFUSED, &x->inj);
        return cx_answer(x, -ECONNREFUSED);
    }
    if (x->k == PS_CONNECT_PASS)
        return x->inj.kind >= 0 ? connect_plain(s, x) : V_CONTINUE;
    if (x->k == PS_CONNECT_OBSERVE) {
        connect_event(s, &e, &x->a, x->port, x->port, false);
        return connect_now(s, x, &x->ss, &e);
    }
    struct ps_route r;
    refresh(s);
    ps_engine_connect_route(&s->sess, x->k, &x->a, x->port, &r);
    switch (r.kind) {
    case PS_ROUTE_PASS:
        return x->inj.kind >= 0 ? connect_plain(s, x) : V_CONTINUE;
    case PS_ROUTE_REFUSE: {
        char ab[PS_ADDRSTRLEN];
        cli_log(PS_LOG_INFO, "connect %s:%u in pid %d: ECONNREFUSED: no listener for this "
               "strictly virtual port", ps_addr_format(&x->a, ab), x->port, s->who.pid);
        connect_event(s, &e, &x->a, x->port, -1, true);
        e.has_raddr = false;
        snprintf(e.note, sizeof e.note, "no listener in the namespace");
        connect_done(s, &e, -1, ECONNREFUSED, &x->inj);
        return cx_answer(x, -ECONNREFUSED);
    }
    case PS_ROUTE_PATH: {
        int r2 = connect_unix(s, x, r.path);
        connect_event(s, &e, &x->a, x->port, -1, true);
        e.has_raddr = false;
        snprintf(e.rpath, sizeof e.rpath, "%s", r.path);
        connect_done(s, &e, r2 ? -1 : 0, -r2, &x->inj);
        return cx_answer(x, r2);
    }
    case PS_ROUTE_PORT:
        break;
    }
    connect_event(s, &e, &x->a, x->port, r.rport, true);
    struct sockaddr_storage to = x->ss;
    ps_sockaddr_set_port((struct sockaddr *)&to, r.rport);
    return connect_now(s, x, &to, &e);
}

static enum verdict do_connect(struct call *c, long euid)
{
    struct ps_supervisor *s = c->s;
    struct cctx x;
    memset(&x, 0, sizeof x);
    x.lfd = c->lfd;
    x.id = c->n->id;
    x.sock = -1;
    x.tid = c->tid;
    x.tgid = c->p->tgid;
    x.tfd = (int)c->n->data.args[0];
    x.idn = *c->idn;
    if (read_addr(c, &x.ss, &x.len) < 0 ||
        ps_addr_from_sockaddr((struct sockaddr *)&x.ss, x.len, &x.a, &x.port) < 0 || x.port == 0)
        return V_CONTINUE;
    if (!id_valid(c->lfd, c->n->id))
        return V_DROP;
    x.k = ps_engine_connect_kind(&s->cfg, x.port);
    if (x.k == PS_CONNECT_PASS && !s->cfg.inject.any)
        return V_CONTINUE;
    int fd = get_sock(c);
    if (fd < 0 || !is_tcp(fd))
        return V_CONTINUE;
    int dom = sockopt_int(fd, SOL_SOCKET, SO_DOMAIN);
    if (dom != x.ss.ss_family)
        return V_CONTINUE;
    /* A v4-mapped destination on a v6-only socket: the kernel's ENETUNREACH. */
    if (x.a.fam == AF_INET6 && ps_addr_is_v4(&x.a) && sockopt_int(fd, IPPROTO_IPV6, IPV6_V6ONLY))
        return V_CONTINUE;
    who_is(c, euid);
    x.who = s->who;
    memcpy(x.prog, s->who_prog, sizeof x.prog);
    x.inj.kind = -1;
    x.inj.us = -1;
    if (s->cfg.inject.any)
        ps_engine_inj_connect(&s->cfg, proc_inj_key(c->p), proc_counts(c->p), x.port, &x.inj);
    /* x owns the socket from here: c must not close it. */
    x.sock = c->sock;
    c->sock = -1;
    enum verdict v;
    struct pending *p;
    if (x.inj.delay_us && (p = park(s, &x, P_DELAY))) {
        /* The delay passes in the poll loop: other calls go on. */
        p->deadline_ms = now_ms() + (long)((x.inj.delay_us + 999) / 1000);
        v = V_LATER;
    } else {
        v = connect_go(s, &x);
    }
    if (x.sock >= 0)
        close(x.sock);
    c->val = x.val;
    return v;
}


/* ---- accept (unix mode) ------------------------------------------------ */

/* The accepted connection nfd goes into the target as the answer of its
 * accept (SECCOMP_ADDFD_FLAG_SEND: the call returns its new descriptor
 * number), the peer (out, ol) written where the program asked. When a
 * signal took the call back (ENOENT), the connection is kept for the
 * restarted call (remember). Takes nfd. */
static enum verdict hand_in(struct ps_supervisor *s, struct cctx *x, int nfd,
                            const struct sockaddr_storage *out, socklen_t ol)
{
    int fl = fcntl(nfd, F_GETFL);
    if (fl >= 0)
        fcntl(nfd, F_SETFL, (x->aflags & SOCK_NONBLOCK) ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
    if (!id_valid(x->lfd, x->id)) {
        remember(s, &x->idn, 0, nfd, out, ol);
        return V_DROP;
    }
    if (x->aptr) {
        socklen_t n = x->want < ol ? x->want : ol;
        if ((n && mem_write(x->tid, x->aptr, out, n) < 0) ||
            mem_write(x->tid, x->lptr, &ol, sizeof ol) < 0) {
            close(nfd);
            return cx_answer(x, -EFAULT);
        }
    }
    struct seccomp_notif_addfd a = {
        .id = x->id,
        .flags = SECCOMP_ADDFD_FLAG_SEND,
        .srcfd = (uint32_t)nfd,
        .newfd_flags = (x->aflags & SOCK_CLOEXEC) ? O_CLOEXEC : 0,
    };
    int r = ioctl(x->lfd, SECCOMP_IOCTL_NOTIF_ADDFD, &a);
    int err = errno;
    if (r >= 0) {
        close(nfd);
        return V_SENT;
    }
    /* ENOENT: a signal took the accept back (its restart gets this
     * connection), or the target is gone (then it goes when it expires). */
    if (err == ENOENT) {
        remember(s, &x->idn, 0, nfd, out, ol);
        return V_DROP;
    }
    close(nfd);
    return cx_answer(x, -ECONNABORTED);
}

/* One accept on the listener x->sock, never blocking: the connection goes
 * into the target (SECCOMP_IOCTL_NOTIF_ADDFD with ADDFD_FLAG_SEND, which
 * answers the call with its new descriptor number), its peer written as
 * the inet address the program would have seen. V_LATER: nothing to
 * accept yet on a blocking listener. */
static enum verdict accept_try(struct ps_supervisor *s, struct cctx *x, bool blocking)
{
    struct sockaddr_storage k;
    socklen_t kl = sizeof k;
    /* SOCK_NONBLOCK is the new socket's: a blocking listener is made
     * non-blocking for the call (its program waits in this very accept),
     * and only when a connection is there, so that its other users see
     * the flag for as short a time as can be. */
    int nfd = -1;
    errno = EAGAIN;
    if (blocking) {
        struct pollfd pf = {x->sock, POLLIN, 0};
        int fl = fcntl(x->sock, F_GETFL);
        if (poll(&pf, 1, 0) == 1 && fl >= 0 && fcntl(x->sock, F_SETFL, fl | O_NONBLOCK) == 0) {
            nfd = (int)syscall(SYS_accept4, x->sock, &k, &kl, SOCK_CLOEXEC | SOCK_NONBLOCK);
            int e = errno;
            fcntl(x->sock, F_SETFL, fl);
            errno = e;
        }
    } else {
        nfd = (int)syscall(SYS_accept4, x->sock, &k, &kl, SOCK_CLOEXEC | SOCK_NONBLOCK);
    }
    if (nfd < 0) {
        if ((errno == EAGAIN || errno == EWOULDBLOCK) && blocking)
            return V_LATER;
        return cx_answer(x, -errno);
    }
    /* The peer as an inet name, from the AF_UNIX names. */
    struct sockaddr_storage out, lk;
    socklen_t ol, lkl = sizeof lk;
    struct ps_uname self, p;
    if (sys_getsockname(x->sock, &lk, &lkl) == 0 && uname_of(s, &lk, lkl, &self) == 0) {
        int prc = uname_of(s, &k, kl, &p);
        ol = peer_seen_by(&self, prc == 0 ? 0 : 1, &p, &out);
    } else {
        out = k;
        ol = kl;
    }
    return hand_in(s, x, nfd, &out, ol);
}

/* accept/accept4 in unix mode, on a listener of the namespace: the
 * AF_UNIX peer the kernel would report becomes the inet address the
 * program expects (Go takes its RemoteAddr from accept's own result).
 * Other modes, other sockets: the kernel's call. */
static enum verdict do_accept(struct call *c, bool four)
{
    struct ps_supervisor *s = c->s;
    if (s->cfg.mode != PS_MODE_UNIX)
        return V_CONTINUE;
    struct cctx x;
    memset(&x, 0, sizeof x);
    x.lfd = c->lfd;
    x.id = c->n->id;
    x.tid = c->tid;
    x.tgid = c->p->tgid;
    x.aptr = c->n->data.args[1];
    x.lptr = c->n->data.args[2];
    x.aflags = four ? (int)c->n->data.args[3] : 0;
    x.idn = *c->idn;
    /* What the kernel refuses before accepting is its own to say. */
    if (x.aflags & ~(SOCK_CLOEXEC | SOCK_NONBLOCK))
        return V_CONTINUE;
    if (x.aptr && (!x.lptr || mem_read(c->tid, &x.want, x.lptr, sizeof x.want) < 0 ||
                   (int)x.want < 0))
        return V_CONTINUE;
    int fd = get_sock(c);
    struct sockaddr_storage k;
    socklen_t kl = sizeof k;
    struct ps_uname self;
    if (fd < 0 || sys_getsockname(fd, &k, &kl) < 0 || uname_of(s, &k, kl, &self) != 0 ||
        self.client || !id_valid(c->lfd, c->n->id))
        return V_CONTINUE;
    x.sock = fd;
    c->sock = -1;
    int fl = fcntl(fd, F_GETFL);
    enum verdict v = accept_try(s, &x, fl >= 0 && !(fl & O_NONBLOCK));
    if (v == V_LATER) {
        /* A blocking accept waits in the poll loop; its notification is
         * checked every second, so a call abandoned by a signal or an exit
         * never takes a connection meant for the next one. */
        struct pending *p = park(s, &x, P_ACCEPT);
        if (p)
            p->deadline_ms = now_ms() + 1000;
        else
            v = cx_answer(&x, -EAGAIN);
    }
    if (x.sock >= 0)
        close(x.sock);
    c->val = x.val;
    return v;
}


/* ---- socket options (unix mode) ---------------------------------------- */


static bool emulated(int level, int name)
{
    return level == IPPROTO_TCP || level == IPPROTO_IP || level == IPPROTO_IPV6 ||
           (level == SOL_SOCKET && name == SO_REUSEPORT);
}

/* The family an AF_UNIX socket of the namespace stands in for, from its
 * own name (a listener's file, an accepted socket's listener, a client's
 * abstract name); 0: not one. */
static int stands_for(struct ps_supervisor *s, int fd)
{
    struct sockaddr_storage k;
    socklen_t kl = sizeof k;
    struct ps_uname u;
    if (sys_getsockname(fd, &k, &kl) < 0 || uname_of(s, &k, kl, &u) != 0)
        return 0;
    return u.addr.fam;
}

/* getsockopt/setsockopt(fd, level, name, val, len) on a socket standing in
 * for TCP: the options AF_UNIX has no place for are stored and read back,
 * SO_DOMAIN, SO_PROTOCOL and SO_TYPE say what it stands for, each pointer
 * copied in the kernel's order (EFAULT, EINVAL as the kernel gives them).
 * Everything else is the kernel's. */
static enum verdict do_sockopt(struct call *c, bool set)
{
    struct ps_supervisor *s = c->s;
    if (s->cfg.mode != PS_MODE_UNIX)
        return V_CONTINUE;
    int level = (int)c->n->data.args[1], name = (int)c->n->data.args[2];
    bool ident = !set && level == SOL_SOCKET &&
                 (name == SO_DOMAIN || name == SO_PROTOCOL || name == SO_TYPE);
    if (!ident && !emulated(level, name))
        return V_CONTINUE;
    int fd = get_sock(c);
    int fam;
    if (fd < 0 || sockopt_int(fd, SOL_SOCKET, SO_DOMAIN) != AF_UNIX || !(fam = stands_for(s, fd)))
        return V_CONTINUE;
    uint64_t val = c->n->data.args[3], lenp = c->n->data.args[4];
    unsigned long long ino = inode_of(fd);
    int v = 0;
    if (set) {
        socklen_t len = (socklen_t)lenp;
        if (len < sizeof(int))
            return answer(c, -EINVAL);
        if (mem_read(c->tid, &v, val, sizeof v) < 0)
            return answer(c, -EFAULT);
        if (!id_valid(c->lfd, c->n->id))
            return V_DROP;
        struct ps_opts *o = opts_of(s, ino, true);
        if (!o || !ps_opts_set(o, level, name, v))
            return answer(c, -ENOMEM);
        if (level == SOL_SOCKET && name == SO_REUSEPORT)
            syscall(SYS_setsockopt, fd, level, name, &v, sizeof v);   /* AF_UNIX may refuse it */
        return answer(c, 0);
    }
    if (ident) {
        v = name == SO_DOMAIN ? fam : name == SO_PROTOCOL ? IPPROTO_TCP : SOCK_STREAM;
    } else if (!ps_opts_get(opts_of(s, ino, false), level, name, &v) &&
               !ps_tcp_default(level, name, &v)) {
        return V_CONTINUE;
    }
    socklen_t want;
    if (mem_read(c->tid, &want, lenp, sizeof want) < 0)
        return answer(c, -EFAULT);
    if ((int)want < 0)
        return answer(c, -EINVAL);
    socklen_t n = want < sizeof v ? want : sizeof v;
    if (!id_valid(c->lfd, c->n->id))
        return V_DROP;
    if (mem_write(c->tid, lenp, &n, sizeof n) < 0 || (n && mem_write(c->tid, val, &v, n) < 0))
        return answer(c, -EFAULT);
    return answer(c, 0);
}

/* getsockname/getpeername: the kernel's answer, real ports of the
 * namespace's sockets named by their virtual numbers. */
static enum verdict do_name(struct call *c, bool peer)
{
    struct ps_supervisor *s = c->s;
    if (s->cfg.mode == PS_MODE_OBSERVE)
        return V_CONTINUE;
    uint64_t aptr = c->n->data.args[1], lptr = c->n->data.args[2];
    socklen_t want;
    if (!aptr || !lptr || mem_read(c->tid, &want, lptr, sizeof want) < 0 || (int)want < 0)
        return V_CONTINUE;
    if (!id_valid(c->lfd, c->n->id))
        return V_DROP;
    int fd = get_sock(c);
    if (fd < 0)
        return V_CONTINUE;
    struct sockaddr_storage ss;
    socklen_t l = sizeof ss;
    int rc = peer ? sys_getpeername(fd, &ss, &l) : sys_getsockname(fd, &ss, &l);
    if (rc < 0)
        return answer(c, -errno);
    if (ss.ss_family == AF_UNIX && s->cfg.mode == PS_MODE_UNIX) {
        struct sockaddr_storage in;
        socklen_t il;
        if (unix_inet_name(s, fd, peer, &in, &il)) {
            ss = in;
            l = il;
        }
    }
    struct ps_addr a;
    uint16_t port;
    if (ps_addr_from_sockaddr((struct sockaddr *)&ss, l, &a, &port) == 0 && port) {
        refresh(s);
        const struct ps_entry *en = ps_ns_by_real(&s->ms.ns, &a, port, peer);
        if (en && op_alive(s, en))
            ps_sockaddr_set_port((struct sockaddr *)&ss, en->vport);
    }
    socklen_t n = want < l ? want : l;
    if (!id_valid(c->lfd, c->n->id))
        return V_DROP;
    if ((n && mem_write(c->tid, aptr, &ss, n) < 0) || mem_write(c->tid, lptr, &l, sizeof l) < 0)
        return answer(c, -EFAULT);
    return answer(c, 0);
}

static void remember(struct ps_supervisor *s, const struct ident *idn, long long val, int nfd,
                     const struct sockaddr_storage *peer, socklen_t plen)
{
    unsigned i = s->next_replay++ % MAX_REPLAY;
    if (s->replay[i].expires_ms && s->replay[i].nfd >= 0)
        close(s->replay[i].nfd);
    s->replay[i].idn = *idn;
    s->replay[i].val = val;
    s->replay[i].nfd = nfd;
    if (peer)
        s->replay[i].peer = *peer;
    s->replay[i].plen = peer ? plen : 0;
    s->replay[i].expires_ms = now_ms() + 5000;
}

/* The remembered answer of a restarted call, taken (-1: none). */
static int replay_find(struct ps_supervisor *s, const struct ident *idn)
{
    long now = now_ms();
    for (int i = 0; i < MAX_REPLAY; i++) {
        if (!s->replay[i].expires_ms)
            continue;
        if (s->replay[i].expires_ms < now) {
            if (s->replay[i].nfd >= 0)
                close(s->replay[i].nfd);
            s->replay[i].expires_ms = 0;
            continue;
        }
        if (!memcmp(&s->replay[i].idn, idn, sizeof *idn))
            return i;
    }
    return -1;
}

static void send_resp_as(struct ps_supervisor *s, int lfd, uint64_t id, const struct ident *idn,
                         enum verdict v, long long val)
{
    memset(s->resp, 0, s->resp_size);
    s->resp->id = id;
    if (v == V_CONTINUE) {
        s->resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    } else if (val < 0) {
        s->resp->error = (int)val;
    } else {
        s->resp->val = val;
    }
    /* ENOENT: the target is gone, or a signal took the call back after
     * the supervisor acted: remembered for its restart. */
    if (ioctl(lfd, SECCOMP_IOCTL_NOTIF_SEND, s->resp) < 0 && errno == ENOENT && idn &&
        v == V_ANSWER)
        remember(s, idn, val, -1, NULL, 0);
}

/* Answers a restarted call from replay entry r: its value, or (accept)
 * the connection taken for it, handed in now (the peer written again). */
static enum verdict replay_answer(struct call *c, int r)
{
    struct ps_supervisor *s = c->s;
    int nfd = s->replay[r].nfd;
    long long val = s->replay[r].val;
    s->replay[r].expires_ms = 0;
    if (nfd < 0)
        return answer(c, val);
    struct cctx x;
    memset(&x, 0, sizeof x);
    x.lfd = c->lfd;
    x.id = c->n->id;
    x.tid = c->tid;
    x.idn = *c->idn;
    x.aptr = c->n->data.args[1];
    x.lptr = c->n->data.args[2];
    x.aflags = c->n->data.nr == __NR_accept4 ? (int)c->n->data.args[3] : 0;
    if (x.aptr && mem_read(c->tid, &x.want, x.lptr, sizeof x.want) < 0) {
        close(nfd);
        return answer(c, -EFAULT);
    }
    enum verdict v = hand_in(s, &x, nfd, &s->replay[r].peer, s->replay[r].plen);
    c->val = x.val;
    return v;
}

static void handle(struct ps_supervisor *s, int lfd)
{
    memset(s->req, 0, s->req_size);
    if (ioctl(lfd, SECCOMP_IOCTL_NOTIF_RECV, s->req) < 0)
        return;
    const struct seccomp_notif *n = s->req;
    uint64_t id = n->id;
    struct call c = {.s = s, .lfd = lfd, .n = n, .tid = (int)n->pid, .sock = -1};
    enum verdict v = V_CONTINUE;
    int tgid;
    long euid = -1;   /* read for a bind's record only (do_bind) */
    /* The task's thread group is found before anything else, and believed
     * only if the notification is still valid afterwards: its pid is then
     * still that task's. */
    if ((tgid = task_tgid(s, c.tid)) < 0 || !id_valid(lfd, id)) {
        v = V_DROP;
        goto out;
    }
    c.p = proc_get(s, tgid);
    if (c.p->preloaded)
        goto out;
    struct ident idn = {.tid = c.tid, .nr = n->data.nr};
    memcpy(idn.args, n->data.args, sizeof idn.args);
    c.idn = &idn;
    /* A call restarted after a signal: the answer it lost, or the wait it
     * left (a connect under way, an accept), now on behalf of this one. */
    int r = replay_find(s, &idn);
    if (r >= 0) {
        v = replay_answer(&c, r);
        goto out;
    }
    for (int i = 0; i < s->np; i++)
        if (!memcmp(&s->pend[i].x.idn, &idn, sizeof idn)) {
            s->pend[i].x.id = id;
            v = V_LATER;
            goto out;
        }
    switch (n->data.nr) {
    case __NR_bind:
        v = do_bind(&c, euid);
        break;
    case __NR_listen:
        v = do_listen(&c, euid);
        break;
    case __NR_connect:
        v = do_connect(&c, euid);
        break;
    case __NR_getsockname:
        v = do_name(&c, false);
        break;
    case __NR_getpeername:
        v = do_name(&c, true);
        break;
    case __NR_getsockopt:
        v = do_sockopt(&c, false);
        break;
    case __NR_setsockopt:
        v = do_sockopt(&c, true);
        break;
    case __NR_accept:
    case __NR_accept4:
        v = do_accept(&c, n->data.nr == __NR_accept4);
        break;
    default:
        break;
    }
out:
    if (c.sock >= 0)
        close(c.sock);
    if (v == V_CONTINUE || v == V_ANSWER)
        send_resp_as(s, lfd, id, c.idn, v, c.val);
}

static void drop_pending(struct ps_supervisor *s, int i)
{
    struct pending *p = &s->pend[i];
    if (p->x.sock >= 0)
        close(p->x.sock);
    close(p->x.lfd);
    s->pend[i] = s->pend[--s->np];
}

/* A pending connect's time has come: its delay passed (DELAY), or its
 * socket is writable or TCP's time is up (WAIT). */
static void finish_pending(struct ps_supervisor *s, int i, bool timed_out)
{
    struct pending *p = &s->pend[i];
    if (p->phase == P_DELAY) {
        struct cctx x = p->x;
        if (!id_valid(x.lfd, x.id)) {
            drop_pending(s, i);   /* its process is gone */
            return;
        }
        enum verdict v = connect_go(s, &x);
        if (v == V_CONTINUE || v == V_ANSWER)
            send_resp_as(s, x.lfd, x.id, &x.idn, v, x.val);
        /* Parked again (WAIT): x's socket went with it; the dup of the
         * listener here is this entry's own. */
        p->x.sock = x.sock;
        drop_pending(s, i);
        return;
    }
    if (p->phase == P_ACCEPT) {
        if (!id_valid(p->x.lfd, p->x.id)) {
            drop_pending(s, i);
            return;
        }
        enum verdict v = timed_out ? V_LATER : accept_try(s, &p->x, true);
        if (v == V_LATER) {
            p->deadline_ms = now_ms() + 1000;
            return;
        }
        if (v == V_ANSWER)
            send_resp_as(s, p->x.lfd, p->x.id, &p->x.idn, v, p->x.val);
        drop_pending(s, i);
        return;
    }
    int err = 0;
    socklen_t l = sizeof err;
    if (timed_out)
        err = ETIMEDOUT;
    else if (sys_getsockopt(p->x.sock, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
        err = errno;
    fcntl(p->x.sock, F_SETFL, p->fl);
    be_who(s, &p->x);
    connect_done(s, &p->ev, err ? -1 : 0, err, &p->x.inj);
    send_resp_as(s, p->x.lfd, p->x.id, &p->x.idn, V_ANSWER, err ? -err : 0);
    drop_pending(s, i);
}

/* ---- attaching ----------------------------------------------------------- */

static bool peer_trusted(int c)
{
    struct ucred cr;
    socklen_t l = sizeof cr;
    if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &l) < 0)
        return false;
    /* The run's own user, root, or the user it shares the namespace with. */
    return cr.uid == getuid() || cr.uid == 0 ||
           (long)cr.uid == (long)strtol(getenv("PORTSHIM_SHARE_UID") ? getenv("PORTSHIM_SHARE_UID")
                                                                       : "-1", NULL, 10);
}

static void take_listener(struct ps_supervisor *s)
{
    int c = accept4(s->lsock, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0)
        return;
    struct timeval tv = {2, 0};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    /* What to trap (attach.c): unix mode's sockets answer TCP's options. */
    char hello = s->cfg.mode == PS_MODE_UNIX ? 'O' : 'S';
    if (write(c, &hello, 1) != 1) {
        close(c);
        return;
    }
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    char byte;
    struct iovec iov = {&byte, 1};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                        .msg_controllen = sizeof u.buf};
    ssize_t n = recvmsg(c, &mh, MSG_CMSG_CLOEXEC);
    int fd = -1;
    struct cmsghdr *cm = n == 1 ? CMSG_FIRSTHDR(&mh) : NULL;
    if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
        cm->cmsg_len == CMSG_LEN(sizeof(int)))
        memcpy(&fd, CMSG_DATA(cm), sizeof fd);
    if (fd >= 0 && (!peer_trusted(c) || s->nl == MAX_LISTENERS)) {
        cli_log(PS_LOG_WARN, "supervisor: refused a process's listener (%s)",
                s->nl == MAX_LISTENERS ? "too many attached process trees" : "another user");
        close(fd);
        fd = -1;
    }
    if (fd >= 0) {
        /* Older kernels say EINVAL: the ordinary wake-up then. */
        (void)ioctl(fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
        s->listeners[s->nl++] = fd;
        byte = 'A';
        ssize_t w = write(c, &byte, 1);
        (void)w;
    }
    close(c);
}

static void *loop(void *arg)
{
    struct ps_supervisor *s = arg;
    struct pollfd pf[2 + MAX_LISTENERS + MAX_PENDING + MAX_PROCS];
    int pidx[MAX_PROCS];
    for (;;) {
        int n = 0;
        pf[n++] = (struct pollfd){.fd = s->wake[0], .events = POLLIN};
        pf[n++] = (struct pollfd){.fd = s->lsock, .events = POLLIN};
        for (int i = 0; i < s->nl; i++)
            pf[n++] = (struct pollfd){.fd = s->listeners[i], .events = POLLIN};
        for (int i = 0; i < s->np; i++)
            pf[n++] = (struct pollfd){.fd = s->pend[i].phase == P_DELAY ? -1 : s->pend[i].x.sock,
                                      .events = s->pend[i].phase == P_ACCEPT ? POLLIN : POLLOUT};
        int base = n, nw = 0;
        for (int i = 0; i < MAX_PROCS; i++)
            if (s->procs[i].holds && s->procs[i].pidfd >= 0) {
                pidx[nw++] = i;
                pf[n++] = (struct pollfd){.fd = s->procs[i].pidfd, .events = POLLIN};
            }
        long timeout = -1;
        long now = now_ms();
        for (int i = 0; i < s->np; i++) {
            long left = s->pend[i].deadline_ms - now;
            if (timeout < 0 || left < timeout)
                timeout = left < 0 ? 0 : left;
        }
        int r = poll(pf, (nfds_t)n, (int)(timeout > INT_MAX ? INT_MAX : timeout));
        if (r < 0 && errno != EINTR)
            break;
        if (pf[0].revents)
            break;
        if (pf[1].revents & POLLIN)
            take_listener(s);
        for (int i = 0; i < nw; i++)
            if (pf[base + i].revents)
                proc_exited(s, &s->procs[pidx[i]]);
        /* Pending connects first, from the end (finishing one moves the last). */
        now = now_ms();
        int nl = s->nl, np = s->np;
        for (int i = np - 1; i >= 0; i--) {
            short re = pf[2 + nl + i].revents;
            if (i < s->np && (re || s->pend[i].deadline_ms <= now))
                finish_pending(s, i, !re);
        }
        for (int i = nl - 1; i >= 0; i--) {
            short re = pf[2 + i].revents;
            if (re & POLLIN) {
                handle(s, s->listeners[i]);
            } else if (re & (POLLHUP | POLLERR | POLLNVAL)) {
                /* Every process of that tree is gone. */
                close(s->listeners[i]);
                s->listeners[i] = s->listeners[--s->nl];
            }
        }
    }
    return NULL;
}

/* ---- start and stop -------------------------------------------------------- */

static const char *env_get(const char *name) { return getenv(name); }

static void sup_free(struct ps_supervisor *s)
{
    if (s->lsock >= 0)
        close(s->lsock);
    if (s->path[0])
        unlink(s->path);
    if (s->own_dir[0])
        rmdir(s->own_dir);
    for (int i = 0; i < s->nl; i++)
        close(s->listeners[i]);
    while (s->np)
        drop_pending(s, s->np - 1);
    for (int i = 0; i < MAX_REPLAY; i++)
        if (s->replay[i].expires_ms && s->replay[i].nfd >= 0)
            close(s->replay[i].nfd);
    for (int i = 0; i < MAX_SWAPPED; i++)
        ps_opts_unref(s->swapped[i].opts);
    for (int i = 0; i < MAX_PROCS; i++) {
        if (s->procs[i].pidfd >= 0)
            close(s->procs[i].pidfd);
        free(s->procs[i].cnt);
    }
    if (s->wake[0] >= 0) {
        close(s->wake[0]);
        close(s->wake[1]);
    }
    if (s->mfd >= 0)
        close(s->mfd);
    if (s->ms_ready)
        ps_ms_free(&s->ms);
    free(s->req);
    free(s->resp);
    free(s);
}

struct ps_supervisor *ps_supervise_start(const char *dir, bool dir_private)
{
    const char *why = ps_seccomp_unavailable();
    if (why) {
        cli_log(PS_LOG_DEBUG, "no seccomp supervisor: %s", why);
        return NULL;
    }
    struct ps_supervisor *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->lsock = s->mfd = s->wake[0] = s->wake[1] = -1;
    for (int i = 0; i < MAX_PROCS; i++)
        s->procs[i].pidfd = -1;
    char err[PS_PATH_MAX + 200];
    if (ps_config_load(&s->cfg, env_get, err, sizeof err)) {
        cli_log(PS_LOG_ERROR, "supervisor: %s", err);
        goto fail;
    }
    struct seccomp_notif_sizes sz;
    if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sz) < 0)
        goto fail;
    s->req_size = sz.seccomp_notif > sizeof *s->req ? sz.seccomp_notif : sizeof *s->req;
    s->resp_size = sz.seccomp_notif_resp > sizeof *s->resp ? sz.seccomp_notif_resp
                                                           : sizeof *s->resp;
    s->req = calloc(1, s->req_size);
    s->resp = calloc(1, s->resp_size);
    if (!s->req || !s->resp)
        goto fail;
    s->mfd = open(s->cfg.manifest, O_RDWR | O_APPEND | O_CLOEXEC);
    if (s->mfd < 0) {
        cli_log(PS_LOG_ERROR, "supervisor: cannot open manifest %s: %s", s->cfg.manifest,
                strerror(errno));
        goto fail;
    }
    ps_ms_init(&s->ms, &s->cfg, s->mfd);
    s->ms_ready = true;
    s->sess.cfg = &s->cfg;
    s->sess.table = &s->ms.ns;
    s->sess.ops = &sup_ops;
    s->sess.ctx = s;
    s->sess.proc = &s->who;
    s->who.uid = -1;
    /* The socket: in the run's own private directory when the name fits,
     * else in a private directory of its own. */
    struct sockaddr_un su = {.sun_family = AF_UNIX};
    /* Named by the run's pid: runs joining one --manifest share its
     * directory, each with a supervisor of its own. */
    if (!dir_private || (size_t)snprintf(s->path, sizeof s->path, "%s/" SUP_SOCK_NAME ".%d", dir,
                                         (int)getpid()) >=
                            sizeof su.sun_path) {
        const char *tmp = getenv("TMPDIR");
        snprintf(s->own_dir, sizeof s->own_dir, "%s/portshim-sup.XXXXXX",
                 tmp && *tmp && strlen(tmp) < 60 ? tmp : "/tmp");
        if (!mkdtemp(s->own_dir)) {
            cli_log(PS_LOG_ERROR, "supervisor: cannot make a directory for its socket: %s",
                    strerror(errno));
            s->own_dir[0] = 0;
            s->path[0] = 0;
            goto fail;
        }
        snprintf(s->path, sizeof s->path, "%s/" SUP_SOCK_NAME ".%d", s->own_dir, (int)getpid());
    }
    memcpy(su.sun_path, s->path, strlen(s->path) + 1);
    s->lsock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->lsock < 0 || bind(s->lsock, (struct sockaddr *)&su, sizeof su) < 0 ||
        listen(s->lsock, 128) < 0) {
        cli_log(PS_LOG_ERROR, "supervisor: cannot listen on %s: %s", s->path, strerror(errno));
        if (s->lsock >= 0 && errno == EADDRINUSE)
            s->path[0] = 0;   /* not ours to remove */
        goto fail;
    }
    if (pipe2(s->wake, O_CLOEXEC) < 0 || setenv(PS_SUPERVISOR_ENV, s->path, 1) < 0)
        goto fail;
    if (pthread_create(&s->th, NULL, loop, s)) {
        unsetenv(PS_SUPERVISOR_ENV);
        goto fail;
    }
    s->started = true;
    return s;
fail:
    sup_free(s);
    return NULL;
}

void ps_supervise_stop(struct ps_supervisor *s)
{
    if (!s)
        return;
    if (s->started) {
        ssize_t w = write(s->wake[1], "x", 1);
        (void)w;
        pthread_join(s->th, NULL);
    }
    sup_free(s);
}
